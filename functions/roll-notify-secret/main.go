// Command roll-notify-secret is the Lambda of POST /api/v1/workflows/{id}/notify/roll.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func main() {
	app := lambdaapp.MustLoad()
	sealer := lambdaapp.Must(secrets.FromEnv(context.Background(), ""))
	handlers := webhooks.NewHandlers(webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), sealer))
	app.StartRoute(&routes.RollNotifySecret, http.HandlerFunc(handlers.Roll))
}
