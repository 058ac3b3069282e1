// Command create-connection is the Lambda of POST /api/v1/connections.
// It seals credentials (KMS_KEY_ID names the key) and never opens them.
package main

import (
	"context"

	connectionswire "github.com/workflowsapi/workflows/internal/connections/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
)

func main() {
	app := lambdaapp.MustLoad()
	// The sealer seals the credentials (kms:GenerateDataKey).
	sealer := lambdaenv.Must(kmssealer.FromEnv(context.Background(), ""))
	app.StartRoute(&routes.CreateConnection, connectionswire.CreateConnection(app.Env, sealer))
}
