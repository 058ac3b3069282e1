// Command scheduled-run is the target of every EventBridge Scheduler
// schedule: it starts the run of one firing of a workflow's schedule. Its
// input is {"accountId", "workflowId", "scheduledTime"} (runs.Firing).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	retention := lambdaapp.Must(runs.RetentionFromEnv())
	executions := lambdaapp.Must(sfn.FromEnv(context.Background()))
	service := runs.NewService(runsdb.New(app.DB, app.TableName).WithRetention(retention), workflowsdb.New(app.DB, app.TableName),
		executions, runs.Options{Retention: retention, Logger: app.Logger})
	lambda.Start(func(ctx context.Context, f runs.Firing) error {
		run, started, err := service.StartScheduled(ctx, f)
		switch {
		case err != nil:
			// Scheduler retries a failed invocation; the run id is the
			// same on every attempt, so a retry starts at most one run.
			app.Logger.ErrorContext(ctx, "scheduled run not started", "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime, "error", err)
		case !started:
			app.Logger.InfoContext(ctx, "scheduled firing of a deleted or disabled workflow: nothing to run", "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime)
		default:
			app.Logger.InfoContext(ctx, "scheduled run started", "run_id", run.ID, "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime)
		}
		return err
	})
}
