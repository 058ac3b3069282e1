// Command receive-signal is the Lambda of POST /api/v1/signals/{token}: a
// wait_for_signal step's signalUrl. The token is the capability (no key):
// its hash finds the step, which is completed once, and the run is woken
// (SendTaskSuccess of the task token its execution waits on).
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	machine := lambdaapp.Must(sfn.FromEnv(context.Background()))
	store := runsdb.New(app.DB, app.TableName)
	signals := runs.NewSignals(store, store, runs.TokenWaker(store, machine), runs.Options{Logger: app.Logger})
	app.StartRoute(&routes.ReceiveSignal, http.HandlerFunc(runs.NewSignalHandlers(signals).SignalByToken))
}
