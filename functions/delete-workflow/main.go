// Command delete-workflow is the Lambda of DELETE /api/v1/workflows/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("delete-workflow") }
