// Command update-workflow is the Lambda of PUT /api/v1/workflows/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("update-workflow") }
