// Command get-workflow is the Lambda of GET /api/v1/workflows/{id}.
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
	app.StartRoute(&routes.GetWorkflow, http.HandlerFunc(handlers.Get))
}
