// Command roll-webhook-secret is the Lambda of POST /api/v1/workflows/{id}/webhook/roll.
// Its feature is not built yet: it authenticates, limits, checks the scope and
// answers 501 NOT_IMPLEMENTED.
package main

import (
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() { lambdaapp.MustLoad().StartRoute(&routes.RollWebhookSecret, httpapi.NotImplemented) }
