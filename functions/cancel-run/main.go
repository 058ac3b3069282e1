// Command cancel-run is the Lambda of POST /api/v1/runs/{id}/cancel.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("cancel-run") }
