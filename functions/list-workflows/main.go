// Command list-workflows is the Lambda of GET /api/v1/workflows.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("list-workflows") }
