// Package orchestrator holds what the drivers of runs share: the Step
// Functions adapter (internal/orchestrator/sfn) and the local driver
// (internal/orchestrator/local) both drive a run through the same three
// states around the runner (Advance, Wait, Succeed), and the periodic start
// check asks either of them how a run's execution stands. It is a leaf: it
// imports no feature, so the drivers take the runner as a callback and the
// runs routes reach a driver through runs.Orchestrator.
package orchestrator

import (
	"context"
	"errors"
	"time"
)

// ExecutionState is how the execution driving a run stands, as the start
// check sees it.
type ExecutionState string

// The states of an execution. Each terminal one maps a Step Functions
// execution status: SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
const (
	// ExecutionNotFound: no execution was ever started for the run (or
	// its history expired).
	ExecutionNotFound  ExecutionState = "not_found"
	ExecutionRunning   ExecutionState = "running"
	ExecutionSucceeded ExecutionState = "succeeded"
	ExecutionFailed    ExecutionState = "failed"
	ExecutionTimedOut  ExecutionState = "timed_out"
	ExecutionAborted   ExecutionState = "aborted"
)

// Ended reports whether the execution has stopped for good.
func (s ExecutionState) Ended() bool {
	switch s {
	case ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted:
		return true
	}
	return false
}

// Executions tells how the execution of a run stands: the Step Functions
// adapter answers with DescribeExecution of the execution named after the
// run id (ExecutionNotFound for ExecutionDoesNotExist).
type Executions interface {
	Describe(ctx context.Context, runID string) (ExecutionState, error)
}

// Outcome is what one Advance of a run answered, as a driver needs it: the
// runner's Decision without its JSON.
type Outcome struct {
	// Done: the run has ended; the driver stops driving it.
	Done bool
	// Wait: the driver comes back after this long (a delay, a back-off);
	// zero with Done false means advance again at once (the runner's time
	// budget ran out).
	Wait time.Duration
	// WaitForEvent: the run waits for an event that wakes it (a child
	// run's end, a signal), at most Wait (the run's deadline, the
	// signal's expiry). Step Functions parks it on a task
	// token; the local driver on a timer that a wake-up cuts short.
	WaitForEvent bool
}

// AdvanceFunc advances one run once: the runner's Advance, given to a
// driver as a callback so the driver links no feature. failure is non-nil
// only when the driver gives up on a run whose Advance kept failing (the
// state machine's catch): the runner then records the run failed.
type AdvanceFunc func(ctx context.Context, accountID, runID string, failure error) (Outcome, error)

// ErrGaveUp is the failure a driver hands to AdvanceFunc after too many
// Advances of a run failed in a row.
var ErrGaveUp = errors.New("orchestrator: the run's Advance kept failing")

// Machine is the state machine a run's executions run on. Runs that never
// wait (no delay, signal, child, concurrency queue or notify) and provably
// end within ExpressMaxSeconds run on Express: about $1 per million
// executions and their duration, against Standard's $0.025 per thousand
// state transitions (three for a run that does not wait). Every other run
// is on Standard, whose waits hold nothing and whose task tokens park a
// run. The same runner advances both: its conditional writes make
// Express's at-least-once start safe (two executions of one run record one
// set of step effects).
type Machine string

const (
	// Standard is the zero value, so runs stored before Express read as
	// Standard runs.
	Standard Machine = ""
	Express  Machine = "express"
)

// ExpressMaxSeconds bounds the runs that go on Express: Express executions
// end after five minutes (300 s), and a minute is kept for the Advance that
// ends a run at its deadline and for the state machine's own retries of
// Lambda's errors. A run that still outlives its execution is started
// again by the start check (ExpressGone), and its next Advance ends it.
const ExpressMaxSeconds = 240

// ExpressLifetime is the longest an Express execution lives: after a run's
// creation and this, no execution the route started for it can still be
// running.
const ExpressLifetime = 5 * time.Minute

// DeliverySuffix ends the name of a run's delivery execution: the one that
// delivers the events of a run whose own execution was stopped (a cancel of
// a waiting run) or ended before its events were delivered.
const DeliverySuffix = "-notify"

// DeliveryExecution is the name of runID's delivery execution.
func DeliveryExecution(runID string) string { return runID + DeliverySuffix }
