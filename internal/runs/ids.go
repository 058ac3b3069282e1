package runs

import (
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
)

// ScheduledRunID is the id of the run a schedule starts for one firing: a
// ULID whose time is the scheduled time and whose random part is the first
// 10 bytes of SHA-256(workflowId, scheduled time). A firing delivered twice
// (EventBridge Scheduler delivers at least once) makes the same id, and the
// second start finds the first run; ids still sort by time among runs.
func ScheduledRunID(workflowID string, scheduledTime time.Time) string {
	t := scheduledTime.UTC()
	return ids.Derived(ids.PrefixRun, t, "schedule\x00"+workflowID+"\x00"+t.Format(time.RFC3339Nano))
}

// ChildRunID is the id of the child run a parent's workflow step starts,
// made when the step first begins (at) and recorded in the step before the
// child is stored: a repeated Advance reads it there and starts the same
// child, which then already exists. The parent's run id and the step id
// make its random part, so two steps never share a child.
func ChildRunID(parentRunID, stepID string, at time.Time) string {
	return ids.Derived(ids.PrefixRun, at.UTC(), "child\x00"+parentRunID+"\x00"+stepID)
}
