// Command update-connection is the Lambda of PUT /api/v1/connections/{id}.
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
	app.StartRoute(&routes.UpdateConnection, connectionswire.UpdateConnection(app.Env, sealer))
}
