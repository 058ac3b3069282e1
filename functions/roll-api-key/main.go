// Command roll-api-key is the Lambda of POST /api/v1/auth/api-keys/{id}/roll.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("roll-api-key") }
