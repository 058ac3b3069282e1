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
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	machine := lambdaapp.Must(sfn.FromEnv(context.Background()))
	// A child run whose end the check records wakes its parent (the task
	// token the parent's execution waits on).
	store := runsdb.New(app.DB, app.TableName)
	parents := runs.TokenWaker(store, machine)
	// An end it records also gives back the run's concurrency slot, and
	// wakes the next queued run (its queue entry's task token).
	writes := runs.HoldSlots(runs.NotifyParents(store, parents, app.Logger), store, runs.TokenSlotWaker(machine), app.Logger)
	check := runner.NewChecker(writes, machine, machine, nil, app.Logger).WithParents(parents)
	lambda.Start(func(ctx context.Context) (runner.CheckReport, error) {
		report, err := check.Check(ctx)
		app.Logger.InfoContext(ctx, "start check", "unfinished", report.Unfinished, "started", report.Started,
			"failed", report.Failed, "cancelled", report.Cancelled, "resumed", report.Resumed, "errors", report.Errors)
		return report, err
	})
}
