package sfn

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// moto keeps its executions RUNNING until stopped, so the other statuses
// are mapped here.
func TestEveryExecutionStatusHasAState(t *testing.T) {
	want := map[types.ExecutionStatus]ExecutionState{
		types.ExecutionStatusRunning:        ExecutionRunning,
		types.ExecutionStatusPendingRedrive: ExecutionRunning,
		types.ExecutionStatusSucceeded:      ExecutionSucceeded,
		types.ExecutionStatusFailed:         ExecutionFailed,
		types.ExecutionStatusTimedOut:       ExecutionTimedOut,
		types.ExecutionStatusAborted:        ExecutionAborted,
	}
	for _, status := range types.ExecutionStatus("").Values() {
		got, err := stateOf(status)
		if err != nil || got != want[status] {
			t.Errorf("%s: %q, %v; want %q", status, got, err, want[status])
		}
	}
	if _, err := stateOf("PAUSED"); err == nil {
		t.Error("an unknown status was given a state")
	}
	for state, ended := range map[ExecutionState]bool{ExecutionRunning: false, ExecutionNotFound: false, ExecutionSucceeded: true, ExecutionFailed: true, ExecutionTimedOut: true, ExecutionAborted: true} {
		if state.Ended() != ended {
			t.Errorf("%s.Ended() = %v", state, !ended)
		}
	}
}
