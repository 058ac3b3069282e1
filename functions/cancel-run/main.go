// Command cancel-run is the Lambda of POST /api/v1/runs/{id}/cancel.
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
	// Stopping the execution of a run cancelled while queued or waiting.
	executions := lambdaapp.Must(sfn.FromEnv(context.Background()))
	// A cancelled child run wakes its parent (the task token the parent's
	// execution waits on); a cancelled parent cancels its children.
	store := runsdb.New(app.DB, app.TableName)
	// A cancelled run gives back its concurrency slot (or its place in the
	// queue), and the next queued run is woken.
	writes := runs.HoldSlots(runs.NotifyParents(store, runs.TokenWaker(store, executions), app.Logger), store, runs.TokenSlotWaker(executions), app.Logger)
	service := runs.NewService(writes, nil, executions, runs.Options{Logger: app.Logger})
	app.StartRoute(&routes.CancelRun, http.HandlerFunc(runs.NewHandlers(service).Cancel))
}
