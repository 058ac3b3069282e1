// Command retry-run is the Lambda of POST /api/v1/runs/{id}/retry.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("retry-run") }
