// Command delete-workflow is the Lambda of DELETE /api/v1/workflows/{id}.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
	workflowswire "github.com/workflowsapi/workflows/internal/workflows/wire"
)

func main() {
	app := lambdaapp.MustLoad()
	deps := workflowswire.Writes{
		// Deleting a secret seals nothing, so no sealer: this function has
		// no KMS grant and no KMS_KEY_ID (routes.keyActions). A schedule
		// workflow's schedule goes with it (deleting needs the group only,
		// not the target or its role).
		Scheduler: lambdaenv.Must(eventbridge.NewEventBridgeFromEnv(context.Background(), false)),
	}
	app.StartRoute(&routes.DeleteWorkflow, workflowswire.DeleteWorkflow(app.Env, deps))
}
