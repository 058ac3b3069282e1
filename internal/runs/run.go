// Package runs is the run feature: the run model and its status
// transitions, and starting, reading, cancelling and retrying runs (the
// routes). It does not execute steps: internal/runner does, driven by an
// Orchestrator (Step Functions in AWS, the local driver in the local
// gateway). What both sides share is here: the Run and Step records and the
// Store that keeps them, whose conditional writes make a run safe under
// repetition.
package runs

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/orchestrator"
)

// Status is where a run is in its life.
type Status string

// The statuses of a run. queued → running (→ waiting during a delay or a
// back-off; → cancelling while a cancelled run finishes its current step) →
// succeeded | failed | cancelled | timed_out. A finished run never changes.
const (
	StatusQueued     Status = "queued"
	StatusRunning    Status = "running"
	StatusWaiting    Status = "waiting"
	StatusCancelling Status = "cancelling"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
	StatusTimedOut   Status = "timed_out"
)

// Statuses lists every status, for validating ?status=.
var Statuses = []Status{StatusQueued, StatusRunning, StatusWaiting, StatusCancelling, StatusSucceeded, StatusFailed, StatusCancelled, StatusTimedOut}

// Finished reports whether a run in this status has ended for good.
func (s Status) Finished() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusTimedOut:
		return true
	}
	return false
}

// Trigger says what started a run.
type Trigger string

// The triggers.
const (
	TriggerManual   Trigger = "manual"
	TriggerWebhook  Trigger = "webhook"
	TriggerSchedule Trigger = "schedule"
	TriggerRetry    Trigger = "retry"
	// TriggerWorkflow: a parent run's workflow step started the run.
	TriggerWorkflow Trigger = "workflow"
)

// Error is why a run or a step failed, as the API shows it. Code is a short
// machine-readable reason (e.g. "HTTP_STATUS", "TIMEOUT", "JQ_ERROR",
// "CONNECTION_NOT_FOUND", "OUTPUT_TOO_LARGE", "TARGET_REFUSED"); Message says
// it for a person and never holds a credential.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Step is the id of the step that failed the run (runs only).
	Step string `json:"step,omitempty"`
}

// Run is one execution of one pinned version of a workflow.
type Run struct {
	ID              string
	AccountID       string
	WorkflowID      string
	WorkflowVersion int
	Status          Status
	Trigger         Trigger
	// RetryOf is the run this one retries ("" for none).
	RetryOf string
	// ParentRunID and ParentStepID name the run and the workflow step that
	// started this one ("" for any other run). Depth is how deep it is: 1
	// for a run started any other way, its parent's and one for a child
	// (0, in runs stored before depths, reads as 1).
	ParentRunID  string
	ParentStepID string
	Depth        int
	Input        jsontext.Value
	// Output is the run's result: the output of its last step that ran.
	Output jsontext.Value
	Error  *Error
	// CreatedAt is when the run was queued; StartedAt when its first step
	// began and FinishedAt when it ended (zero until then).
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time

	// What the runner owns. NextStep is the index of the step to run next
	// (len(steps) once all have run); WaitUntil is when a waiting run goes
	// on. Deadline is when the workflow's timeoutSeconds ends the run.
	NextStep  int
	WaitUntil time.Time
	Deadline  time.Time
	// WaitingFor is the child run a waiting run waits for (a workflow
	// step): the start check resumes a parent whose child ended without
	// telling it.
	WaitingFor string
	// A run of a workflow with a concurrency limit (concurrency.go):
	// ConcurrencyGroup names the limit it counts against (its account, its
	// workflow and its key's value), ConcurrencyLimit is the limit, Slot
	// is the slot it holds while running (its index + 1; 0: none) and
	// SlotLeaseUntil when that slot is free for others if the run is not
	// heard of again.
	ConcurrencyGroup string
	ConcurrencyLimit int
	Slot             int
	SlotLeaseUntil   time.Time
	// Notify is the notify of the version the run pinned (nil: none), and
	// Notifications the events it has recorded, oldest first, with how
	// each one's delivery stands (notifications.go).
	Notify        *NotifyTarget
	Notifications []Notification
	// Machine is the state machine the run's executions run on
	// (MachineFor, chosen when the run was created).
	Machine orchestrator.Machine
	// Revision counts the writes of the run item. Every write after the
	// first is conditional on the revision read (Store.Update), so two
	// invocations racing on one run cannot both move it, and it never goes
	// backwards.
	Revision int64
	// ExpiresAt is when the run and its steps may be deleted (TTL).
	ExpiresAt time.Time
	// StoredOutputDigest is the store's own: the digest of an Output kept in
	// its own item, as last read or written, so that an Update leaving the
	// output as it was does not write it again (up to 256 write units), and
	// a reader that only drops a marker needs no PutItem.
	StoredOutputDigest string
}

// StepStatus is where one step of a run is.
type StepStatus string

// The statuses of a step.
const (
	StepRunning   StepStatus = "running"   // an attempt began (and may have been cut off)
	StepWaiting   StepStatus = "waiting"   // between attempts (back-off) or during a delay
	StepSucceeded StepStatus = "succeeded" // its output is recorded; it never runs again
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped" // a condition jumped past it
	StepCancelled StepStatus = "cancelled"
)

// Step is the record of one step of a run: one item per step, written with
// conditional writes at each attempt.
type Step struct {
	RunID  string
	StepID string
	// Index is the step's place in the workflow version.
	Index    int
	Status   StepStatus
	Attempts int
	// StartedAt is when the first attempt began; FinishedAt when the step
	// ended (zero until then); NextAttemptAt when a waiting step is tried
	// again.
	StartedAt     time.Time
	FinishedAt    time.Time
	NextAttemptAt time.Time
	// Output is the step's whole output (up to MaxStepOutputBytes).
	Output jsontext.Value
	Error  *Error
	// Reused marks a step whose output was copied from the run this one
	// retries ({"from": "failed_step"}); it did not run again.
	Reused bool
	// ChildRunID is the run a workflow step started (its id is written
	// here before the child is stored, so a repeated Advance starts it
	// once). TaskToken is the Step Functions task token of the parent's
	// execution waiting for that child: the child's end completes it. It
	// is a credential of the execution: never shown, never logged.
	ChildRunID string
	TaskToken  string
	// Jump is where the run goes after this step, as the engine answered
	// it when the step succeeded: "" is the next step in order, else a
	// later step's id or "end" (a condition that was false). The runner
	// follows what is recorded and never decides it again.
	Jump string
	// Items, while a foreach is open, are the items its program gave (a
	// JSON array): every item, on every resume, is the one it was. A
	// parallel's are {"innerSteps": [ids]}, kept after it ends. ItemCount
	// is how many items a fan-out (foreach, parallel) has, once planned.
	Items     jsontext.Value
	ItemCount int
	// A wait_for_signal step's wait (signals.go): SignalNonce is the random
	// half of its token (the other is the signal key, which never leaves
	// KMS), SignalHash the token's sha256, SignalExpiresAt when the wait
	// ends (SIGNAL_TIMEOUT) and SignalledAt when its signal came. The token
	// itself is never stored.
	SignalNonce     string
	SignalHash      string
	SignalExpiresAt time.Time
	SignalledAt     time.Time
	// History is every attempt of the step, oldest first (at most
	// MaxAttemptHistory, the latest): what a timeline draws, one bar per
	// attempt with the gaps between them. WithHistory keeps it in step
	// with the record; a step written before it was kept has none.
	History []Attempt
	// Revision counts the writes of the step item, as Run.Revision does.
	Revision int64
}

// Attempt is one attempt of a step: when it began and ended (FinishedAt
// zero while it is open) and how. Its Status is running or waiting (a
// delay, a signal or a child run being waited for) while open, and
// succeeded, failed or cancelled once ended.
type Attempt struct {
	Number     int
	Status     StepStatus
	StartedAt  time.Time
	FinishedAt time.Time
	Error      *Error
}

// MaxAttemptHistory bounds a step's History. A step's attempts are bounded
// by its retry policy (workflows.MaxAttempts), but a runner that dies
// mid-attempt over and over adds one each time; past the bound the oldest
// are dropped.
const MaxAttemptHistory = 20

// WithHistory brings s.History in line with the record as it is about to
// be written at now: an attempt for each one counted and not yet in it (an
// attempt still open when a later one began was cut off: failed), and the
// last attempt's status and end from the step's. Every writer of a step
// that moves it (the runner's putStep, EndOpenSteps, a signal) calls it
// with its own clock, so each attempt is told where it begins and ends
// without each path of the runner tracking it. A reused step (a retry's
// copy) did not run in its run: it has none.
func (s Step) WithHistory(now time.Time) Step {
	if s.Reused {
		return s
	}
	h := slices.Clone(s.History)
	for n := len(h) + 1; n <= s.Attempts; n++ {
		if k := len(h); k > 0 && h[k-1].FinishedAt.IsZero() {
			h[k-1].Status, h[k-1].FinishedAt = StepFailed, now
		}
		start := now
		if len(h) == 0 && !s.StartedAt.IsZero() {
			start = s.StartedAt
		}
		h = append(h, Attempt{Number: n, Status: StepRunning, StartedAt: start})
	}
	if k := len(h); k > 0 && h[k-1].FinishedAt.IsZero() {
		last := &h[k-1]
		end := s.FinishedAt
		if end.IsZero() {
			end = now
		}
		switch s.Status {
		case StepRunning:
			last.Status = StepRunning
		case StepWaiting:
			// Waiting with an error is the back-off after a failed
			// attempt; without one, the attempt itself waits.
			if s.Error != nil {
				last.Status, last.FinishedAt, last.Error = StepFailed, now, s.Error
			} else {
				last.Status = StepWaiting
			}
		case StepSucceeded, StepFailed, StepCancelled:
			last.Status, last.FinishedAt, last.Error = s.Status, end, s.Error
		}
	}
	if len(h) > MaxAttemptHistory {
		h = h[len(h)-MaxAttemptHistory:]
	}
	s.History = h
	return s
}

// EndAttempt records the open attempt of s as ended at now, failed with e,
// where the step's record does not say so yet: after a short back-off the
// runner sleeps through without a write, the next attempt's write carries
// the failure with its real end.
func (s Step) EndAttempt(now time.Time, e *Error) Step {
	if k := len(s.History); k > 0 && s.History[k-1].FinishedAt.IsZero() {
		s.History = slices.Clone(s.History)
		s.History[k-1].Status, s.History[k-1].FinishedAt, s.History[k-1].Error = StepFailed, now, e
	}
	return s
}

// Item is the record of one item of a fan-out step: a foreach's item at
// Index, or a parallel's inner step number Index (ID its id). Like a step,
// it has its own attempts, and each attempt is a conditional write on it,
// so a resume redoes only the items that had not succeeded.
type Item struct {
	RunID  string
	StepID string
	Index  int
	// ID is a parallel's inner step id ("" for a foreach item).
	ID            string
	Status        StepStatus
	Attempts      int
	StartedAt     time.Time
	FinishedAt    time.Time
	NextAttemptAt time.Time
	Output        jsontext.Value
	Error         *Error
	// Reused marks an item copied from the run this one retries.
	Reused   bool
	Revision int64
}

// Open reports whether an item has not ended.
func (it Item) Open() bool { return it.Status == StepRunning || it.Status == StepWaiting }

// Reused is what a retry from the failed step copies into its new run: the
// steps that completed before it, and the items of it that succeeded.
type Reused struct {
	Steps []Step
	Items []Item
}

// Limits of what a run keeps and shows.
const (
	// MaxStepOutputBytes is the most a step's output may hold; a bigger one
	// fails the step with OUTPUT_TOO_LARGE.
	MaxStepOutputBytes = 256 << 10
	// MaxStepRecordBytes is the most a step record's output may hold: an
	// http step's output is the response's status and headers besides its
	// body of at most MaxStepOutputBytes.
	MaxStepRecordBytes = MaxStepOutputBytes + 64<<10
	// MaxShownOutputBytes is the most of a step's output GET /runs/{id}
	// shows; beyond it the output is cut and marked truncated.
	MaxShownOutputBytes = 16 << 10
	// DefaultRetention is how long runs are kept (RUN_RETENTION_DAYS
	// overrides it).
	DefaultRetention = 30 * 24 * time.Hour
	// StoreGrace is how long a run's items outlive the later of its
	// visible expiry and its deadline before DynamoDB's TTL may delete
	// them: time for the start check to end a run still open at its
	// deadline. The store never lets TTL delete an open run's items.
	StoreGrace = 24 * time.Hour
)

// Errors of a Store besides domain.ErrNotFound (and domain.ErrBadCursor from
// List).
var (
	// ErrExists: a run with this id is already stored (a start repeated:
	// the same idempotency key, the same webhook delivery, the same
	// scheduled firing).
	ErrExists = errors.New("runs: a run with this id exists")
	// ErrRevision: the item was written by someone else since it was read.
	ErrRevision = errors.New("runs: the record changed since it was read")
)

// Filter narrows a listing of runs. Empty fields do not filter.
type Filter struct {
	WorkflowID string
	Status     Status
	// ParentRunID lists the runs that run's workflow steps started.
	ParentRunID string
}

// RunDepth is a run's depth, 1 for runs stored before depths were.
func (r Run) RunDepth() int { return max(r.Depth, 1) }

// ChildRef is a parent run's record of a child it started (written before
// the child): listing a run's children, and cancelling them with it, read
// these, so no index is needed.
type ChildRef struct {
	ParentRunID string
	ChildRunID  string
	StepID      string
	AccountID   string
}

// RunRef names a run without reading it: what the unfinished-run markers
// hold, for the driver's resume and the periodic start check.
type RunRef struct {
	AccountID string
	RunID     string
	// CreatedAt comes from the run id (ids sort by creation time).
	CreatedAt time.Time
}

// Store keeps runs and their steps (internal/store/keys.go has the items).
// Get returns domain.ErrNotFound for a run that is absent or another
// account's.
type Store interface {
	// Create writes the run's unfinished marker, then a child's ChildRef in
	// its parent's partition, then the run (Revision 1), then any steps and
	// items given (a retry's reused outputs). ErrExists if the run id is
	// taken: Create writes nothing more then.
	Create(ctx context.Context, run Run, reused Reused) error
	// Get reads one run (strongly consistent).
	Get(ctx context.Context, account, runID string) (Run, error)
	// List pages through an account's runs, newest first.
	List(ctx context.Context, account string, filter Filter, limit int, cursor string) (domain.Page[Run], error)
	// Update writes run with Revision+1 if the stored revision is still
	// run.Revision (ErrRevision otherwise) and returns the run as written.
	// A run stored cancelling may only become cancelled: any other end is
	// ErrRevision too. A run that reaches a finished status also loses its
	// unfinished marker.
	Update(ctx context.Context, run Run) (Run, error)
	// Steps reads every step record of a run, in workflow order.
	Steps(ctx context.Context, runID string) ([]Step, error)
	// Step reads one step record (domain.ErrNotFound if it never began).
	Step(ctx context.Context, runID, stepID string) (Step, error)
	// PutStep writes step with Revision+1 if the stored revision is still
	// step.Revision (0: the step must not exist yet), ErrRevision otherwise,
	// and returns it as written.
	PutStep(ctx context.Context, step Step) (Step, error)
	// Items reads every item record of a fan-out step, in index order.
	Items(ctx context.Context, runID, stepID string) ([]Item, error)
	// PutItem writes item with Revision+1 if the stored revision is still
	// item.Revision (0: it must not exist yet), ErrRevision otherwise.
	PutItem(ctx context.Context, item Item) (Item, error)
	// Children lists the children a run started (ChildRef), oldest first.
	Children(ctx context.Context, parentRunID string) ([]ChildRef, error)
	// Unfinished lists the runs whose marker is still there: queued,
	// running, waiting or cancelling, or ended with events left to
	// deliver (or ended, in the moment before the marker is removed).
	Unfinished(ctx context.Context) ([]RunRef, error)
}

// Orchestrator drives runs: Step Functions in AWS, the in-process driver in
// the local gateway. Both follow the same three states (Advance, Wait,
// Succeed) around the runner.
type Orchestrator interface {
	// Start starts driving a run that is stored as queued, on machine (the
	// run's Machine). Starting a run that is already driven (or was) is not
	// an error: on Standard it starts nothing, executions being named after
	// the run id; on Express it may start a second execution, which the
	// runner's conditional writes make harmless.
	Start(ctx context.Context, accountID, runID string, machine orchestrator.Machine) error
	// Stop stops driving a run (a cancelled queued or waiting run). Stopping
	// one that is not driven is not an error.
	Stop(ctx context.Context, runID string) error
	// StartDelivery drives a run that has ended, and whose execution was
	// stopped, until its events are delivered: the runner's Advance of an
	// ended run delivers them and waits between attempts. In Step
	// Functions it is a second execution of the one state machine, named
	// orchestrator.DeliveryExecution(runID); starting it twice starts it
	// once.
	StartDelivery(ctx context.Context, accountID, runID string) error
}
