// Command get-console is the Lambda of GET /console and GET
// /console/{asset}: the console's page and its assets (internal/console).
// One pipeline, built on routes.GetConsole, serves both routes, which differ
// in their path only.
package main

import (
	"github.com/workflowsapi/workflows/internal/console"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() { lambdaapp.MustLoad().StartRoute(&routes.GetConsole, console.Handler()) }
