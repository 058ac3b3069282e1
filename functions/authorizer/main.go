// Command authorizer is the API Gateway REQUEST authorizer: it resolves the
// x-api-key header to an account, a key id and scopes.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartAuthorizer() }
