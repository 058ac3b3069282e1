// Command roll-api-key is the Lambda of POST /api/v1/auth/api-keys/{id}/roll.
package main

import (
	keyswire "github.com/workflowsapi/workflows/internal/keys/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
)

func main() {
	app := lambdaapp.MustLoad()
	app.StartRoute(&routes.RollAPIKey, keyswire.RollAPIKey(app.Env))
}
