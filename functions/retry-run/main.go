// Command retry-run is the Lambda of POST /api/v1/runs/{id}/retry.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/runs/wire/starts"
)

func main() {
	app := lambdaapp.MustLoad()
	// The retry starts as an execution of the state machine.
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(context.Background())))
	app.StartRoute(&routes.RetryRun, lambdaenv.Must(starts.RetryRun(app.Env, machine)))
}
