// Command create-connection is the Lambda of POST /api/v1/connections.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("create-connection") }
