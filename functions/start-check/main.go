// Command start-check runs every few minutes (an EventBridge rule): it
// starts the execution of a run stored queued whose start was lost, and
// records the end of a run whose execution ended without the runner
// (stopped in the console, timed out, history limit). See check.Checker.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner/check"
	"github.com/workflowsapi/workflows/internal/runner/wire/checks"
)

func main() {
	env := lambdaenv.MustLoad()
	checker := lambdaenv.Must(checks.StartCheck(env, lambdaenv.Must(sfn.FromEnv(context.Background()))))
	lambda.Start(func(ctx context.Context) (check.Report, error) {
		report, err := checker.Check(ctx)
		env.Logger.InfoContext(ctx, "start check", "unfinished", report.Unfinished, "started", report.Started,
			"failed", report.Failed, "cancelled", report.Cancelled, "resumed", report.Resumed, "errors", report.Errors)
		return report, err
	})
}
