// Command run-workflow is the Lambda of POST /api/v1/workflows/{id}/run.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("run-workflow") }
