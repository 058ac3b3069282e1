// Command receive-webhook is the Lambda of POST /api/v1/webhooks/{workflowId}:
// it checks a delivery's signature (opening the workflow's sealed secret:
// kms:Decrypt) and starts a run with the body as its input.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
	receivewire "github.com/workflowsapi/workflows/internal/webhooks/receive/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	ctx := context.Background()
	// The sealer opens the workflow's signing secret to check a delivery.
	sealer := lambdaenv.Must(kmssealer.FromEnv(ctx, ""))
	machine := runswire.OnStateMachine(lambdaenv.Must(sfn.FromEnv(ctx)))
	handler := lambdaenv.Must(receivewire.ReceiveWebhook(app.Env, sealer, machine))
	// The event is checked for a second signature before the proxy
	// adapter, which reads one of its two header maps only.
	app.StartRoute(&routes.ReceiveWebhook, handler, receive.OneSignatureEvent)
}
