// Command get-run-step is the Lambda of GET /api/v1/runs/{id}/steps/{stepId}.
package main

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func main() {
	app := lambdaapp.MustLoad()
	// A waiting wait_for_signal step's signalUrl is its token made again
	// under the signal key (kms:GenerateMac): only its hash is stored.
	signalMAC := lambdaapp.Must(signaltoken.FromEnv(context.Background(), ""))
	service := runs.NewService(runsdb.New(app.DB, app.TableName), nil, nil, runs.Options{Logger: app.Logger})
	app.StartRoute(&routes.GetRunStep, http.HandlerFunc(runs.NewHandlers(service).WithSignalMAC(signalMAC).GetStep))
}
