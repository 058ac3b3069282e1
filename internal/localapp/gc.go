package localapp

import (
	"os"
	"runtime/debug"
)

// GCPercent is the local gateway's garbage collection target: a collection
// when the heap has grown 400% over what the last one left, not Go's 100%.
// The gateway's live heap is a few megabytes, and each request allocates
// about 170 KB (most of it the DynamoDB client's), so at 100% it collected
// every few dozen requests, and those collections were its p99: 1.1 ms of
// its own time at one client and 4.5 ms at eight, against 0.67 and 2.7 ms
// at 400% (docs/performance.md, "The local gateway's own time per
// request"). A few tens of megabytes more are nothing on a developer's
// machine.
const GCPercent = 400

// TuneGC sets GCPercent, unless GOGC says otherwise (a user's own setting
// wins). cmd/local-gateway calls it first, and the benchmark of the
// gateway's own time does too, to measure it as make dev runs it.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
