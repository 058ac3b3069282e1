// Command get-workflow is the Lambda of GET /api/v1/workflows/{id}.
package main

import (
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	workflowswire "github.com/workflowsapi/workflows/internal/workflows/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.GetWorkflow, workflowswire.GetWorkflow(app.Env))
}
