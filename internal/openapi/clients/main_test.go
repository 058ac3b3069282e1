// Package clients_test holds the served OpenAPI document to the client
// generators its users run (oapi-codegen, openapi-python-client,
// openapi-typescript) and to the linters (Spectral, Redocly), and drives the
// API through the generated Go client (goclient). docs/clients.md has the
// commands.
package clients_test

import (
	"os"
	"testing"

	"github.com/workflowsapi/workflows/internal/dynamotest"
)

// TestMain starts dynalite for the tests that serve the API.
func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }
