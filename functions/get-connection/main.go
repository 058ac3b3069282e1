// Command get-connection is the Lambda of GET /api/v1/connections/{id}.
// It has no sealer: it neither seals nor opens credentials.
package main

import (
	connectionswire "github.com/workflowsapi/workflows/internal/connections/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.GetConnection, connectionswire.GetConnection(app.Env))
}
