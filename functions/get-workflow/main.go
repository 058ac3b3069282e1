// Command get-workflow is the Lambda of GET /api/v1/workflows/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("get-workflow") }
