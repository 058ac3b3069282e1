// Command run-workflow is the Lambda of POST /api/v1/workflows/{id}/run.
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
	// The run starts as an execution of the state machine.
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(context.Background())))
	app.StartRoute(&routes.RunWorkflow, lambdaenv.Must(starts.RunWorkflow(app.Env, machine)))
}
