// Command create-workflow is the Lambda of POST /api/v1/workflows.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("create-workflow") }
