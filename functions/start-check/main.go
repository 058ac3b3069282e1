// Command start-check runs every few minutes (an EventBridge rule): it
// starts the execution of a run stored queued whose start was lost, and
// records the end of a run whose execution ended without the runner
// (stopped in the console, timed out, history limit). See runner.Checker.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	runnerwire "github.com/workflowsapi/workflows/internal/runner/wire"
)

func main() {
	env := lambdaenv.MustLoad()
	check := lambdaenv.Must(runnerwire.StartCheck(env, lambdaenv.Must(sfn.FromEnv(context.Background()))))
	lambda.Start(func(ctx context.Context) (runner.CheckReport, error) {
		report, err := check.Check(ctx)
		env.Logger.InfoContext(ctx, "start check", "unfinished", report.Unfinished, "started", report.Started,
			"failed", report.Failed, "cancelled", report.Cancelled, "resumed", report.Resumed, "errors", report.Errors)
		return report, err
	})
}
