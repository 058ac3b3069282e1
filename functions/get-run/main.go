// Command get-run is the Lambda of GET /api/v1/runs/{id}.
package main

import (
	"context"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/routes"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/signaltoken/kmsmac"
)

func main() {
	app := lambdaapp.MustLoad()
	// A waiting wait_for_signal step's signalUrl is its token made again
	// under the signal key (kms:GenerateMac): only its hash is stored.
	signalMAC := lambdaenv.Must(kmsmac.FromEnv(context.Background(), ""))
	app.StartRoute(&routes.GetRun, lambdaenv.Must(runswire.GetRun(app.Env, signalMAC)))
}
