package runner_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// memSignals is runs.SignalStore in memory: the runner's side of a signal
// is what these tests hold; runsdb's items are tested against dynalite.
type memSignals struct {
	mu   sync.Mutex
	refs map[string]runs.SignalRef
}

func (m *memSignals) PutSignal(_ context.Context, ref runs.SignalRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs[ref.Hash] = ref
	return nil
}

func (m *memSignals) Signal(_ context.Context, hash string) (runs.SignalRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.refs[hash]
	if !ok {
		return runs.SignalRef{}, domain.ErrNotFound
	}
	return ref, nil
}

func (m *memSignals) DeleteSignal(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.refs, hash)
	return nil
}

const approvalFlow = `{"name": "approval", "trigger": {"type": "manual"}, "steps": [
	{"id": "approve", "type": "wait_for_signal", "with": {"timeoutSeconds": 3600}%s},
	{"id": "approved", "type": "condition", "with": {"jq": ".steps.approve.output.approved == true"}, "else": "end"},
	{"id": "ship", "type": "transform", "with": {"jq": "{shipped: .steps.approve.output.by}"}}]}`

type signalEnv struct {
	*env
	signals *memSignals
	mac     signaltoken.MAC
	service *runs.Signals
}

func newSignalEnv(t *testing.T, approveExtra string, opts ...func(*runner.Config)) *signalEnv {
	t.Helper()
	mac, err := signaltoken.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	signals := &memSignals{refs: map[string]runs.SignalRef{}}
	opts = append(opts, func(c *runner.Config) { c.Signals, c.SignalMAC = signals, mac })
	e := newEnv(t, strings.Replace(approvalFlow, "%s", approveExtra, 1), opts...)
	service := runs.NewSignals(e.store, signals, nil, runs.Options{Now: e.clock.Now})
	return &signalEnv{env: e, signals: signals, mac: mac, service: service}
}

func (e *signalEnv) token(t *testing.T) string {
	t.Helper()
	st := e.stepStatus(t, "approve")
	token, err := signaltoken.Token(context.Background(), e.mac, "acct", e.runID, "approve", st.SignalNonce)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestASignalWaitParksTheRunAndItsSignalIsTheStepsOutput(t *testing.T) {
	e := newSignalEnv(t, "")
	d := e.advance(t)
	if d.Done || !d.WaitForEvent || d.WaitSeconds != 3600 {
		t.Fatalf("decision %+v: want the run parked on the signal for its timeout", d)
	}
	st := e.stepStatus(t, "approve")
	if st.Status != runs.StepWaiting || !st.SignalExpiresAt.Equal(epoch.Add(time.Hour)) || st.SignalNonce == "" || st.SignalHash == "" {
		t.Fatalf("step %+v: want waiting, expiring in an hour, with a nonce and a hash", st)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusWaiting {
		t.Fatalf("run %s, want waiting", run.Status)
	}
	// Only the hash is kept, and it is the token's: the lookup finds the
	// step by it.
	token := e.token(t)
	if st.SignalHash != signaltoken.Hash(token) || strings.Contains(st.SignalHash, token) {
		t.Fatalf("stored hash %q is not the sha256 of the token", st.SignalHash)
	}
	ref, err := e.signals.Signal(context.Background(), st.SignalHash)
	if err != nil || ref.RunID != e.runID || ref.StepID != "approve" || ref.AccountID != "acct" || !ref.ExpiresAt.Equal(st.SignalExpiresAt) {
		t.Fatalf("lookup %+v (%v)", ref, err)
	}
	// Advancing again (a resume) keeps the same wait: no new token.
	if d := e.advance(t); !d.WaitForEvent {
		t.Fatalf("a second Advance did not park: %+v", d)
	}
	if again := e.stepStatus(t, "approve"); again.SignalNonce != st.SignalNonce {
		t.Fatal("a resume made a new token: the signalUrl shown would stop working")
	}

	e.clock.Advance(10 * time.Minute)
	if _, _, err := e.service.Signal(context.Background(), "acct", e.runID, "approve", jsontext.Value(`{"approved":true,"by":"ada"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signals.Signal(context.Background(), st.SignalHash); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the spent token's lookup item is still there (%v)", err)
	}
	// A second signal is refused, and the first one's data kept.
	_, _, err = e.service.Signal(context.Background(), "acct", e.runID, "approve", jsontext.Value(`{"approved":false}`))
	var derr *domain.Error
	if !errors.As(err, &derr) || derr.Code != domain.CodeConflict || !strings.Contains(derr.Message, "already signalled") {
		t.Fatalf("second signal: %v, want a conflict that says it was signalled", err)
	}
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusSucceeded || string(run.Output) != `{"shipped":"ada"}` {
		t.Fatalf("run %s with %s, want succeeded with the signal's data seen by later steps", run.Status, run.Output)
	}
	if got := e.stepStatus(t, "approve"); string(got.Output) != `{"approved":true,"by":"ada"}` || !got.SignalledAt.Equal(epoch.Add(10*time.Minute)) {
		t.Errorf("step %+v", got)
	}
}

func TestASignalWaitWithNoSignalFailsWithSignalTimeout(t *testing.T) {
	e := newSignalEnv(t, "")
	e.advance(t)
	e.clock.Advance(time.Hour)
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Code != runner.CodeSignalTimeout {
		t.Fatalf("run %s %+v, want failed with SIGNAL_TIMEOUT", run.Status, run.Error)
	}
	// Too late: the step is no longer waiting, by the API or by the token.
	_, _, err := e.service.Signal(context.Background(), "acct", e.runID, "approve", nil)
	var derr *domain.Error
	if !errors.As(err, &derr) || derr.Code != domain.CodeConflict {
		t.Errorf("a signal after the timeout: %v, want a conflict", err)
	}
}

func TestASignalTimeoutWithOnErrorContinueGoesOn(t *testing.T) {
	e := newSignalEnv(t, `, "onError": "continue"`)
	e.advance(t)
	e.clock.Advance(2 * time.Hour)
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	// The condition sees no approval and ends the run, which succeeds.
	if run.Status != runs.StatusSucceeded {
		t.Fatalf("run %s %+v, want succeeded: the timeout was the step's", run.Status, run.Error)
	}
	if st := e.stepStatus(t, "approve"); st.Status != runs.StepFailed || st.Error.Code != runner.CodeSignalTimeout {
		t.Errorf("step %+v", st)
	}
}

func TestATokenSignalsOnceAndNeverAfterItsExpiry(t *testing.T) {
	e := newSignalEnv(t, "")
	e.advance(t)
	token := e.token(t)
	ctx := context.Background()
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), token[:42], token + "A"} {
		if _, err := e.service.SignalByToken(ctx, bad, nil); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("token %q: %v, want not found", bad, err)
		}
	}
	st, err := e.service.SignalByToken(ctx, token, jsontext.Value(`{"approved":true,"by":"grace"}`))
	if err != nil || st.Status != runs.StepSucceeded || st.StepID != "approve" {
		t.Fatalf("signal by token: %+v %v", st, err)
	}
	if _, err := e.service.SignalByToken(ctx, token, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a used token: %v, want not found", err)
	}

	// Another run's token, past its expiry.
	late := newSignalEnv(t, "")
	late.advance(t)
	lateToken := late.token(t)
	late.clock.Advance(time.Hour)
	if _, err := late.service.SignalByToken(ctx, lateToken, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("an expired token: %v, want not found", err)
	}
	// The API refuses another account's run as absent.
	if _, _, err := late.service.Signal(ctx, "other", late.runID, "approve", nil); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another account's run: %v, want not found", err)
	}
}

func TestParkKeepsTheTokenWithASignalWaitAndTheSignalCompletesIt(t *testing.T) {
	k := &tokens{}
	e := newSignalEnv(t, "", func(c *runner.Config) { c.Tokens = k })
	e.advance(t)
	park(t, e.env, "tok-s")
	if st := e.stepStatus(t, "approve"); st.TaskToken != "tok-s" || st.Status != runs.StepWaiting {
		t.Fatalf("step %+v: want the token kept, still waiting", st)
	}
	if got := k.completed(); len(got) != 0 {
		t.Fatalf("completed %v before any signal", got)
	}
	service := runs.NewSignals(e.store, e.signals, runs.TokenWaker(e.store, k), runs.Options{Now: e.clock.Now})
	if _, _, err := service.Signal(context.Background(), "acct", e.runID, "approve", jsontext.Value(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	if got := k.completed(); len(got) != 1 || got[0] != "tok-s@"+e.runID {
		t.Errorf("completed %v, want the run's token once", got)
	}
	// A Park that comes after the signal completes its own token at once.
	park(t, e.env, "tok-late")
	if got := k.completed(); len(got) != 2 || got[1] != "tok-late@"+e.runID {
		t.Errorf("completed %v: a signal that came first must not leave the execution parked", got)
	}
}
