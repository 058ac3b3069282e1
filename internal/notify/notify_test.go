package notify_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/notify"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// memStore is one run, with revisions: enough for the logic above the
// store (runsdb's own test holds DynamoDB to the same).
type memStore struct {
	mu     sync.Mutex
	run    runs.Run
	writes int
	// race, when set, is written by "another writer" before the next
	// Update, which then loses.
	race func(runs.Run) runs.Run
}

func (s *memStore) Get(_ context.Context, _, _ string) (runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run, nil
}

func (s *memStore) Steps(context.Context, string) ([]runs.Step, error) {
	return []runs.Step{{RunID: s.run.ID, StepID: "a", Status: runs.StepSucceeded, Output: []byte(`{"ok":true}`)}}, nil
}

func (s *memStore) Update(_ context.Context, run runs.Run) (runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.race != nil {
		s.run = s.race(s.run)
		s.run.Revision++
		s.race = nil
	}
	if run.Revision != s.run.Revision {
		return runs.Run{}, runs.ErrRevision
	}
	run.Revision++
	s.run = run
	s.writes++
	return run, nil
}

type fixedSecrets struct {
	secrets []string
	err     error
}

func (f fixedSecrets) SigningSecrets(context.Context, string, string, time.Time) ([]string, error) {
	return f.secrets, f.err
}

// post is one POST a scriptedPoster saw.
type post struct {
	url    string
	header http.Header
	body   []byte
}

// scriptedPoster answers each POST with the next of its answers.
type scriptedPoster struct {
	answers []error
	posts   []post
}

func (p *scriptedPoster) PostEvent(_ context.Context, url string, header http.Header, body []byte) (int, error) {
	p.posts = append(p.posts, post{url, header, body})
	err := p.answers[0]
	if len(p.answers) > 1 {
		p.answers = p.answers[1:]
	}
	if err != nil {
		status := 0
		var se *engine.StepError
		if errors.As(err, &se) && se.Code == engine.CodeHTTPStatus {
			status = 500
		}
		return status, err
	}
	return 200, nil
}

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func endedRun(events ...string) runs.Run {
	run := runs.Run{ID: "run_01jc0000000000000000000000", AccountID: "acct_a", WorkflowID: "wf_01jc0000000000000000000000",
		Status: runs.StatusSucceeded, Revision: 3, CreatedAt: t0, FinishedAt: t0,
		Notify: &runs.NotifyTarget{URL: "https://hooks.example/runs", Events: []string{"run.succeeded"}}}
	for i, e := range events {
		run.Notifications = append(run.Notifications, runs.Notification{
			ID: "evt_0" + string(rune('a'+i)), Type: e, CreatedAt: t0, Status: runs.NotificationPending, NextAttemptAt: t0})
	}
	return run
}

func deliverer(store *memStore, poster *scriptedPoster, now *time.Time, secrets ...string) *notify.Deliverer {
	return notify.New(store, fixedSecrets{secrets: secrets}, poster, notify.Options{
		Now: func() time.Time { return *now }, Jitter: func() float64 { return 0.5 },
	})
}

func TestADeliveredEventIsSignedAndRecorded(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded")}
	poster := &scriptedPoster{answers: []error{nil}}
	now := t0.Add(time.Second)
	secret := "nsec_" + strings.Repeat("A", 43)
	written, err := deliverer(store, poster, &now, secret).Deliver(context.Background(), store.run)
	if err != nil {
		t.Fatal(err)
	}
	if len(poster.posts) != 1 {
		t.Fatalf("posts = %d, want 1", len(poster.posts))
	}
	p := poster.posts[0]
	if p.url != "https://hooks.example/runs" || p.header.Get("Idempotency-Key") != "evt_0a" {
		t.Errorf("url %q, Idempotency-Key %q", p.url, p.header.Get("Idempotency-Key"))
	}
	sig, err := webhooks.ParseSignatureHeader(p.header.Get(webhooks.SignatureHeader))
	if err != nil || !sig.Matches([]byte(secret), p.body) {
		t.Errorf("the signature %q does not verify with the secret (%v)", p.header.Get(webhooks.SignatureHeader), err)
	}
	var body struct {
		ID, Type, CreatedAt string
		Data                struct {
			ID     string
			Status string
			Steps  []struct{ ID string }
		}
	}
	if err := json.Unmarshal(p.body, &body, json.MatchCaseInsensitiveNames(true)); err != nil {
		t.Fatal(err)
	}
	if body.ID != "evt_0a" || body.Type != "run.succeeded" || body.Data.ID != store.run.ID || body.Data.Status != "succeeded" || len(body.Data.Steps) != 1 {
		t.Errorf("body = %s", p.body)
	}
	if strings.Contains(string(p.body), "notifications") {
		t.Errorf("the event's data carries the run's notifications: %s", p.body)
	}
	n := written.Notifications[0]
	if n.Status != runs.NotificationDelivered || n.Attempts != 1 || !n.DeliveredAt.Equal(now) || n.LastResponseStatus != 200 || written.NotificationsPending() {
		t.Errorf("recorded %+v", n)
	}
	if store.run.Status != runs.StatusSucceeded {
		t.Errorf("the run's status changed to %s", store.run.Status)
	}
}

func TestAFailedPostIsRetriedWithBackoffThenGivenUpAfter24Hours(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded")}
	fail := &engine.StepError{Code: engine.CodeHTTPStatus, Message: "the receiver answered 500", Retryable: true}
	poster := &scriptedPoster{answers: []error{fail}}
	now := t0
	d := deliverer(store, poster, &now, "nsec_x")
	ctx := context.Background()
	var waits []time.Duration
	for store.run.NotificationsPending() {
		next := store.run.NextNotificationAt()
		if next.After(now) {
			waits = append(waits, next.Sub(now))
			now = next
		}
		if _, err := d.Deliver(ctx, store.run); err != nil {
			t.Fatal(err)
		}
		if len(waits) > 200 {
			t.Fatal("never given up")
		}
	}
	n := store.run.Notifications[0]
	if n.Status != runs.NotificationFailed || n.LastError == nil || n.LastError.Code != notify.CodeExpired {
		t.Fatalf("after the retries: %+v", n)
	}
	// Equal jitter at 0.5: three quarters of each ceiling, 30 s doubling to
	// an hour.
	want := []time.Duration{22500 * time.Millisecond, 45 * time.Second, 90 * time.Second, 3 * time.Minute}
	for i, w := range want {
		if waits[i] != w {
			t.Errorf("wait %d = %v, want %v", i+1, waits[i], w)
		}
	}
	if last := waits[len(waits)-1]; last > notify.BackoffCap {
		t.Errorf("a wait of %v, over the cap", last)
	}
	if end := n.LastAttemptAt; end.After(t0.Add(notify.Horizon)) || end.Before(t0.Add(notify.Horizon-notify.BackoffCap)) {
		t.Errorf("the last attempt at %v, not in the 24 h horizon's last hour", end)
	}
	if n.Attempts != len(poster.posts) || n.Attempts < 20 {
		t.Errorf("%d attempts recorded, %d posts", n.Attempts, len(poster.posts))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded")}
	poster := &scriptedPoster{answers: []error{&engine.StepError{Code: engine.CodeHTTPStatus, Message: "429", RetryAfter: 7 * time.Second}}}
	now := t0
	written, err := deliverer(store, poster, &now, "nsec_x").Deliver(context.Background(), store.run)
	if err != nil {
		t.Fatal(err)
	}
	if got := written.NextNotificationAt().Sub(now); got != 7*time.Second {
		t.Errorf("next attempt in %v, want the receiver's 7 s", got)
	}
}

func TestARefusedTargetFailsAtOnceAndNothingIsSentUnsigned(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded", "run.succeeded")}
	poster := &scriptedPoster{answers: []error{&engine.StepError{Code: engine.CodeTargetRefused, Message: "a private address"}}}
	now := t0
	written, err := deliverer(store, poster, &now, "nsec_x").Deliver(context.Background(), store.run)
	if err != nil {
		t.Fatal(err)
	}
	if n := written.Notifications[0]; n.Status != runs.NotificationFailed || n.LastError.Code != engine.CodeTargetRefused {
		t.Errorf("refused: %+v", n)
	}

	store = &memStore{run: endedRun("run.succeeded")}
	poster = &scriptedPoster{answers: []error{nil}}
	d := notify.New(store, fixedSecrets{err: domain.ErrNotFound}, poster, notify.Options{Now: func() time.Time { return now }})
	written, err = d.Deliver(context.Background(), store.run)
	if err != nil {
		t.Fatal(err)
	}
	if len(poster.posts) != 0 {
		t.Errorf("%d posts without a secret", len(poster.posts))
	}
	if n := written.Notifications[0]; n.Status != runs.NotificationFailed || n.LastError.Code != notify.CodeNoSecret {
		t.Errorf("no secret: %+v", n)
	}
}

func TestTwoSecretsSignDuringAGracePeriod(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded")}
	poster := &scriptedPoster{answers: []error{nil}}
	now := t0
	if _, err := deliverer(store, poster, &now, "nsec_new", "nsec_old").Deliver(context.Background(), store.run); err != nil {
		t.Fatal(err)
	}
	header := poster.posts[0].header.Get(webhooks.SignatureHeader)
	if strings.Count(header, "v1=") != 2 {
		t.Fatalf("signature %q: want a v1 per secret", header)
	}
	for _, secret := range []string{"nsec_new", "nsec_old"} {
		if !verifiesWithAny(header, secret, poster.posts[0].body) {
			t.Errorf("no v1 of %q verifies", secret)
		}
	}
}

// verifiesWithAny is what a receiver does: the header is t and one or
// more v1; one of them must match.
func verifiesWithAny(header, secret string, body []byte) bool {
	parts := strings.Split(header, ",")
	for _, v := range parts[1:] {
		sig, err := webhooks.ParseSignatureHeader(parts[0] + "," + v)
		if err == nil && sig.Matches([]byte(secret), body) {
			return true
		}
	}
	return false
}

func TestAResultLostToAnotherWriterIsRecordedOnWhatItWrote(t *testing.T) {
	store := &memStore{run: endedRun("run.succeeded")}
	// Meanwhile another writer records the run's output: the delivery's
	// write loses, reads again, and records its result on that.
	store.race = func(r runs.Run) runs.Run { r.Output = []byte(`"kept"`); return r }
	poster := &scriptedPoster{answers: []error{nil}}
	now := t0
	written, err := deliverer(store, poster, &now, "nsec_x").Deliver(context.Background(), store.run)
	if err != nil {
		t.Fatal(err)
	}
	if string(written.Output) != `"kept"` || written.Notifications[0].Status != runs.NotificationDelivered || len(poster.posts) != 1 {
		t.Errorf("after the race: output %s, %+v, %d posts", written.Output, written.Notifications[0], len(poster.posts))
	}
}

func TestNothingDueCostsNothing(t *testing.T) {
	run := endedRun("run.succeeded")
	run.Notifications[0].NextAttemptAt = t0.Add(time.Minute)
	store := &memStore{run: run}
	poster := &scriptedPoster{answers: []error{nil}}
	now := t0
	if _, err := deliverer(store, poster, &now, "nsec_x").Deliver(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if len(poster.posts) != 0 || store.writes != 0 {
		t.Errorf("%d posts, %d writes for an event not due", len(poster.posts), store.writes)
	}
}
