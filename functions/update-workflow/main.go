// Command update-workflow is the Lambda of PUT /api/v1/workflows/{id}.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/workflows"
)

func main() {
	app := lambdaapp.MustLoad()
	// The sealer seals a webhook workflow's signing secret and the
	// notification secret of one with notify.
	sealer := lambdaapp.Must(secrets.FromEnv(context.Background(), ""))
	// A schedule workflow's EventBridge Scheduler schedule follows it.
	sched := schedules.NewService(lambdaapp.Must(schedules.NewEventBridgeFromEnv(context.Background(), true)), schedulesdb.New(app.DB, app.TableName), nil)
	service := workflows.NewService(workflowsdb.New(app.DB, app.TableName), connectionsdb.New(app.DB, app.TableName),
		webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), sealer), nil).WithSchedules(sched).
		WithNotifySecrets(webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), sealer))
	app.StartRoute(&routes.UpdateWorkflow, http.HandlerFunc(workflows.NewHandlers(service).Update))
}
