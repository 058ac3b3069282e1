// Command roll-notify-secret is the Lambda of POST /api/v1/workflows/{id}/notify/roll.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
	webhookswire "github.com/workflowsapi/workflows/internal/webhooks/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	sealer := lambdaenv.Must(kmssealer.FromEnv(context.Background(), ""))
	app.StartRoute(&routes.RollNotifySecret, webhookswire.RollNotifySecret(app.Env, sealer))
}
