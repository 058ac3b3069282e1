// Command revoke-api-key is the Lambda of DELETE /api/v1/auth/api-keys/{id}.
package main

import (
	keyswire "github.com/workflowsapi/workflows/internal/keys/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.RevokeAPIKey, keyswire.RevokeAPIKey(app.Env))
}
