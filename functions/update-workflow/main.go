// Command update-workflow is the Lambda of PUT /api/v1/workflows/{id}.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
	workflowswire "github.com/workflowsapi/workflows/internal/workflows/wire"
	"github.com/workflowsapi/workflows/internal/workflows/wire/writes"
)

func main() {
	app := lambdaapp.MustLoad()
	ctx := context.Background()
	deps := workflowswire.Writes{
		// The sealer seals a webhook workflow's signing secret and the
		// notification secret of one with notify.
		Sealer: lambdaenv.Must(kmssealer.FromEnv(ctx, "")),
		// A schedule workflow's EventBridge Scheduler schedule follows it.
		Scheduler: lambdaenv.Must(eventbridge.NewEventBridgeFromEnv(ctx, true)),
	}
	app.StartRoute(&routes.UpdateWorkflow, writes.UpdateWorkflow(app.Env, deps))
}
