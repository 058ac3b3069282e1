// Command cancel-run is the Lambda of POST /api/v1/runs/{id}/cancel.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	// A cancelled queued or waiting run's execution is stopped; a
	// cancelled child wakes its parent and gives back its slot (task tokens).
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(context.Background())))
	app.StartRoute(&routes.CancelRun, lambdaenv.Must(runswire.CancelRun(app.Env, machine)))
}
