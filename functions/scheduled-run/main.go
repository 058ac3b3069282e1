// Command scheduled-run is the target of every EventBridge Scheduler
// schedule: it starts the run of one firing of a workflow's schedule. Its
// input is {"accountId", "workflowId", "scheduledTime"} (runs.Firing).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/runs/wire/starts"
)

func main() {
	env := lambdaenv.MustLoad()
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(context.Background())))
	lambda.Start(lambdaenv.Must(starts.ScheduledRun(env, machine)))
}
