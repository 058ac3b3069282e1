package runner

import (
	"context"
	"errors"
	"time"

	"github.com/workflowsapi/workflows/internal/orchestrator"
)

// Drive is Advance as a driver's callback (orchestrator.AdvanceFunc): the
// local driver calls it in-process where Step Functions invokes the runner
// function. A failure stands for the state machine's catch.
func (r *Runner) Drive(ctx context.Context, accountID, runID string, failure error) (orchestrator.Outcome, error) {
	task := Task{AccountID: accountID, RunID: runID}
	if failure != nil {
		task.Failure = &Failure{Error: "Local.AdvanceKeptFailing"}
		var conflict *RunConflict
		if errors.As(failure, &conflict) {
			task.Failure.Error = conflictErrorName
		}
	}
	d, err := r.Advance(ctx, task)
	if err != nil {
		return orchestrator.Outcome{}, err
	}
	return orchestrator.Outcome{Done: d.Done, Wait: time.Duration(d.WaitSeconds) * time.Second, WaitForEvent: d.WaitForEvent}, nil
}

var _ orchestrator.AdvanceFunc = (*Runner)(nil).Drive
