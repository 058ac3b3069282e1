// Command list-connections is the Lambda of GET /api/v1/connections.
// It has no sealer: it neither seals nor opens credentials.
package main

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	handlers := connections.NewHandlers(connections.NewService(connectionsdb.New(app.DB, app.TableName), nil, nil))
	app.StartRoute(&routes.ListConnections, http.HandlerFunc(handlers.List))
}
