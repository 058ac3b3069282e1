// Command delete-workflow is the Lambda of DELETE /api/v1/workflows/{id}.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/workflows"
)

func main() {
	app := lambdaapp.MustLoad()
	// Deleting a secret seals nothing, so no sealer: this function has no
	// KMS grant and no KMS_KEY_ID (routes.keyActions).
	webhookSecrets := webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), nil)
	notifySecrets := webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), nil)
	// A schedule workflow's EventBridge Scheduler schedule goes with it
	// (deleting needs the group only, not the target or its role).
	sched := schedules.NewService(lambdaapp.Must(schedules.NewEventBridgeFromEnv(context.Background(), false)), schedulesdb.New(app.DB, app.TableName), nil)
	service := workflows.NewService(workflowsdb.New(app.DB, app.TableName), nil, webhookSecrets, nil).WithSchedules(sched).WithNotifySecrets(notifySecrets)
	app.StartRoute(&routes.DeleteWorkflow, http.HandlerFunc(workflows.NewHandlers(service).Delete))
}
