// Command receive-signal is the Lambda of POST /api/v1/signals/{token}: a
// wait_for_signal step's signalUrl. The token is the capability (no key):
// its hash finds the step, which is completed once, and the run is woken
// (SendTaskSuccess of the task token its execution waits on).
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
	app.StartRoute(&routes.ReceiveSignal, lambdaenv.Must(runswire.ReceiveSignal(app.Env, machine)))
}
