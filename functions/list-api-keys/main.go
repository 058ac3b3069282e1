// Command list-api-keys is the Lambda of GET /api/v1/auth/api-keys.
package main

import (
	keyswire "github.com/workflowsapi/workflows/internal/keys/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.ListAPIKeys, keyswire.ListAPIKeys(app.Env))
}
