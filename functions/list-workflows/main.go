// Command list-workflows is the Lambda of GET /api/v1/workflows.
package main

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
)

func main() {
	app := lambdaapp.MustLoad()
	handlers := workflows.NewHandlers(workflows.NewService(workflowsdb.New(app.DB, app.TableName), nil, nil, nil))
	app.StartRoute(&routes.ListWorkflows, http.HandlerFunc(handlers.List))
}
