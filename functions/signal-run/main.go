// Command signal-run is the Lambda of POST /api/v1/runs/{id}/signals/{stepId}:
// it completes a run's wait_for_signal step with the signal's data and wakes
// the run (SendTaskSuccess of the task token its execution waits on).
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
	app.StartRoute(&routes.SignalRun, http.HandlerFunc(runs.NewSignalHandlers(signals).Signal))
}
