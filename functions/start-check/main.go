// Command start-check runs every few minutes (an EventBridge rule): it
// starts the execution of a run stored queued whose start was lost, and
// records the end of a run whose execution ended without the runner
// (stopped in the console, timed out, history limit). See runner.Checker.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	machine := lambdaapp.Must(sfn.FromEnv(context.Background()))
	check := runner.NewChecker(runsdb.New(app.DB, app.TableName), machine, machine, nil, app.Logger)
	lambda.Start(func(ctx context.Context) (runner.CheckReport, error) {
		report, err := check.Check(ctx)
		app.Logger.InfoContext(ctx, "start check", "unfinished", report.Unfinished, "started", report.Started,
			"failed", report.Failed, "cancelled", report.Cancelled, "errors", report.Errors)
		return report, err
	})
}
