// Command delete-connection is the Lambda of DELETE /api/v1/connections/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("delete-connection") }
