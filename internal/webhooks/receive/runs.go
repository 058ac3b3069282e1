package receive

import (
	"context"

	"github.com/workflowsapi/workflows/internal/runs"
)

// RunStarter is what FromRuns needs of runs.Service.
type RunStarter interface {
	Start(ctx context.Context, req runs.StartRequest) (runs.Run, error)
}

// FromRuns is the Starter on the runs service: a run of the workflow's
// current version with trigger webhook, the delivery's id and its body as
// input. runs.Service answers the stored run for an id already taken, so a
// replay starts nothing.
func FromRuns(service RunStarter) Starter {
	return func(ctx context.Context, d Delivery) (string, error) {
		run, err := service.Start(ctx, runs.StartRequest{
			AccountID: d.AccountID, WorkflowID: d.WorkflowID, Input: d.Input,
			Trigger: runs.TriggerWebhook, RunID: d.RunID,
		})
		if err != nil {
			return "", err
		}
		return run.ID, nil
	}
}
