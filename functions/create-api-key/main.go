// Command create-api-key is the Lambda of POST /api/v1/auth/api-keys.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("create-api-key") }
