package runs_test

import (
	"context"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/runs"
)

// TestCancellingAWaitingRunEndsItsStepWithoutTheRunner is the Step
// Functions path: the orchestrator here, like StopExecution, only stops;
// nothing advances the run again. So the cancel route itself must end the
// waiting step, with its finish time, and the run.
func TestCancellingAWaitingRunEndsItsStepWithoutTheRunner(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	run := a.seed(t, wf, runs.StatusWaiting,
		runs.Step{StepID: "a", Index: 0, Status: runs.StepSucceeded, Attempts: 1, FinishedAt: time.Now().UTC()},
		runs.Step{StepID: "b", Index: 1, Status: runs.StepWaiting, Attempts: 2, NextAttemptAt: next, Error: &runs.Error{Code: "HTTP_STATUS", Message: "429"}})
	r := a.call(t, "POST", "/runs/"+run.ID+"/cancel", nil, "")
	if r.Status != 200 || r.Data(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if n := a.orch.count(&a.orch.stopped, run.ID); n != 1 {
		t.Errorf("stopped %d times", n)
	}
	steps, err := a.db.Steps(context.Background(), run.ID)
	if err != nil || len(steps) != 2 {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if first, second := steps[0], steps[1]; first.Status != runs.StepSucceeded || second.Status != runs.StepCancelled || second.FinishedAt.IsZero() || !second.NextAttemptAt.IsZero() || second.Attempts != 2 {
		t.Errorf("steps after the cancel: %+v, %+v", first, second)
	}
	stored, _ := a.db.Get(context.Background(), account, run.ID)
	if stored.Status != runs.StatusCancelled || stored.FinishedAt.IsZero() {
		t.Errorf("run %s finished %v", stored.Status, stored.FinishedAt)
	}
	// The run route shows it so: no step waiting, none without its end.
	got := a.call(t, "GET", "/runs/"+run.ID, nil, "").Data(t)
	for _, s := range got["steps"].([]any) {
		step := s.(map[string]any)
		if step["finishedAt"] == nil || step["nextAttemptAt"] != nil {
			t.Errorf("step %v", step)
		}
	}
}
