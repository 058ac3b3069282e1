package runnerit

import (
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// approval waits for a person's answer, then ships only if it says yes.
const approval = `{"name": "approval", "trigger": {"type": "manual"}, "steps": [
  {"id": "approve", "type": "wait_for_signal", "with": {"timeoutSeconds": %s}},
  {"id": "approved", "type": "condition", "with": {"jq": ".steps.approve.output.approved == true"}, "else": "end"},
  {"id": "ship", "type": "transform", "with": {"jq": "{shipped: .input.order, by: .steps.approve.output.by}"}}]}`

func approvalFlow(timeoutSeconds string) string {
	return strings.Replace(approval, "%s", timeoutSeconds, 1)
}

// waitingStep polls the run until its step is waiting with a signalUrl,
// and answers that step.
func (a api) waitingStep(t *testing.T, runID, stepID string) map[string]any {
	t.Helper()
	var step map[string]any
	waitFor(t, func() bool {
		run := a.mustData(t, 200, "GET", "/runs/"+runID, "")
		s, ok := stepsOf(run)[stepID]
		if !ok || run["status"] != "waiting" || s["status"] != "waiting" || s["signalUrl"] == nil {
			return false
		}
		step = s
		return true
	})
	return step
}

// TestAnApprovalFlowIsSignalledByTheAPIAndByItsURL: one run is approved
// through POST /runs/{id}/signals/{stepId} with a key, another through its
// step's signalUrl with none; a second signal is a conflict that keeps the
// first one's data, a used URL is 404, and a signal changes no other run.
func TestAnApprovalFlowIsSignalledByTheAPIAndByItsURL(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, approvalFlow("3600"))
	byAPI := a.run(t, wf, `{"order": "A-1"}`)
	byURL := a.run(t, wf, `{"order": "B-2"}`)
	first := a.waitingStep(t, byAPI, "approve")
	second := a.waitingStep(t, byURL, "approve")
	url, _ := first["signalUrl"].(string)
	if !strings.HasPrefix(url, a.env.URL+"/api/v1/signals/") || first["expiresAt"] == nil || first["nextAttemptAt"] != nil {
		t.Fatalf("waiting step %s: want a signalUrl on this gateway, an expiresAt, no nextAttemptAt", jsonOf(first))
	}
	if second["signalUrl"] == url {
		t.Fatal("two runs were given the same signalUrl")
	}

	// Another account cannot see the run to signal it; a key without
	// workflows:execute may not signal at all.
	other, _ := a.env.MustKey(t, "acct_other_signal")
	if r := gatewaytest.Call(t, "POST", a.env.URL+"/api/v1/runs/"+byAPI+"/signals/approve", other, "application/json", []byte(`{"data": {"approved": false}}`)); r.Status != 404 {
		t.Errorf("another account's signal: %d %s, want 404", r.Status, r.Body)
	}
	reader, _ := a.env.MustKey(t, "acct_it", domain.ScopeRunsRead)
	if r := gatewaytest.Call(t, "POST", a.env.URL+"/api/v1/runs/"+byAPI+"/signals/approve", reader, "application/json", []byte(`{}`)); r.Status != 403 {
		t.Errorf("a key without workflows:execute: %d %s, want 403", r.Status, r.Body)
	}
	for _, bad := range []string{`{"data": 1, "extra": 2}`, `[]`, `{"data": }`} {
		if r := a.call(t, "POST", "/runs/"+byAPI+"/signals/approve", bad); r.Status != 400 {
			t.Errorf("body %s: %d %s, want 400", bad, r.Status, r.Body)
		}
	}
	if r := a.call(t, "POST", "/runs/"+byAPI+"/signals/nosuchstep", `{}`); r.Status != 404 {
		t.Errorf("a step that never began: %d %s, want 404", r.Status, r.Body)
	}

	// By the API: 200 with the run, its step succeeded with the data.
	r := a.call(t, "POST", "/runs/"+byAPI+"/signals/approve", `{"data": {"approved": true, "by": "ada"}}`)
	if r.Status != 200 {
		t.Fatalf("signal: %d %s", r.Status, r.Body)
	}
	answered := stepsOf(r.Data(t))["approve"]
	if answered["status"] != "succeeded" || jsonOf(answered["output"]) != `{"approved":true,"by":"ada"}` || answered["signalledAt"] == nil || answered["signalUrl"] != nil {
		t.Errorf("the answer's step %s: want succeeded with the data, signalledAt, no signalUrl", jsonOf(answered))
	}
	again := a.call(t, "POST", "/runs/"+byAPI+"/signals/approve", `{"data": {"approved": false, "by": "eve"}}`)
	if again.Status != 409 || !strings.Contains(string(again.Body), "already signalled") {
		t.Errorf("a second signal: %d %s, want 409 saying it was signalled", again.Status, again.Body)
	}
	run := a.finished(t, byAPI)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != `{"by":"ada","shipped":"A-1"}` {
		t.Fatalf("run %s, want succeeded with the first signal's data", jsonOf(run))
	}
	// The other run was not touched by this one's signal.
	if still := a.waitingStep(t, byURL, "approve"); still["signalUrl"] != second["signalUrl"] {
		t.Errorf("the other run's step changed: %s", jsonOf(still))
	}

	// By the URL, with no key at all.
	token := second["signalUrl"].(string)
	res := gatewaytest.Call(t, "POST", token, "", "application/json", []byte(`{"data": {"approved": true, "by": "grace"}}`))
	if res.Status != 200 {
		t.Fatalf("signal by URL: %d %s", res.Status, res.Body)
	}
	if d := res.Data(t); d["runId"] != byURL || d["stepId"] != "approve" || d["status"] != "succeeded" || d["signalledAt"] == nil {
		t.Errorf("signal by URL answered %s", res.Body)
	}
	if res.Header.Get("X-RateLimit-Limit") == "" || res.Header.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("the signalUrl answered without the per-IP limit's headers: %v", res.Header)
	}
	if used := gatewaytest.Call(t, "POST", token, "", "application/json", []byte(`{"data": {"approved": false}}`)); used.Status != 404 {
		t.Errorf("a used signalUrl: %d %s, want 404", used.Status, used.Body)
	}
	run = a.finished(t, byURL)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != `{"by":"grace","shipped":"B-2"}` {
		t.Fatalf("run %s, want succeeded with the URL's data", jsonOf(run))
	}
	for _, garbage := range []string{"nope", strings.Repeat("A", 43), strings.Repeat("A", 200)} {
		if r := gatewaytest.Call(t, "POST", a.env.URL+"/api/v1/signals/"+garbage, "", "application/json", []byte(`{}`)); r.Status != 404 {
			t.Errorf("token %q: %d %s, want 404", garbage, r.Status, r.Body)
		}
	}
}

// TestASignalWaitSurvivesAKillAndTimesOutAfterARestart kills the local
// gateway with SIGKILL while two runs wait for their signal. After the
// restart, the first one's signalUrl (shown before the kill) completes it,
// and the second, never signalled, fails with SIGNAL_TIMEOUT at its expiry,
// after which its signalUrl is 404.
func TestASignalWaitSurvivesAKillAndTimesOutAfterARestart(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_signal_kill").Plaintext
	g.start(t)
	call := g.caller(t, key)
	patient := call("POST", "/workflows", approvalFlow("3600"))["id"].(string)
	hasty := call("POST", "/workflows", approvalFlow("60"))["id"].(string)
	signalled := call("POST", "/workflows/"+patient+"/run", `{"input": {"order": "K-9"}}`)["id"].(string)
	unsignalled := call("POST", "/workflows/"+hasty+"/run", `{"input": {"order": "T-0"}}`)["id"].(string)
	urls := map[string]string{}
	for _, runID := range []string{signalled, unsignalled} {
		waitFor(t, func() bool {
			run := call("GET", "/runs/"+runID, "")
			url, _ := stepsOf(run)["approve"]["signalUrl"].(string)
			urls[runID] = url
			return run["status"] == "waiting" && url != ""
		})
	}
	g.kill9(t)

	g.start(t)
	r := callURL(t, "POST", urls[signalled], "", `{"data": {"approved": true, "by": "after the crash"}}`)
	if r.Status != 200 {
		t.Fatalf("the signalUrl after the restart: %d %s", r.Status, r.Body)
	}
	run := finishedVia(t, call, signalled)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != `{"by":"after the crash","shipped":"K-9"}` {
		t.Fatalf("run %s, want succeeded with the signal given after the restart", jsonOf(run))
	}
	// Its minute is real time: polled gently, under the read limit.
	for range 240 {
		if run = call("GET", "/runs/"+unsignalled, ""); run["status"] != "waiting" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if run["status"] != "failed" || jsonOf(run["error"].(map[string]any)["code"]) != `"SIGNAL_TIMEOUT"` {
		t.Fatalf("run %s, want failed with SIGNAL_TIMEOUT", jsonOf(run))
	}
	if step := stepsOf(run)["approve"]; step["status"] != "failed" || step["signalUrl"] != nil {
		t.Errorf("timed-out step %s: want failed, no signalUrl", jsonOf(step))
	}
	if r := callURL(t, "POST", urls[unsignalled], "", `{}`); r.Status != 404 {
		t.Errorf("an expired signalUrl: %d %s, want 404", r.Status, r.Body)
	}
}
