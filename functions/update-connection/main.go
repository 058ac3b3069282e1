// Command update-connection is the Lambda of PUT /api/v1/connections/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("update-connection") }
