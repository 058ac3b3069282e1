// Command get-connection is the Lambda of GET /api/v1/connections/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("get-connection") }
