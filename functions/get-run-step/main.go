// Command get-run-step is the Lambda of GET /api/v1/runs/{id}/steps/{stepId}.
// Its feature is not built yet: it authenticates, limits, checks the scope and
// answers 501 NOT_IMPLEMENTED.
package main

import (
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() { lambdaapp.MustLoad().StartRoute(&routes.GetRunStep, httpapi.NotImplemented) }
