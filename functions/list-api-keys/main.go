// Command list-api-keys is the Lambda of GET /api/v1/auth/api-keys.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("list-api-keys") }
