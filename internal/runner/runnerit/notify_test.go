package runnerit

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// receiver is a notify URL on 127.0.0.1 as a careful user writes one: it
// verifies each POST's signature (any of its v1 values, as during a roll),
// and detects a replayed event by its id. fail says how many times in a
// row it answers an event 500 (with Retry-After: 1) before 200: an event
// it has seen again is a replay it acknowledges without acting twice.
type receiver struct {
	*target
	secret string
	fail   int

	mu       sync.Mutex
	events   []receivedEvent
	seen     map[string]int
	replays  int
	badSigs  int
	acted    map[string]int // events acted on, per id: at most once each
	statuses map[string][]int
}

type receivedEvent struct {
	ID, Type, IdempotencyKey string
	RunID, RunStatus         string
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail, seen: map[string]int{}, acted: map[string]int{}, statuses: map[string][]int{}}
	rc.target = newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if !verifiesWithAny(r.Header.Get(webhooks.SignatureHeader), rc.secret, body) {
			rc.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var event struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.events = append(rc.events, receivedEvent{event.ID, event.Type, r.Header.Get("Idempotency-Key"), event.Data.ID, event.Data.Status})
		rc.seen[event.ID]++
		if rc.seen[event.ID] > 1 {
			rc.replays++ // seen before: a redelivery, not acted on again
		} else {
			rc.acted[event.ID]++
		}
		if rc.seen[event.ID] <= rc.fail {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusInternalServerError)
			rc.statuses[event.ID] = append(rc.statuses[event.ID], 500)
			return
		}
		rc.statuses[event.ID] = append(rc.statuses[event.ID], 200)
		w.WriteHeader(http.StatusNoContent)
	})
	return rc
}

// verifiesWithAny checks an X-Webhook-Signature of t and one or more v1
// against secret: one v1 must match.
func verifiesWithAny(header, secret string, body []byte) bool {
	parts := strings.Split(header, ",")
	if len(parts) < 2 || secret == "" {
		return false
	}
	for _, v1 := range parts[1:] {
		sig, err := webhooks.ParseSignatureHeader(parts[0] + "," + v1)
		if err == nil && sig.Matches([]byte(secret), body) {
			return true
		}
	}
	return false
}

func (rc *receiver) snapshot() (events []receivedEvent, replays, badSigs int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedEvent(nil), rc.events...), rc.replays, rc.badSigs
}

// notifyFlow waits a second (run.waiting), then ends as fail says.
func notifyFlow(url, events string, fail bool) string {
	last := `{"id": "done", "type": "transform", "with": {"jq": "{ok: true}"}}`
	if fail {
		last = `{"id": "done", "type": "transform", "with": {"jq": "error(\"no\")"}}`
	}
	return `{"name": "notified", "trigger": {"type": "manual"},
	  "notify": {"url": "` + url + `", "events": ` + events + `},
	  "steps": [{"id": "pause", "type": "delay", "with": {"seconds": 1}}, ` + last + `]}`
}

// notifications polls GET /runs/{id} until no event of the run is pending,
// and answers the run.
func (a api) notified(t *testing.T, runID string) map[string]any {
	t.Helper()
	var run map[string]any
	waitFor(t, func() bool {
		run = a.mustData(t, 200, "GET", "/runs/"+runID, "")
		list, _ := run["notifications"].([]any)
		if len(list) == 0 {
			return false
		}
		for _, n := range list {
			if n.(map[string]any)["status"] == "pending" {
				return false
			}
		}
		return true
	})
	return run
}

// TestNotificationsAreSignedRetriedAndDeliveredOnce: a workflow notifies a
// receiver that fails each event once (500, Retry-After: 1): every event
// of a run that waits then succeeds, and of one that fails, arrives
// signed with the secret shown on create, with its id as Idempotency-Key,
// is retried after the 500 and delivered by the 200; the receiver sees the
// replay by its id and acts on each event once; GET /runs/{id} shows each
// delivery; the run's status is the run's own.
func TestNotificationsAreSignedRetriedAndDeliveredOnce(t *testing.T) {
	a := start(t)
	rc := newReceiver(t, 1)
	created := a.mustData(t, 201, "POST", "/workflows", notifyFlow(rc.URL+"/hooks", `["run.waiting", "run.succeeded", "run.failed"]`, false))
	secret, _ := created["notifySecret"].(string)
	if !strings.HasPrefix(secret, "nsec_") {
		t.Fatalf("create answered notifySecret %q, want the secret shown once", secret)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	if again := a.mustData(t, 200, "GET", "/workflows/"+created["id"].(string), ""); again["notifySecret"] != nil {
		t.Error("a read of the workflow shows its notification secret")
	}
	failing := a.workflow(t, notifyFlow(rc.URL+"/hooks", `["run.failed"]`, true))
	_ = failing // its secret is its own: shown on its create, not kept here

	ok := a.run(t, created["id"].(string), `{}`)
	run := a.notified(t, ok)
	if run["status"] != "succeeded" {
		t.Fatalf("run %s, want succeeded", jsonOf(run))
	}
	list := run["notifications"].([]any)
	if len(list) != 2 {
		t.Fatalf("notifications %s, want run.waiting and run.succeeded", jsonOf(list))
	}
	for i, want := range []string{"run.waiting", "run.succeeded"} {
		n := list[i].(map[string]any)
		if n["type"] != want || n["status"] != "delivered" || n["attempts"] != float64(2) || n["lastResponseStatus"] != float64(204) ||
			n["deliveredAt"] == nil || n["nextAttemptAt"] != nil || !strings.HasPrefix(n["id"].(string), "evt_") {
			t.Errorf("notification %d: %s, want %s delivered on the 2nd attempt", i, jsonOf(n), want)
		}
	}
	events, replays, badSigs := rc.snapshot()
	if badSigs != 0 {
		t.Errorf("%d POSTs whose signature did not verify", badSigs)
	}
	if len(events) != 4 || replays != 2 {
		t.Fatalf("received %d POSTs, %d replays; want 4 (each of 2 events twice) and 2", len(events), replays)
	}
	for _, e := range events {
		if e.IdempotencyKey != e.ID || e.RunID != ok {
			t.Errorf("event %+v: want its id as Idempotency-Key and the run as data", e)
		}
	}
	rc.mu.Lock()
	for id, n := range rc.acted {
		if n != 1 {
			t.Errorf("event %s acted on %d times", id, n)
		}
	}
	rc.mu.Unlock()

	// The other workflow's secret is not this one's: its events fail the
	// receiver's check (401), are retried, and never change its run.
	bad := a.run(t, failing, `{}`)
	failed := a.finished(t, bad)
	if failed["status"] != "failed" {
		t.Fatalf("run %s, want failed", jsonOf(failed))
	}
	waitFor(t, func() bool {
		run := a.mustData(t, 200, "GET", "/runs/"+bad, "")
		list, _ := run["notifications"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["attempts"] == float64(1)
	})
	n := a.mustData(t, 200, "GET", "/runs/"+bad, "")
	if note := n["notifications"].([]any)[0].(map[string]any); note["status"] != "pending" || note["lastResponseStatus"] != float64(401) ||
		note["nextAttemptAt"] == nil || note["lastError"] == nil || n["status"] != "failed" {
		t.Errorf("an undelivered event: %s (run %s), want pending with its next attempt and the 401, the run still failed", jsonOf(note), n["status"])
	}
}

// TestACancelledWaitingRunIsNotifiedAndAPrivateURLIsRefused: a run
// cancelled while it waits (its driving stopped) still sends
// run.cancelled; a notify URL the outbound policy refuses (a private
// address, in the loopback-only mode) fails at once, sending nothing.
func TestACancelledWaitingRunIsNotifiedAndAPrivateURLIsRefused(t *testing.T) {
	a := start(t)
	rc := newReceiver(t, 0)
	created := a.mustData(t, 201, "POST", "/workflows", `{"name": "long wait", "trigger": {"type": "manual"},
	  "notify": {"url": "`+rc.URL+`/hooks", "events": ["run.cancelled"]},
	  "steps": [{"id": "pause", "type": "delay", "with": {"seconds": 3600}}]}`)
	rc.mu.Lock()
	rc.secret = created["notifySecret"].(string)
	rc.mu.Unlock()
	runID := a.run(t, created["id"].(string), `{}`)
	waitFor(t, func() bool { return a.mustData(t, 200, "GET", "/runs/"+runID, "")["status"] == "waiting" })
	if r := a.call(t, "POST", "/runs/"+runID+"/cancel", ""); r.Status != 200 && r.Status != 202 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	run := a.notified(t, runID)
	if note := run["notifications"].([]any)[0].(map[string]any); run["status"] != "cancelled" || note["type"] != "run.cancelled" || note["status"] != "delivered" {
		t.Fatalf("run %s: want cancelled, its run.cancelled delivered", jsonOf(run))
	}
	if events, _, _ := rc.snapshot(); len(events) != 1 || events[0].RunStatus != "cancelled" {
		t.Errorf("received %+v, want one run.cancelled", events)
	}

	private := a.workflow(t, `{"name": "private", "trigger": {"type": "manual"},
	  "notify": {"url": "https://10.1.2.3/hooks", "events": ["run.succeeded"]},
	  "steps": [{"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	refused := a.notified(t, a.run(t, private, `{}`))
	note := refused["notifications"].([]any)[0].(map[string]any)
	if refused["status"] != "succeeded" || note["status"] != "failed" || note["attempts"] != float64(1) ||
		note["lastError"].(map[string]any)["code"] != "TARGET_REFUSED" {
		t.Errorf("a private notify URL: %s, want failed TARGET_REFUSED after one attempt, the run succeeded", jsonOf(refused))
	}
}

// TestAPendingEventSurvivesAKill: the local gateway is killed with
// SIGKILL while a run's event waits for its next attempt; after the
// restart the event is delivered, once acted on.
func TestAPendingEventSurvivesAKill(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_notify_kill").Plaintext
	rc := newReceiver(t, 1)
	g.start(t)
	call := g.caller(t, key)
	created := call("POST", "/workflows", `{"name": "notified", "trigger": {"type": "manual"},
	  "notify": {"url": "`+rc.URL+`/hooks", "events": ["run.succeeded"]},
	  "steps": [{"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	rc.mu.Lock()
	rc.secret = created["notifySecret"].(string)
	rc.mu.Unlock()
	runID := call("POST", "/workflows/"+created["id"].(string)+"/run", `{"input": {}}`)["id"].(string)
	waitFor(t, func() bool { events, _, _ := rc.snapshot(); return len(events) == 1 })
	g.kill9(t)
	time.Sleep(1500 * time.Millisecond) // past the Retry-After: due as the gateway comes back
	g.start(t)
	var run map[string]any
	waitFor(t, func() bool {
		run = call("GET", "/runs/"+runID, "")
		list, _ := run["notifications"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["status"] == "delivered"
	})
	events, replays, _ := rc.snapshot()
	if len(events) != 2 || replays != 1 || run["status"] != "succeeded" {
		t.Errorf("after the restart: %d POSTs, %d replays, run %s; want the event again, detected as a replay", len(events), replays, run["status"])
	}
}
