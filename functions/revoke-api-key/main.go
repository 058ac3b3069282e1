// Command revoke-api-key is the Lambda of DELETE /api/v1/auth/api-keys/{id}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("revoke-api-key") }
