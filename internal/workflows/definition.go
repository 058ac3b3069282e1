// Package workflows is the workflow feature. It owns the definition: the
// model users POST and PUT (Definition), its strict parsing (Parse) and
// every rule a definition must meet before it is stored (Validate), so that
// nothing stored is refused later by the runner. The compilers validation
// uses (CompileJQ, CompileTemplate, CompileInputSchema and the schedule's
// SchedulerExpression) are exported for the runner, the run start and the
// scheduler to reuse, so that what was accepted on write is exactly what
// runs. The service (service.go: versions, If-Match, webhook secrets) and
// the HTTP handlers (handlers.go) are in the shape of internal/keys; the
// DynamoDB adapter is internal/store/workflowsdb, so the package itself
// imports no DynamoDB and no AWS.
package workflows

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonfield"
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
	// limitMissing: the body had no limit (decodeConcurrency said so; the
	// range is not checked again).
	limitMissing bool
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

// Parse reads a definition from a request body and validates it, as
// Validate does: the result is nil or a VALIDATION_ERROR listing every
// problem found, each with the path of its field (steps[2].with.jq). The
// decoding is as strict as the rest of the API's (httpapi.DecodeJSON):
// names match exactly, and a name given twice, an unknown name, a member
// given as null (except inside a step's body and the input schema, which
// are any JSON) and a value of the wrong type are refused. Unlike a single
// json.Unmarshal, which stops at the first of these, Parse reads the body
// member by member so that one answer names them all. An empty body reads
// as {}. Any error that is not a *domain.Error comes from exists.
func Parse(body []byte, exists ConnectionExists) (Definition, error) {
	if len(body) > MaxDefinitionBytes {
		// Checked first, so an oversized body costs no decoding. The
		// pipeline answers 413 before this for a request; this is for every
		// other caller.
		return Definition{}, domain.Invalid(domain.FieldError{Field: "body", Message: fmt.Sprintf("must be at most %d bytes (256 KiB)", MaxDefinitionBytes)})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	p := newProblems()
	var root jsontext.Value
	// One pass over the whole body finds malformed JSON, invalid UTF-8 and
	// names given twice anywhere (inside a body or schema too), so that
	// every value read below is known to be well formed.
	if err := json.Unmarshal(body, &root); err != nil {
		p.addJSON("", err)
		return Definition{}, p.err()
	}
	if root.Kind() != '{' {
		p.add("body", "must be a JSON object")
		return Definition{}, p.err()
	}
	d := decodeDefinition(p, root)
	if err := d.validate(p, exists); err != nil {
		return Definition{}, err
	}
	if err := p.err(); err != nil {
		return Definition{}, err
	}
	return d, nil
}

func decodeDefinition(p *problems, root jsontext.Value) Definition {
	var d Definition
	for _, m := range p.members("", root) {
		switch m.name {
		case "name":
			p.decode(m.field, m.value, &d.Name)
		case "description":
			p.decode(m.field, m.value, &d.Description)
		case "enabled":
			p.decode(m.field, m.value, &d.Enabled)
		case "trigger":
			d.Trigger = decodeTrigger(p, m.field, m.value)
		case "inputSchema":
			d.InputSchema = compact(m.value)
		case "timeoutSeconds":
			p.decode(m.field, m.value, &d.TimeoutSeconds)
		case "concurrency":
			d.Concurrency = decodeConcurrency(p, m.field, m.value)
		case "notify":
			d.Notify = decodeNotify(p, m.field, m.value)
		case "steps":
			d.Steps = decodeSteps(p, m.field, m.value, false)
		default:
			p.unknown(m.field)
		}
	}
	return d
}

// decodeConcurrency reads a concurrency limit; Validate checks its values.
func decodeConcurrency(p *problems, path string, raw jsontext.Value) *Concurrency {
	c := &Concurrency{}
	members := p.members(path, raw)
	given := map[string]bool{}
	for _, m := range members {
		given[m.name] = true
		switch m.name {
		case "limit":
			p.decode(m.field, m.value, &c.Limit)
		case "key":
			p.decode(m.field, m.value, &c.Key)
			if string(m.value) == `""` {
				p.add(m.field, "must not be empty; leave it out for one limit over all the workflow's runs")
			}
		default:
			p.unknown(m.field)
		}
	}
	if !given["limit"] && raw.Kind() == '{' {
		p.add(path+".limit", "is required: how many runs may be running at once, 1 to 1000")
		c.limitMissing = true
	}
	return c
}

// decodeNotify reads a workflow's notify; Validate checks its values.
func decodeNotify(p *problems, path string, raw jsontext.Value) *Notify {
	n := &Notify{}
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "url":
			p.decode(m.field, m.value, &n.URL)
		case "events":
			p.decode(m.field, m.value, &n.Events)
		default:
			p.unknown(m.field)
		}
	}
	return n
}

// decodeSteps reads a list of steps: the workflow's, or a parallel's
// (inner).
func decodeSteps(p *problems, path string, raw jsontext.Value, inner bool) []Step {
	var list []jsontext.Value
	if !p.decode(path, raw, &list) {
		return nil
	}
	// An empty list stays non-nil: it was given, and Validate says why it
	// is not enough.
	steps := make([]Step, len(list))
	for i, s := range list {
		steps[i] = decodeStep(p, path+"["+strconv.Itoa(i)+"]", s, inner)
	}
	return steps
}

func decodeTrigger(p *problems, path string, raw jsontext.Value) Trigger {
	var t Trigger
	var given []member
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "type":
			p.decode(m.field, m.value, &t.Type)
		case "cron":
			p.decode(m.field, m.value, &t.Cron)
			given = append(given, m)
		case "timezone":
			p.decode(m.field, m.value, &t.Timezone)
			given = append(given, m)
		case "every":
			p.decode(m.field, m.value, &t.Every)
			given = append(given, m)
		default:
			p.unknown(m.field)
		}
	}
	// Validate sees values, so a member given empty ("cron": "") would pass
	// for absent there; here it is refused as given.
	for _, m := range given {
		switch {
		case t.Type != TriggerSchedule && t.Type != "":
			p.add(m.field, "is only for schedule triggers")
		case string(m.value) == `""`:
			p.add(m.field, "must not be empty")
		}
	}
	return t
}

// decodeStep reads one step; inner says it is held by a foreach or a
// parallel.
func decodeStep(p *problems, path string, raw jsontext.Value, inner bool) Step {
	var s Step
	var withGiven []member
	elseGiven := false
	defer func() {
		refuseForeignMembers(p, path, s.Type, withGiven, elseGiven)
		refuseZeroConcurrency(p, withGiven, s.With)
		refuseEmptyWorkflowMembers(p, s.Type, withGiven, s.With)
	}()
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "id":
			p.decode(m.field, m.value, &s.ID)
		case "type":
			p.decode(m.field, m.value, &s.Type)
		case "with":
			s.With = decodeWith(p, m.field, m.value, inner)
			withGiven = p.members(m.field, m.value)
		case "else":
			elseGiven = true
			p.decode(m.field, m.value, &s.Else)
		case "retry":
			s.Retry = &Retry{} // without maxAttempts, Validate says it is required
			for _, r := range p.members(m.field, m.value) {
				if r.name != "maxAttempts" {
					p.unknown(r.field)
					continue
				}
				p.decode(r.field, r.value, &s.Retry.MaxAttempts)
			}
		case "timeoutSeconds":
			p.decode(m.field, m.value, &s.TimeoutSeconds)
		case "onError":
			// Given empty, it would pass Validate for absent: refused here.
			if p.decode(m.field, m.value, &s.OnError) && s.OnError == "" {
				p.add(m.field, `must be "fail" or "continue"`)
			}
		default:
			p.unknown(m.field)
		}
	}
	return s
}

// refuseForeignMembers refuses, by name as given, the members of a step's
// `with` that its type does not use and an `else` on a step that is not a
// condition, even when given empty ("jq": "", "seconds": 0, "else": ""),
// which Validate, seeing only values, would take for absent.
func refuseForeignMembers(p *problems, path string, stepType StepType, withGiven []member, elseGiven bool) {
	kind, known := kindOf(stepType)
	if !known {
		return // an unknown or missing type is reported on its own
	}
	uses := kind.withMembers()
	for _, m := range withGiven {
		if !slices.Contains(uses, m.name) {
			p.add(m.field, "is not a field of "+string(stepType)+" steps")
		}
	}
	if elseGiven && stepType != StepCondition {
		p.add(path+".else", "is only for condition steps")
	}
}

// decodeWith reads every member any step type knows; Validate then refuses
// the ones the step's own type does not use, with a message that says so.
// The with of an inner step (inner) is read without its step and steps,
// which are refused all the same (as foreign by refuseForeignMembers, or
// with the type of a fan-out inside a fan-out): reading them would let a
// body nest steps thousands deep, each level read again by the level
// above.
func decodeWith(p *problems, path string, raw jsontext.Value, inner bool) With {
	var w With
	for _, m := range p.members(path, raw) {
		switch m.name {
		case "method":
			p.decode(m.field, m.value, &w.Method)
		case "url":
			p.decode(m.field, m.value, &w.URL)
		case "headers":
			p.decode(m.field, m.value, &w.Headers)
		case "body":
			w.Body = compact(m.value)
		case "connection":
			p.decode(m.field, m.value, &w.Connection)
		case "jq":
			p.decode(m.field, m.value, &w.JQ)
		case "seconds":
			p.decode(m.field, m.value, &w.Seconds)
		case "items":
			p.decode(m.field, m.value, &w.Items)
		case "concurrency":
			p.decode(m.field, m.value, &w.Concurrency)
		case "step":
			if !inner {
				refuseForeachStepMembers(p, m.field, m.value)
				step := decodeStep(p, m.field, m.value, true)
				w.Step = &step
			}
		case "steps":
			if !inner {
				w.Steps = decodeSteps(p, m.field, m.value, true)
			}
		case "workflowId":
			p.decode(m.field, m.value, &w.WorkflowID)
		case "input":
			p.decode(m.field, m.value, &w.Input)
		case "version":
			p.decode(m.field, m.value, &w.Version)
		case "timeoutSeconds":
			p.decode(m.field, m.value, &w.TimeoutSeconds)
		default:
			p.unknown(m.field)
		}
	}
	return w
}

// compact writes a value kept as JSON the way marshalling a Definition
// writes it (no space, strings escaped minimally, numbers as written), so
// that a definition parsed and one read back from storage are equal.
func compact(v jsontext.Value) jsontext.Value {
	out, err := json.Marshal(v)
	if err != nil {
		return v // not reached: v is well formed, Parse has read the whole body
	}
	return out
}

// maxProblems bounds an answer: a real definition (100 steps, a few
// problems each) stays under it, while 256 KiB of made-up member names does
// not make a response of tens of thousands of details.
const maxProblems = 1000

// problems collects the details of a VALIDATION_ERROR in the order they are
// found (document order), one per field: once a field has a problem, no
// other is reported for it or for anything inside it, so a value that could
// not be read is not also reported as missing, nor its members as invalid.
type problems struct {
	list []domain.FieldError
	at   map[string]bool
}

func newProblems() *problems { return &problems{at: map[string]bool{}} }

func (p *problems) add(field, message string) {
	if p.blocked(field) || len(p.list) >= maxProblems {
		return
	}
	p.at[field] = true
	p.list = append(p.list, domain.FieldError{Field: field, Message: message})
}

// blocked reports whether field, or a value holding it, has a problem.
func (p *problems) blocked(field string) bool {
	for f := field; f != ""; {
		if p.at[f] {
			return true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return false
		}
		f = f[:i]
	}
	return false
}

// err is the VALIDATION_ERROR, its details in the order of their paths
// (steps[2] before steps[10]), so that each step's problems come together
// and in the order of the steps, whichever check found them.
// addAbove reports a problem of a list as a whole (too many steps) that
// does not stop its items from being checked: each step's own problems are
// still worth telling.
func (p *problems) addAbove(field, message string) {
	if p.blocked(field) || len(p.list) >= maxProblems {
		return
	}
	p.list = append(p.list, domain.FieldError{Field: field, Message: message})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b domain.FieldError) int { return comparePaths(a.Field, b.Field) })
	return domain.Invalid(p.list...)
}

// comparePaths orders field paths part by part, indexes by number.
func comparePaths(a, b string) int {
	as, bs := pathParts(a), pathParts(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aErr := strconv.Atoi(as[i])
		bn, bErr := strconv.Atoi(bs[i])
		if c := cmp.Compare(an, bn); aErr == nil && bErr == nil && c != 0 {
			return c
		}
		if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

func pathParts(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

func (p *problems) unknown(field string) { p.add(field, "is not a known field") }

type member struct {
	name, field string
	value       jsontext.Value
}

// members returns the members of raw, a well-formed value that must be an
// object, in document order; members given as null are reported, not
// returned. A decoder that read the object into a struct would stop at the
// first problem; reading it member by member lets the caller report them
// all.
func (p *problems) members(path string, raw jsontext.Value) []member {
	if raw.Kind() != '{' {
		field := path
		if field == "" {
			field = "body"
			p.add(field, "must be a JSON object")
		} else {
			p.add(field, "must be an object")
		}
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.ReadToken(); err != nil { // '{'
		p.add(jsonfield.OrBody(path), "is not valid JSON")
		return nil
	}
	var out []member
	for dec.PeekKind() != '}' {
		token, err := dec.ReadToken()
		if err != nil {
			p.add(jsonfield.OrBody(path), "is not valid JSON")
			return out
		}
		name := token.String() // before the next read voids the token
		value, err := dec.ReadValue()
		if err != nil {
			p.add(jsonfield.OrBody(path), "is not valid JSON")
			return out
		}
		field := jsonfield.Join(path, name)
		if value.Kind() == 'n' {
			// As httpapi.DecodeJSON: null reads as absent, but a caller who
			// sends null may mean something else, and the API does not guess.
			p.add(field, "must not be null; leave the field out instead")
			continue
		}
		out = append(out, member{name: name, field: field, value: value.Clone()})
	}
	return out
}

// decode reads one value strictly into dst, reporting any problem at field;
// it reports whether the value was read.
func (p *problems) decode(field string, raw jsontext.Value, dst any) bool {
	if err := json.Unmarshal(raw, dst, json.RejectUnknownMembers(true)); err != nil {
		p.addJSON(field, err)
		return false
	}
	return true
}

// addJSON turns a decoding error into a detail at the path of the value it
// is about, below prefix, in the same notation as httpapi's (jsonfield).
func (p *problems) addJSON(prefix string, err error) {
	var syntactic *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &syntactic) && errors.Is(syntactic.Err, jsontext.ErrDuplicateName):
		p.add(jsonfield.OrBody(jsonfield.Pointer(prefix, syntactic.JSONPointer)), "appears more than once")
	case errors.As(err, &syntactic):
		p.add(jsonfield.OrBody(prefix), fmt.Sprintf("is not valid JSON (at byte %d)", syntactic.ByteOffset))
	case errors.As(err, &semantic) && semantic.GoType != nil:
		field := jsonfield.Pointer(prefix, semantic.JSONPointer)
		if field == "" {
			p.add("body", "must be a JSON object")
			return
		}
		p.add(field, "must be "+jsonfield.TypeName(semantic.GoType))
	default:
		p.add(jsonfield.OrBody(prefix), "is not valid")
	}
}
