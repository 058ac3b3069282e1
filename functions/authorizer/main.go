// Command authorizer is the API Gateway REQUEST authorizer: it resolves the
// x-api-key header to an account, a key id and scopes.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	authorizerwire "github.com/workflowsapi/workflows/internal/authorizer/wire"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
)

func main() {
	lambda.Start(authorizerwire.Authorizer(lambdaenv.MustLoad()).Handler(os.Getenv))
}
