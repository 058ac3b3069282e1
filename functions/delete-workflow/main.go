// Command delete-workflow is the Lambda of DELETE /api/v1/workflows/{id}.
package main

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/workflows"
)

func main() {
	app := lambdaapp.MustLoad()
	// Deleting a secret seals nothing, so no sealer: this function has no
	// KMS grant and no KMS_KEY_ID (routes.keyActions).
	secrets := webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), nil)
	service := workflows.NewService(workflowsdb.New(app.DB, app.TableName), nil, secrets, nil)
	app.StartRoute(&routes.DeleteWorkflow, http.HandlerFunc(workflows.NewHandlers(service).Delete))
}
