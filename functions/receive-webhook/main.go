// Command receive-webhook is the Lambda of POST /api/v1/webhooks/{workflowId}:
// it checks a delivery's signature (opening the workflow's sealed secret:
// kms:Decrypt) and starts a run with the body as its input.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
)

func main() {
	app := lambdaapp.MustLoad()
	// The sealer opens the workflow's signing secret to check a delivery.
	sealer := lambdaapp.Must(secrets.FromEnv(context.Background(), ""))
	retention := lambdaapp.Must(runs.RetentionFromEnv())
	executions := lambdaapp.Must(sfn.FromEnv(context.Background()))
	starts := runs.NewService(runsdb.New(app.DB, app.TableName).WithRetention(retention), workflowsdb.New(app.DB, app.TableName),
		executions, runs.Options{Retention: retention, Logger: app.Logger})
	handler := receive.New(webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), sealer), receive.FromRuns(starts), nil)
	// The event is checked for a second signature before the proxy
	// adapter, which reads one of its two header maps only.
	app.StartRoute(&routes.ReceiveWebhook, handler, receive.OneSignatureEvent)
}
