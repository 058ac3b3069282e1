// Package workflows is the workflow feature's model and service: the
// definition users POST and PUT (Definition, its steps and trigger, the
// limits), a workflow's versions and head, the service (versions, If-Match,
// webhook and notification secrets, schedules) and the HTTP handlers.
//
// The rules of a definition (strict parsing, validation, and the jq,
// template, JSON Schema and cron compilers they share with the runner) are
// internal/workflows/definition, which the service is given (WithRules) by
// the routes that write one: a read links none of those compilers. The
// DynamoDB adapter is internal/store/workflowsdb, so the package itself
// imports no DynamoDB and no AWS.
package workflows

import (
	"math"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// The limits of a definition (API.md, "Workflows"; issue 8).
const (
	MaxDefinitionBytes        = 256 << 10 // the body as sent
	MaxNameLength             = 200
	MaxDescriptionLength      = 2000
	MaxSteps                  = 100
	MaxWorkflowTimeoutSeconds = 2_592_000 // 30 days
	MaxStepTimeoutSeconds     = 900       // one attempt must fit in the runner's time budget
	MaxAttempts               = 10
	MaxDelaySeconds           = 2_592_000
	// A wait_for_signal step waits at least a minute (a person is to act)
	// and at most as long as a run may last.
	MinSignalTimeoutSeconds = 60
	MaxSignalTimeoutSeconds = 2_592_000
	MaxInputSchemaBytes     = 64 << 10 // compiling costs time: see compileInputSchema
	MaxInputSchemaDepth     = 64
)

// End is the condition step's else target that ends the run. It is
// reserved: no step may be called "end".
const End = "end"

// TriggerType says what starts a workflow's runs.
type TriggerType string

// The trigger types.
const (
	TriggerManual   TriggerType = "manual"
	TriggerWebhook  TriggerType = "webhook"
	TriggerSchedule TriggerType = "schedule"
)

// StepType says what a step does.
type StepType string

// The step types.
const (
	StepHTTP      StepType = "http"
	StepTransform StepType = "transform"
	StepCondition StepType = "condition"
	StepDelay     StepType = "delay"
	// StepForeach runs one inner step (http or transform) once per item of
	// an array, at most Concurrency at once; its output is the array of the
	// item outputs, in item order.
	StepForeach StepType = "foreach"
	// StepParallel runs 2 to 10 inner steps (http or transform, with ids)
	// at once; its output is an object keyed by inner step id.
	StepParallel StepType = "parallel"
	// StepWorkflow starts a child run of a workflow of the account
	// (WorkflowID, at Version or its current one, with the input the Input
	// jq gives, or {}) and waits for it; its output is the child's output.
	StepWorkflow StepType = "workflow"
	// StepWaitForSignal waits, holding no process, for a signal (by the
	// API or by the step's signalUrl) for at most TimeoutSeconds; its
	// output is the signal's data.
	StepWaitForSignal StepType = "wait_for_signal"
)

// The bounds of the fan-out steps (issue 15).
const (
	MaxForeachItems           = 1000
	MaxForeachConcurrency     = 20
	DefaultForeachConcurrency = 5
	MinParallelSteps          = 2
	MaxParallelSteps          = 10
)

// MaxWorkflowDepth bounds the chain of runs that workflow steps start: a
// top-level run (manual, webhook, schedule or retry) is at depth 1, and a
// run started by a workflow step is one level deeper than its parent, so a
// workflow step of a run at depth 5 fails with DEPTH_EXCEEDED instead of
// starting a sixth level. Validation cannot see it (the child's own steps
// may change after the parent is written, and a workflow may name itself):
// the runner enforces it when the step starts.
const MaxWorkflowDepth = 5

// MaxWorkflowStepVersion is the highest version a workflow step may pin:
// the largest int32, far above any version a workflow reaches (one per
// PUT), and an integer every client's JSON decoder holds exactly.
const MaxWorkflowStepVersion = math.MaxInt32

// Definition is a workflow as users write it. Parse fills it from a request
// body and Validate holds it to the rules; marshalled (with
// go-json-experiment/json) it is the same document, with the name trimmed
// and enabled filled in, and it parses back to itself, so it can be stored
// as JSON and read back through Parse.
type Definition struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Enabled is nil only before Validate, which makes an absent value true.
	Enabled *bool   `json:"enabled,omitzero"`
	Trigger Trigger `json:"trigger"`
	// InputSchema is the JSON Schema a run's input must meet, as given.
	InputSchema jsontext.Value `json:"inputSchema,omitzero"`
	// TimeoutSeconds bounds a whole run; nil is the maximum (30 days).
	TimeoutSeconds *int `json:"timeoutSeconds,omitzero"`
	// Concurrency caps how many of the workflow's runs are running at
	// once (nil: no cap).
	Concurrency *Concurrency `json:"concurrency,omitzero"`
	// Notify sends signed event POSTs about the workflow's runs (nil:
	// none).
	Notify *Notify `json:"notify,omitzero"`
	Steps  []Step  `json:"steps"`
}

// Notify is where and about what a workflow's runs send events: a POST to
// URL on each of Events, signed with the workflow's notification secret
// (internal/webhooks), delivered at least once by internal/notify.
type Notify struct {
	URL    string        `json:"url"`
	Events []NotifyEvent `json:"events"`
}

// NotifyEvent is the type of an event a run sends.
type NotifyEvent string

// The events a run sends: one per status it enters that a watcher waits
// for.
const (
	EventRunSucceeded NotifyEvent = "run.succeeded"
	EventRunFailed    NotifyEvent = "run.failed"
	EventRunTimedOut  NotifyEvent = "run.timed_out"
	EventRunCancelled NotifyEvent = "run.cancelled"
	EventRunWaiting   NotifyEvent = "run.waiting"
)

// NotifyEvents is every event, in the contract's order.
var NotifyEvents = []NotifyEvent{EventRunSucceeded, EventRunFailed, EventRunTimedOut, EventRunCancelled, EventRunWaiting}

// Sends reports whether n lists the event (a nil Notify sends none).
func (n *Notify) Sends(e NotifyEvent) bool {
	return n != nil && slices.Contains(n.Events, e)
}

// Concurrency is a workflow's concurrency limit: at most Limit of its runs
// running at once, or, with Key, at most Limit per value of Key (a jq
// program over the run's context, {input: ...}, as a step's jq sees it
// before any step has run). Runs over the limit stay queued and start in
// the order they were started; waiting runs hold no slot.
type Concurrency struct {
	Limit int    `json:"limit"`
	Key   string `json:"key,omitempty"`
}

// The bounds of a concurrency limit.
const MaxConcurrencyLimit = 1000

// IsEnabled reports whether the workflow may start runs (absent is true).
func (d *Definition) IsEnabled() bool { return d.Enabled == nil || *d.Enabled }

// Trigger says what starts runs. A schedule has Cron and Timezone, or Every.
type Trigger struct {
	Type     TriggerType `json:"type"`
	Cron     string      `json:"cron,omitempty"`     // five fields
	Timezone string      `json:"timezone,omitempty"` // IANA name, with Cron
	Every    string      `json:"every,omitempty"`    // a Go duration of whole minutes: "15m", "1h"
}

// Step is one step of a workflow.
type Step struct {
	// ID is empty only on a foreach's inner step, which runs under the
	// foreach's id: omitted there, so that the stored form parses back.
	ID   string   `json:"id,omitempty"`
	Type StepType `json:"type"`
	// With is the step's own configuration. It is one struct for every
	// type (each type uses its own fields, Validate refuses the others) so
	// that the runner reads typed fields and the definition marshals back
	// as it was written.
	With With `json:"with"`
	// Else is where a condition step goes when its jq is false: a later
	// step's id or End.
	Else           string `json:"else,omitempty"`
	Retry          *Retry `json:"retry,omitzero"`
	TimeoutSeconds *int   `json:"timeoutSeconds,omitzero"` // one attempt
	// OnError is what a failure of the step (after its retries) does:
	// OnErrorFail (the default, also when empty) ends the run failed;
	// OnErrorContinue records the step failed and goes on to the next.
	OnError OnError `json:"onError,omitempty"`
}

// OnError is a step's failure policy.
type OnError string

const (
	OnErrorFail     OnError = "fail"
	OnErrorContinue OnError = "continue"
)

// Continues reports whether a failure of the step lets the run go on.
func (s Step) Continues() bool { return s.OnError == OnErrorContinue }

// With is a step's configuration: http uses Method, URL, Headers, Body and
// Connection; transform and condition use JQ; delay uses Seconds; foreach
// Items, Concurrency and Step; parallel Steps; workflow WorkflowID, Input
// and Version.
type With struct {
	Method     string            `json:"method,omitempty"`
	URL        string            `json:"url,omitempty"`
	Headers    map[string]string `json:"headers,omitzero"` // {} is kept, as it was given
	Body       jsontext.Value    `json:"body,omitzero"`    // any JSON; {} is kept, so omitzero, not omitempty
	Connection string            `json:"connection,omitempty"`
	JQ         string            `json:"jq,omitempty"`
	Seconds    int               `json:"seconds,omitzero"`
	// Items (foreach) is the jq giving the array to go over; Concurrency
	// how many items run at once (0: DefaultForeachConcurrency); Step the
	// inner step, without an id, run once per item with .item and .index.
	Items       string `json:"items,omitempty"`
	Concurrency int    `json:"concurrency,omitzero"`
	Step        *Step  `json:"step,omitzero"`
	// Steps (parallel) are the inner steps run at once, with their ids.
	Steps []Step `json:"steps,omitzero"`
	// WorkflowID (workflow) is the workflow the step starts a child run of:
	// a well-formed id, whose existence is checked when the step runs, not
	// on write (it may be created later). Input is the jq giving the
	// child's input ("": {}); Version the version to run (0: the
	// workflow's current version when the step starts).
	WorkflowID string `json:"workflowId,omitempty"`
	Input      string `json:"input,omitempty"`
	Version    int    `json:"version,omitzero"`
	// TimeoutSeconds (wait_for_signal) is how long the step waits for its
	// signal before it fails with SIGNAL_TIMEOUT.
	TimeoutSeconds int `json:"timeoutSeconds,omitzero"`
}

// ForeachConcurrency is how many items of a foreach run at once.
func (w With) ForeachConcurrency() int {
	if w.Concurrency <= 0 {
		return DefaultForeachConcurrency
	}
	return min(w.Concurrency, MaxForeachConcurrency)
}

// Retry is how often a step is tried in all.
type Retry struct {
	MaxAttempts int `json:"maxAttempts"`
}
