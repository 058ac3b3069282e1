// Command roll-api-key is the Lambda of POST /api/v1/auth/api-keys/{id}/roll.
package main

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func main() {
	app := lambdaapp.MustLoad()
	handlers := keys.NewHandlers(keys.NewService(keysdb.New(app.DB, app.TableName), nil))
	app.StartRoute(&routes.RollAPIKey, http.HandlerFunc(handlers.Roll))
}
