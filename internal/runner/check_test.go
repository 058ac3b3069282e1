package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runner/check"
	"github.com/workflowsapi/workflows/internal/runs"
)

func TestStartCheck(t *testing.T) {
	now := epoch.Add(time.Hour)
	store := newMemStore()
	add := func(id string, status runs.Status, age time.Duration) {
		if err := store.Create(context.Background(), runs.Run{ID: id, AccountID: "acct", Status: runs.StatusQueued, CreatedAt: now.Add(-age)}, runs.Reused{}); err != nil {
			t.Fatal(err)
		}
		if status != runs.StatusQueued {
			store.setStatus(id, status)
		}
	}
	add("run_lost", runs.StatusQueued, 2*time.Minute)       // its start was lost: start it
	add("run_young", runs.StatusQueued, 10*time.Second)     // the route is still starting it
	add("run_driven", runs.StatusRunning, time.Hour)        // the state machine has it
	add("run_stopped", runs.StatusWaiting, time.Hour)       // stopped in the console: failed
	add("run_timedout", runs.StatusRunning, time.Hour)      // the execution timed out: failed
	add("run_cancelling", runs.StatusCancelling, time.Hour) // aborted by a cancel: cancelled
	add("run_gone", runs.StatusWaiting, 2*time.Hour)        // no execution any more: start it
	add("run_succeeded", runs.StatusSucceeded, 2*time.Hour) // finished (marker gone)
	executions := fakeExecutions{
		"run_driven": orchestrator.ExecutionRunning, "run_stopped": orchestrator.ExecutionAborted,
		"run_timedout": orchestrator.ExecutionTimedOut, "run_cancelling": orchestrator.ExecutionAborted,
	}
	o := &fakeOrchestrator{}
	checker := check.New(store, executions, o, func() time.Time { return now }, nil)
	report, err := checker.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := check.Report{Unfinished: 8, Started: 2, Failed: 2, Cancelled: 1}
	if report != want {
		t.Errorf("report %+v, want %+v", report, want)
	}
	if len(o.started) != 2 || !contains(o.started, "run_lost") || !contains(o.started, "run_gone") {
		t.Errorf("started %v", o.started)
	}
	for id, status := range map[string]runs.Status{
		"run_young": runs.StatusQueued, "run_driven": runs.StatusRunning, "run_stopped": runs.StatusFailed,
		"run_timedout": runs.StatusFailed, "run_cancelling": runs.StatusCancelled, "run_lost": runs.StatusQueued,
	} {
		run := store.run(t, id)
		if run.Status != status {
			t.Errorf("%s: %s, want %s", id, run.Status, status)
		}
		if status == runs.StatusFailed && (run.Error == nil || run.Error.Code != check.CodeExecutionEnded || run.FinishedAt.IsZero()) {
			t.Errorf("%s: error %+v", id, run.Error)
		}
	}
	// The marker that outlived the finished run was dropped.
	if refs, _ := store.Unfinished(context.Background()); len(refs) != 4 {
		t.Errorf("%d unfinished markers left, want 4 (young, driven, lost, gone)", len(refs))
	}
	// A second check changes nothing more than starting the lost runs
	// again (which starts nothing new: executions are named after runs).
	report, err = checker.Check(context.Background())
	if err != nil || report.Failed != 0 || report.Cancelled != 0 {
		t.Errorf("second check %+v %v", report, err)
	}
}

// TestTheStartCheckStartsExpressRunsAgainWithoutDescribingThem: Express
// executions cannot be described, and live at most five minutes, so an
// Express run is started again when it is still queued after the grace (its
// start was lost) or still unfinished after an execution's lifetime (every
// execution it had has ended), and never described.
func TestTheStartCheckStartsExpressRunsAgainWithoutDescribingThem(t *testing.T) {
	now := epoch.Add(time.Hour)
	store := newMemStore()
	add := func(id string, status runs.Status, age time.Duration) {
		run := runs.Run{ID: id, AccountID: "acct", Status: runs.StatusQueued, CreatedAt: now.Add(-age), Machine: orchestrator.Express}
		if err := store.Create(context.Background(), run, runs.Reused{}); err != nil {
			t.Fatal(err)
		}
		if status != runs.StatusQueued {
			store.setStatus(id, status)
		}
	}
	add("run_lost", runs.StatusQueued, 2*time.Minute)                 // never began: start again
	add("run_young", runs.StatusQueued, 10*time.Second)               // the route is still starting it
	add("run_running", runs.StatusRunning, 3*time.Minute)             // its execution may still live
	add("run_outlived", runs.StatusRunning, 7*time.Minute)            // every execution has ended
	add("run_waiting", runs.StatusWaiting, 6*time.Minute+time.Second) // a back-off outlived its execution
	add("run_cancelling", runs.StatusCancelling, 2*time.Hour)         // cancelled, never ended
	add("run_succeeded", runs.StatusSucceeded, 2*time.Hour)           // finished (marker gone)
	described := &describeCounter{}
	o := &fakeOrchestrator{}
	checker := check.New(store, described, o, func() time.Time { return now }, nil)
	report, err := checker.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (check.Report{Unfinished: 7, Started: 4}); report != want {
		t.Errorf("report %+v, want %+v", report, want)
	}
	for _, id := range []string{"run_lost", "run_outlived", "run_waiting", "run_cancelling"} {
		if !contains(o.started, id) {
			t.Errorf("%s was not started again (started %v)", id, o.started)
		}
	}
	if len(o.started) != 4 {
		t.Errorf("started %v, want the four above", o.started)
	}
	if described.calls != 0 {
		t.Errorf("an Express run was described %d times: DescribeExecution does not serve Express", described.calls)
	}
	// Nothing is recorded ended from outside: the new execution's Advance
	// ends the run (timed out if its deadline has passed).
	for _, id := range []string{"run_outlived", "run_waiting", "run_cancelling"} {
		if run := store.run(t, id); run.Status.Finished() {
			t.Errorf("%s was ended by the check: %s", id, run.Status)
		}
	}
}

// describeCounter counts Describe calls, and answers running.
type describeCounter struct{ calls int }

func (d *describeCounter) Describe(context.Context, string) (orchestrator.ExecutionState, error) {
	d.calls++
	return orchestrator.ExecutionRunning, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTheStartCheckResumesAParentWhoseWakeUntold(t *testing.T) {
	now := epoch.Add(time.Hour)
	store := newMemStore()
	ctx := context.Background()
	for _, r := range []runs.Run{
		{ID: "run_parent", AccountID: "acct", Status: runs.StatusQueued, CreatedAt: epoch},
		{ID: "run_waits", AccountID: "acct", Status: runs.StatusQueued, CreatedAt: epoch},
		{ID: "run_child", AccountID: "acct", Status: runs.StatusQueued, CreatedAt: epoch, ParentRunID: "run_parent", ParentStepID: "kid"},
		{ID: "run_busy", AccountID: "acct", Status: runs.StatusQueued, CreatedAt: epoch, ParentRunID: "run_waits", ParentStepID: "kid"},
	} {
		if err := store.Create(ctx, r, runs.Reused{}); err != nil {
			t.Fatal(err)
		}
	}
	park := func(id, child string) {
		run := store.run(t, id)
		parked, err := run.WaitForChild(child, now.Add(time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Update(ctx, parked); err != nil {
			t.Fatal(err)
		}
	}
	park("run_parent", "run_child")
	park("run_waits", "run_busy")
	store.setStatus("run_child", runs.StatusSucceeded) // ended, and its notice was lost
	store.setStatus("run_busy", runs.StatusRunning)
	var told []string
	executions := fakeExecutions{"run_parent": orchestrator.ExecutionRunning, "run_waits": orchestrator.ExecutionRunning,
		"run_child": orchestrator.ExecutionSucceeded, "run_busy": orchestrator.ExecutionRunning}
	checker := check.New(store, executions, &fakeOrchestrator{}, func() time.Time { return now }, nil).
		WithParents(parentsFunc(func(_ context.Context, account, parent, step string) error {
			told = append(told, account+"/"+parent+"/"+step)
			return nil
		}))
	report, err := checker.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if report.Resumed != 1 || len(told) != 1 || told[0] != "acct/run_parent/kid" {
		t.Errorf("report %+v, told %v: want the one parent whose child ended told again", report, told)
	}
}

func TestTheStartCheckSeesThatAnEndedRunsEventsGetDelivered(t *testing.T) {
	now := epoch.Add(time.Hour)
	store := newMemStore()
	add := func(id string, status runs.Status, events ...string) {
		run := runs.Run{ID: id, AccountID: "acct", Status: runs.StatusQueued, CreatedAt: now.Add(-time.Hour),
			Notify: &runs.NotifyTarget{URL: "https://hooks.example/runs", Events: events}}
		if err := store.Create(context.Background(), run, runs.Reused{}); err != nil {
			t.Fatal(err)
		}
		if status == runs.StatusQueued {
			return
		}
		run.Revision = 1
		ended, err := run.End(status, nil, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Update(context.Background(), ended); err != nil {
			t.Fatal(err)
		}
	}
	add("run_delivering", runs.StatusSucceeded, runs.EventRunSucceeded) // its own execution delivers
	add("run_cancelled", runs.StatusCancelled, runs.EventRunCancelled)  // stopped; its delivery start was lost
	add("run_redelivering", runs.StatusFailed, runs.EventRunFailed)     // its delivery execution delivers
	add("run_abandoned", runs.StatusFailed, runs.EventRunFailed)        // both executions ended
	add("run_stopped", runs.StatusQueued)                               // not ended: its execution was stopped in the console
	store.setStatus("run_stopped", runs.StatusWaiting)
	stopped := store.run(t, "run_stopped")
	stopped.Notify.Events = []string{runs.EventRunFailed}
	if _, err := store.Update(context.Background(), stopped); err != nil {
		t.Fatal(err)
	}
	executions := fakeExecutions{
		"run_delivering": orchestrator.ExecutionRunning, "run_cancelled": orchestrator.ExecutionAborted,
		"run_redelivering": orchestrator.ExecutionFailed, orchestrator.DeliveryExecution("run_redelivering"): orchestrator.ExecutionRunning,
		"run_abandoned": orchestrator.ExecutionSucceeded, orchestrator.DeliveryExecution("run_abandoned"): orchestrator.ExecutionFailed,
		"run_stopped": orchestrator.ExecutionAborted,
	}
	o := &fakeOrchestrator{}
	report, err := check.New(store, executions, o, func() time.Time { return now }, nil).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := check.Report{Unfinished: 5, Failed: 1, Delivering: 2, Abandoned: 1}
	if report != want {
		t.Errorf("report %+v, want %+v", report, want)
	}
	if len(o.deliveries) != 2 || !contains(o.deliveries, "run_cancelled") || !contains(o.deliveries, "run_stopped") {
		t.Errorf("delivery executions started for %v, want run_cancelled and run_stopped (failed by the check)", o.deliveries)
	}
	abandoned := store.run(t, "run_abandoned")
	if abandoned.NotificationsPending() || abandoned.Notifications[0].LastError.Code != runs.CodeDeliveryStopped || abandoned.Status != runs.StatusFailed {
		t.Errorf("abandoned: %s %+v", abandoned.Status, abandoned.Notifications)
	}
	if got := store.run(t, "run_stopped"); got.Status != runs.StatusFailed || len(got.Notifications) != 1 || got.Notifications[0].Type != runs.EventRunFailed {
		t.Errorf("the run the check failed: %s %+v", got.Status, got.Notifications)
	}
	refs, _ := store.Unfinished(context.Background())
	if len(refs) != 4 {
		t.Errorf("%d markers left, want 4 (all but the abandoned one's)", len(refs))
	}
}
