// Command get-run is the Lambda of GET /api/v1/runs/{id}.
package main

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	service := runs.NewService(runsdb.New(app.DB, app.TableName), nil, nil, runs.Options{Logger: app.Logger})
	app.StartRoute(&routes.GetRun, http.HandlerFunc(runs.NewHandlers(service).Get))
}
