// Package runner advances one run: it loads the run and its pinned
// workflow version and executes steps in order (internal/engine) while its
// time budget lasts, until the run ends or must wait: one loop over the
// step records (walk.go), a fan-out's items at once (fanout.go), a
// workflow step's child started and waited for (child.go). Step Functions invokes
// it as a Lambda task; the local driver calls it in-process. Both exchange
// the Task and Decision below.
package runner

// Task is the input of one Advance: the state machine's execution input,
// passed on unchanged to every Advance of the run.
type Task struct {
	AccountID string `json:"accountId"`
	RunID     string `json:"runId"`
	// Failure is set only by the state machine's catch: the Advance failed
	// in a way Step Functions could not retry, and the runner must record
	// the run failed (never with the cause's text, which may hold anything).
	Failure *Failure `json:"failure,omitempty"`
	// Park is set only by the state machine's WaitForEvent state: the
	// execution waits for the task token it carries, which the runner
	// keeps with the run's workflow step, so the child's end completes it.
	Park *Park `json:"park,omitempty"`
}

// Park is the WaitForEvent state's task token ($$.Task.Token).
type Park struct {
	Token string `json:"token"`
}

// Failure is what the state machine's catch passes on.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Decision is what one Advance answers, for the state machine's Choice:
// done → Succeed; waitSeconds > 0 → Wait (SecondsPath $.waitSeconds) →
// Advance; otherwise Advance again at once (the time budget ran out).
type Decision struct {
	Done        bool `json:"done"`
	WaitSeconds int  `json:"waitSeconds"`
	// WaitForEvent: the run waits for an event (a child run's end, a
	// signal), at most WaitSeconds (its deadline, the signal's expiry);
	// the state machine parks in WaitForEvent with a task token that the
	// event completes.
	WaitForEvent bool `json:"waitForEvent"`
	// The task's fields ride along, so the next Advance gets them back.
	AccountID string `json:"accountId"`
	RunID     string `json:"runId"`
}
