// Command authorizer is the API Gateway REQUEST authorizer: it resolves the
// x-api-key header to an account, a key id and scopes.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func main() {
	app := lambdaapp.MustLoad()
	lambda.Start(authorizer.New(keysdb.New(app.DB, app.TableName), nil, app.Logger).Handler(os.Getenv))
}
