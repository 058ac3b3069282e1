// Command list-runs is the Lambda of GET /api/v1/runs.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("list-runs") }
