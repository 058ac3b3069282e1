// Package wire builds the receive-webhook function: the one constructor
// that its main and the local gateway both call.
package wire

import (
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/runs/wire/starts"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
	webhookswire "github.com/workflowsapi/workflows/internal/webhooks/wire"
)

// ReceiveWebhook is the handler of routes.ReceiveWebhook: sealer opens the
// workflow's signing secret to check a delivery, and the run starts as the
// run route's does, on d. Its main wraps the Lambda handler in
// receive.OneSignatureEvent, and so does the local gateway.
func ReceiveWebhook(env *lambdaenv.Env, sealer secrets.Sealer, d runswire.Driver) (*receive.Handler, error) {
	starts, err := starts.Service(env, d)
	if err != nil {
		return nil, err
	}
	return receive.New(webhookswire.WebhookSecrets(env, sealer), receive.FromRuns(starts), nil), nil
}
