// Command signal-run is the Lambda of POST /api/v1/runs/{id}/signals/{stepId}:
// it completes a run's wait_for_signal step with the signal's data and wakes
// the run (SendTaskSuccess of the task token its execution waits on).
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
	// The signalled run is woken by its task token.
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(context.Background())))
	app.StartRoute(&routes.SignalRun, lambdaenv.Must(runswire.SignalRun(app.Env, machine)))
}
