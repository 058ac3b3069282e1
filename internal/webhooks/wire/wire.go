// Package wire builds the roll functions of the webhooks feature: the one
// constructor that each main and the local gateway both call.
package wire

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// WebhookSecrets are a workflow's webhook signing secrets, sealed by
// sealer (nil: they can be dropped, not made or opened).
func WebhookSecrets(env *lambdaenv.Env, sealer secrets.Sealer) *webhooks.Secrets {
	return webhooks.NewSecrets(webhooksdb.New(env.DB, env.TableName), sealer)
}

// NotifySecrets are a workflow's notification secrets, sealed by sealer
// (nil: they can be dropped, not made or opened).
func NotifySecrets(env *lambdaenv.Env, sealer secrets.Sealer) *webhooks.Secrets {
	return webhooks.NewNotifySecrets(webhooksdb.NewNotify(env.DB, env.TableName), sealer)
}

// RollWebhookSecret is the handler of routes.RollWebhookSecret.
func RollWebhookSecret(env *lambdaenv.Env, sealer secrets.Sealer) http.Handler {
	return http.HandlerFunc(webhooks.NewHandlers(WebhookSecrets(env, sealer)).Roll)
}

// RollNotifySecret is the handler of routes.RollNotifySecret.
func RollNotifySecret(env *lambdaenv.Env, sealer secrets.Sealer) http.Handler {
	return http.HandlerFunc(webhooks.NewHandlers(NotifySecrets(env, sealer)).Roll)
}
