package localapp_test

import (
	"runtime/debug"
	"testing"

	"github.com/workflowsapi/workflows/internal/localapp"
)

// TestTuneGCSetsTheGatewaysTargetUnlessGOGCIsSet: the local gateway collects
// at GCPercent, and a user's GOGC wins.
func TestTuneGCSetsTheGatewaysTargetUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	localapp.TuneGC()
	if got := debug.SetGCPercent(100); got != localapp.GCPercent {
		t.Errorf("without GOGC the target is %d%%, want %d%%", got, localapp.GCPercent)
	}
	t.Setenv("GOGC", "100")
	localapp.TuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100 the target is %d%%, want the user's 100%%", got)
	}
}
