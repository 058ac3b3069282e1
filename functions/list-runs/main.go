// Command list-runs is the Lambda of GET /api/v1/runs.
package main

import (
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.ListRuns, lambdaenv.Must(runswire.ListRuns(app.Env)))
}
