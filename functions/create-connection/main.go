// Command create-connection is the Lambda of POST /api/v1/connections.
// It seals credentials (KMS_KEY_ID names the key) and never opens them.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	sealer := lambdaapp.Must(secrets.FromEnv(context.Background(), ""))
	handlers := connections.NewHandlers(connections.NewService(connectionsdb.New(app.DB, app.TableName), sealer, nil))
	app.StartRoute(&routes.CreateConnection, http.HandlerFunc(handlers.Create))
}
