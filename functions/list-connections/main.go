// Command list-connections is the Lambda of GET /api/v1/connections.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("list-connections") }
