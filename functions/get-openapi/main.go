// Command get-openapi is the Lambda of GET /api/v1/openapi.json.
package main

import (
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() { lambdaapp.MustLoad().StartRoute(&routes.GetOpenAPI, openapi.Handler()) }
