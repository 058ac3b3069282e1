package kmssealer_test

import (
	"os"
	"testing"

	"github.com/workflowsapi/workflows/internal/awstest"
)

// TestMain starts moto's server for the KMS sealer's tests, unless
// MOTO_ENDPOINT names one already.
func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }
