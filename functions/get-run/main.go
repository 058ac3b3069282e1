// Command get-run is the Lambda of GET /api/v1/runs/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("get-run") }
