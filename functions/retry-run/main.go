// Command retry-run is the Lambda of POST /api/v1/runs/{id}/retry.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	retention := lambdaapp.Must(runs.RetentionFromEnv())
	executions := lambdaapp.Must(sfn.FromEnv(context.Background()))
	store := runsdb.New(app.DB, app.TableName).WithRetention(retention)
	// The store keeps the Idempotency-Key records too: a retry honours the
	// key as a start does.
	service := runs.NewService(store, workflowsdb.New(app.DB, app.TableName),
		executions, runs.Options{Idempotency: store, Retention: retention, Logger: app.Logger})
	app.StartRoute(&routes.RetryRun, http.HandlerFunc(runs.NewHandlers(service).Retry))
}
