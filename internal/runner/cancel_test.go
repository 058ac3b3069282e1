package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runner/check"
	"github.com/workflowsapi/workflows/internal/runs"
)

const twoSteps = `{"name": "c", "trigger": {"type": "manual"}, "steps": [
  {"id": "a", "type": "transform", "with": {"jq": "1"}},
  {"id": "b", "type": "transform", "with": {"jq": "2"}}]}`

// A cancel during the last step: the step ends, and the run, which has no
// next step to stop before, ends cancelled anyway (it ended succeeded).
func TestCancelDuringTheLastStepEndsCancelled(t *testing.T) {
	e := newEnv(t, twoSteps)
	e.engine.script["b"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.store.setStatus(e.runID, runs.StatusCancelling) // POST /runs/{id}/cancel, mid-step
		return engine.Result{Output: "b done"}, nil
	}}
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v", d)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusCancelled || run.Error != nil || run.FinishedAt.IsZero() {
		t.Errorf("run %s %+v finished %v", run.Status, run.Error, run.FinishedAt)
	}
	if st := e.stepStatus(t, "b"); st.Status != runs.StepSucceeded || st.FinishedAt.IsZero() {
		t.Errorf("the step in flight finishes as it did: %+v", st)
	}
}

// A cancel during a last step that fails: cancelled too, the step failed.
func TestCancelDuringAFailingLastStepEndsCancelled(t *testing.T) {
	e := newEnv(t, twoSteps)
	e.engine.script["b"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.store.setStatus(e.runID, runs.StatusCancelling)
		return engine.Result{}, &engine.StepError{Code: "HTTP_STATUS", Message: "503"}
	}}
	e.untilDone(t)
	if run := e.store.run(t, e.runID); run.Status != runs.StatusCancelled {
		t.Errorf("run %s", run.Status)
	}
	if st := e.stepStatus(t, "b"); st.Status != runs.StepFailed {
		t.Errorf("step %s", st.Status)
	}
}

// The store refuses to end a cancelling run any other way than cancelled,
// whoever writes (the fake holds the rule as runsdb does).
func TestACancellingRunCannotBeWrittenSucceeded(t *testing.T) {
	e := newEnv(t, twoSteps)
	e.store.setStatus(e.runID, runs.StatusCancelling)
	run := e.store.run(t, e.runID)
	for _, end := range []runs.Status{runs.StatusSucceeded, runs.StatusFailed, runs.StatusTimedOut} {
		run.Status = end
		if _, err := e.store.Update(context.Background(), run); err != runs.ErrRevision {
			t.Errorf("cancelling → %s: %v, want ErrRevision", end, err)
		}
	}
	run.Status = runs.StatusCancelled
	if _, err := e.store.Update(context.Background(), run); err != nil {
		t.Errorf("cancelling → cancelled: %v", err)
	}
}

// The state machine's catch on a cancelling run records it cancelled, its
// open step too, with their finish time.
func TestFailureTaskOfACancellingRunRecordsItCancelled(t *testing.T) {
	e := newEnv(t, twoSteps)
	if _, err := e.store.PutStep(context.Background(), runs.Step{RunID: e.runID, StepID: "a", Status: runs.StepRunning, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	e.store.setStatus(e.runID, runs.StatusCancelling)
	if d, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID, Failure: &runner.Failure{Error: "x"}}); err != nil || !d.Done {
		t.Fatalf("%+v %v", d, err)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusCancelled || run.Error != nil {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
	if st := e.stepStatus(t, "a"); st.Status != runs.StepCancelled || !st.FinishedAt.Equal(epoch) {
		t.Errorf("step %+v", st)
	}
}

// In AWS a run whose execution is stopped is never advanced again: the
// start check, finding the execution ended, ends the open step with the
// run (cancelled for a cancelling run, failed otherwise).
func TestTheStartCheckEndsTheOpenStepsOfARunWhoseExecutionEnded(t *testing.T) {
	now := epoch.Add(time.Hour)
	store := newMemStore()
	ctx := context.Background()
	for id, status := range map[string]runs.Status{"run_cancelling": runs.StatusCancelling, "run_aborted": runs.StatusWaiting} {
		if err := store.Create(ctx, runs.Run{ID: id, AccountID: "acct", Status: runs.StatusQueued, CreatedAt: epoch}, runs.Reused{}); err != nil {
			t.Fatal(err)
		}
		store.setStatus(id, status)
		if _, err := store.PutStep(ctx, runs.Step{RunID: id, StepID: "a", Status: runs.StepWaiting, Attempts: 1, NextAttemptAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	checker := check.New(store, fakeExecutions{"run_cancelling": orchestrator.ExecutionAborted, "run_aborted": orchestrator.ExecutionAborted},
		&fakeOrchestrator{}, func() time.Time { return now }, nil)
	if _, err := checker.Check(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]runs.StepStatus{"run_cancelling": runs.StepCancelled, "run_aborted": runs.StepFailed} {
		st, _ := store.step(id, "a")
		if st.Status != want || !st.FinishedAt.Equal(now) || !st.NextAttemptAt.IsZero() {
			t.Errorf("%s: step %+v, want %s finished at %v", id, st, want, now)
		}
	}
	if run := store.run(t, "run_aborted"); run.Error == nil || run.Error.Step != "a" {
		t.Errorf("the failed run's error names no step: %+v", run.Error)
	}
}

// A target's Retry-After is honoured up to the step's retry horizon, 5
// minutes: a step asked to wait 100000 s is tried again after 5 minutes.
func TestRetryAfterIsCappedAtTheRetryHorizon(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 3}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 100000*time.Second)}
	d := e.advance(t)
	if d.Done || d.WaitSeconds != int(runner.MaxRetryAfter/time.Second) || runner.MaxRetryAfter != runner.BackoffCap {
		t.Fatalf("Retry-After 100000 s: %+v, want a wait of %v", d, runner.MaxRetryAfter)
	}
	if st := e.stepStatus(t, "call"); st.Status != runs.StepWaiting || !st.NextAttemptAt.Equal(epoch.Add(5*time.Minute)) {
		t.Errorf("step %+v", st)
	}
	// Under the cap, the target's wish stands (over the policy's own 0.5 s).
	e2 := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 3}}]}`)
	e2.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 299*time.Second)}
	if d := e2.advance(t); d.WaitSeconds != 299 {
		t.Errorf("Retry-After 299 s: %+v", d)
	}
	// Each attempt uses one up: the step fails after its 3 attempts, 10
	// minutes in, not 55 hours.
	e.untilDone(t)
	if st := e.stepStatus(t, "call"); st.Status != runs.StepFailed || st.Attempts != 3 || !st.FinishedAt.Equal(epoch.Add(10*time.Minute)) {
		t.Errorf("step %+v", st)
	}
}
