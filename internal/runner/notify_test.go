package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
)

// scriptedNotifier fails the first failures deliveries (next attempt 40 s
// on), then delivers; the notify package's own tests hold the real one.
type scriptedNotifier struct {
	store    *memStore
	clock    *fakeClock
	failures int
	calls    int
}

func (n *scriptedNotifier) Deliver(ctx context.Context, run runs.Run) (runs.Run, error) {
	n.calls++
	now := n.clock.Now()
	for i, e := range run.Notifications {
		if e.Status != runs.NotificationPending || e.NextAttemptAt.After(now) {
			continue
		}
		e.Attempts++
		if n.calls <= n.failures {
			e.NextAttemptAt = now.Add(40 * time.Second)
		} else {
			e.Status, e.DeliveredAt, e.NextAttemptAt = runs.NotificationDelivered, now, time.Time{}
		}
		run.Notifications[i] = e
	}
	return n.store.Update(ctx, run)
}

const oneTransform = `{"name": "t", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "transform", "with": {"jq": ".input.n"}}]}`

func notifyingEnv(t *testing.T, failures int, events ...string) (*env, *scriptedNotifier) {
	t.Helper()
	n := &scriptedNotifier{failures: failures}
	e := newEnv(t, oneTransform, func(c *runner.Config) { c.Notifier = n })
	n.store, n.clock = e.store, e.clock
	run := e.store.run(t, e.runID)
	run.Notify = &runs.NotifyTarget{URL: "https://hooks.example/runs", Events: events}
	if _, err := e.store.Update(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	return e, n
}

func TestAnEndedRunIsNotDoneUntilItsEventIsDelivered(t *testing.T) {
	e, n := notifyingEnv(t, 1, runs.EventRunSucceeded)
	d := e.advance(t)
	if d.Done || d.WaitSeconds != 40 || d.WaitForEvent {
		t.Fatalf("after the run succeeded and its event failed once: %+v, want a wait of 40 s for the next attempt", d)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusSucceeded {
		t.Fatalf("status %s: a delivery must not hold the run's own end", run.Status)
	}
	e.clock.Advance(40 * time.Second)
	if d := e.advance(t); !d.Done {
		t.Fatalf("after the event was delivered: %+v, want done", d)
	}
	if n.calls != 2 {
		t.Errorf("%d deliveries, want 2", n.calls)
	}
	if run := e.store.run(t, e.runID); run.NotificationsPending() || run.Notifications[0].Status != runs.NotificationDelivered {
		t.Errorf("events %+v", run.Notifications)
	}
}

func TestARunWithNoEventListedForItsEndIsDoneAtOnce(t *testing.T) {
	e, n := notifyingEnv(t, 0, runs.EventRunFailed)
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v, want done", d)
	}
	if n.calls != 0 {
		t.Errorf("%d deliveries with nothing to deliver", n.calls)
	}
}

func TestTheCatchDeliversOnceAndEndsTheExecution(t *testing.T) {
	e, n := notifyingEnv(t, 1, runs.EventRunFailed)
	d, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID, Failure: &runner.Failure{Error: "Lambda.Unknown"}})
	if err != nil || !d.Done {
		t.Fatalf("the catch: %+v, %v; want done (the start check takes over the rest)", d, err)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || n.calls != 1 || !run.NotificationsPending() || run.Notifications[0].Attempts != 1 {
		t.Errorf("status %s, %d deliveries, events %+v", run.Status, n.calls, run.Notifications)
	}
}
