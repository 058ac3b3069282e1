package secrets_test

import (
	"os"
	"testing"

	"github.com/workflowsapi/workflows/internal/awstest"
)

// TestMain starts moto's server for the tests that run the envelope on the
// KMS sealer too (bothSealers), unless MOTO_ENDPOINT names one already.
func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }
