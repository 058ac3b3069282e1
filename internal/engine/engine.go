// Package engine executes one step of a workflow, each kind in a file of
// its own (kind_*.go): http, transform, condition and delay; a foreach's
// items program and a parallel's inner steps, one item at a time
// (ExecuteItem); a workflow step's child input; with the {{ jq }}
// templates of their strings. It
// holds no state and knows no AWS and no storage: the runner gives it the
// step, the run's context and what it needs to reach the outside (an HTTP
// client under the outbound policy, a source of connection credentials), and
// records what it answers. gojq is the one expression language: programs
// are compiled once per run (Compile) and run in a sandbox worker bounded in
// time and memory (internal/jqsandbox), but for a program that is only a
// path over the context, which runs here; their output is capped in size and
// in depth.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/jqsandbox"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// Context is the document every jq program and template of a run sees:
// {"input": …, "steps": {"<id>": {"output": …, "status": …}}, "run": {…},
// "workflow": {…}}, as plain JSON values (map[string]any, []any, string,
// float64 or json.Number, bool, nil), which is what gojq runs over.
type Context map[string]any

// Result is what one step answered.
type Result struct {
	// Output is the step's output as a JSON value (http: {status, headers,
	// body}; transform: the program's value; condition: the boolean;
	// delay: null).
	Output any
	// Jump, for a condition that was false, is the step id to go to next
	// (or workflows.End); "" means the next step in order.
	Jump string
	// Wait, for a delay step, is how long the run waits before its next
	// step. The runner hands it to the orchestrator; nothing sleeps here.
	Wait time.Duration
	// FanOut, for a foreach or a parallel, is the work the step fans out
	// to: the runner runs each item with ExecuteItem and records it.
	FanOut *FanOut
	// Child, for a workflow step, is the child run to start and wait for.
	Child *Child
}

// FanOut is what a foreach or parallel step goes over. Items are a
// foreach's items (its items program's array); IDs a parallel's inner step
// ids. Count is how many items there are either way.
type FanOut struct {
	Count int
	Items []any
	IDs   []string
}

// StepError is why a step attempt failed. Retryable says whether another
// attempt may succeed (a 5xx, a 429, a timeout, a connection reset), and
// RetryAfter is what the target asked for (Retry-After on 429 or 503), zero
// if nothing.
type StepError struct {
	Code       string
	Message    string
	Retryable  bool
	RetryAfter time.Duration
}

func (e *StepError) Error() string { return e.Code + ": " + e.Message }

// The codes of a StepError.
const (
	CodeJQ                 = "JQ_ERROR"
	CodeOutputTooLarge     = "OUTPUT_TOO_LARGE"
	CodeOutputTooDeep      = "OUTPUT_TOO_DEEP"
	CodeHTTPStatus         = "HTTP_STATUS"
	CodeTimeout            = "TIMEOUT"
	CodeConnectionError    = "CONNECTION_ERROR"
	CodeTLS                = "TLS_ERROR"
	CodeTargetRefused      = "TARGET_REFUSED"
	CodeTooManyRedirects   = "TOO_MANY_REDIRECTS"
	CodeInvalidRequest     = "INVALID_REQUEST"
	CodeConnectionNotFound = "CONNECTION_NOT_FOUND"
	CodeRequestTooLarge    = "REQUEST_TOO_LARGE"
)

// Credentials finds a connection's decrypted credentials for an http step
// (connections.Opener in the runner). It returns domain.ErrNotFound for a
// connection that is gone, which fails the step with CONNECTION_NOT_FOUND.
type Credentials func(ctx context.Context, connectionID string) (connections.Credentials, error)

// Defaults and bounds of the options and of a step's own settings.
const (
	DefaultJQTimeout = time.Second
	// DefaultStepTimeout bounds one attempt of an http step without its own
	// timeoutSeconds; workflows.MaxStepTimeoutSeconds bounds any.
	DefaultStepTimeout = 30 * time.Second
	// MaxRedirects is how many redirects an http step follows, each one
	// checked against the outbound policy.
	MaxRedirects = 5
	// httpOutputOverheadBytes is what an http step's output may hold beyond
	// its body (status, headers, JSON escaping of a text body): the body
	// alone is held to MaxOutputBytes, as the API says ("a response body
	// over 256 KiB fails the step"), and the whole output to this much more.
	httpOutputOverheadBytes = 64 << 10
	// maxResponseHeaderBytes bounds the headers a target may send, so that
	// they fit in httpOutputOverheadBytes.
	maxResponseHeaderBytes = 32 << 10
)

// Options are what an Engine needs from its caller. The zero value works: the
// default outbound policy, no connections, the default limits.
type Options struct {
	// Policy says which addresses http steps may reach (PolicyFromEnv).
	Policy OutboundPolicy
	// Credentials opens connections; nil fails any step that names one.
	Credentials Credentials
	// JQTimeout bounds the jq work of one step attempt (its program, or all
	// the templates of an http step together). Default DefaultJQTimeout.
	JQTimeout time.Duration
	// MaxOutputBytes bounds a transform's output as JSON and an http
	// response's body. Default MaxOutputBytes, the runs' own limit of a
	// step's output (runs.MaxStepOutputBytes; the engine does not link the
	// runs feature, and a runner test holds the two equal).
	MaxOutputBytes int
	// Now is the clock Retry-After dates are read against. Default time.Now.
	Now func() time.Time
	// Sandbox is the pool of workers that run jq programs. Default the
	// process's own (jqsandbox.Default), shared by every engine in it.
	Sandbox *jqsandbox.Pool

	// Test hooks: lookup replaces DNS and dial the dialling of an address
	// the policy allowed (both nil in production).
	lookup lookupFunc
	dial   dialFunc
}

// MaxOutputBytes is the default bound of a step's output: 256 KiB.
const MaxOutputBytes = 256 << 10

// Engine executes steps. It is safe for concurrent use; one per process
// shares its HTTP connections across runs.
type Engine struct {
	opts   Options
	client *http.Client
}

// New builds an engine. Its HTTP client never uses a proxy from the
// environment (a proxy would dial for it, out of the policy's reach) and
// dials only addresses the policy allows.
func New(opts Options) *Engine {
	if opts.JQTimeout <= 0 {
		opts.JQTimeout = DefaultJQTimeout
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = MaxOutputBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sandbox == nil {
		opts.Sandbox = jqsandbox.Default()
	}
	e := &Engine{opts: opts}
	e.client = newClient(opts.Policy, opts.lookup, opts.dial)
	return e
}

// Compiled is a definition with every jq program and template compiled, for
// the steps of one run.
type Compiled struct {
	def   workflows.Definition
	steps []compiledStep
	// concurrencyKey is the workflow's concurrency.key, compiled (nil:
	// none).
	concurrencyKey *program
}

type compiledStep struct {
	kind    kind
	program *program // transform, condition; a foreach's items
	url     *jqtemplate.Template
	headers []compiledHeader
	body    *bodyNode // nil: no body
	// exprs are the expressions of an http step's templates, in the order
	// the request is rendered (url, body, headers): evaluated together
	// (evalTemplates), one sandbox request per attempt.
	exprs []*program
	// inner are a fan-out's inner steps, compiled (a foreach's one, a
	// parallel's each); InnerStep says which definition each runs as.
	inner []compiledStep
	// everyItem: inner[0] runs for every item (a foreach).
	everyItem bool
}

type compiledHeader struct {
	name  string
	value *jqtemplate.Template
}

// kind is what the engine knows of one step type: how it compiles, how one
// attempt of it executes and how long one may take. Each is one file
// (kind_*.go); a type without one does not compile, so nothing stored can
// reach a switch that forgot it.
type kind interface {
	compile(step workflows.Step) (compiledStep, error)
	execute(ctx context.Context, e *Engine, step workflows.Step, cs *compiledStep, rc Context, idempotencyKey string) (Result, error)
	attemptTimeout(e *Engine, step workflows.Step) time.Duration
}

var kinds = map[workflows.StepType]kind{
	workflows.StepHTTP:          httpKind{},
	workflows.StepTransform:     transformKind{},
	workflows.StepCondition:     conditionKind{},
	workflows.StepDelay:         delayKind{},
	workflows.StepForeach:       foreachKind{},
	workflows.StepParallel:      parallelKind{},
	workflows.StepWorkflow:      workflowKind{},
	workflows.StepWaitForSignal: waitForSignalKind{},
}

// Compile compiles every jq program (transform, condition) and every {{ }}
// template (an http step's url, header values and the string values of its
// body) of def once, with the compilers validation used, so that what was
// accepted on write is exactly what runs.
func Compile(def workflows.Definition) (*Compiled, error) {
	c := &Compiled{def: def, steps: make([]compiledStep, len(def.Steps))}
	for i, step := range def.Steps {
		cs, err := compileStep(step)
		if err != nil {
			return nil, fmt.Errorf("steps[%d] (%s): %w", i, step.ID, err)
		}
		c.steps[i] = cs
	}
	if def.Concurrency != nil && def.Concurrency.Key != "" {
		p, err := newProgram(def.Concurrency.Key)
		if err != nil {
			return nil, fmt.Errorf("concurrency.key: %w", err)
		}
		c.concurrencyKey = p
	}
	return c, nil
}

func compileStep(step workflows.Step) (compiledStep, error) {
	k, ok := kinds[step.Type]
	if !ok {
		return compiledStep{}, fmt.Errorf("unknown step type %q", step.Type)
	}
	cs, err := k.compile(step)
	cs.kind = k
	return cs, err
}

// Steps is the definition the steps were compiled from.
func (c *Compiled) Steps() []workflows.Step { return c.def.Steps }

// Execute runs one attempt of steps[stepIndex] over rc. idempotencyKey is
// sent with an http step's request as Idempotency-Key (the runner passes
// "<runId>:<stepId>", the same for every attempt). The error is a *StepError
// for a step failure; anything else is the engine's own trouble: a step
// index out of range, credentials that could not be opened for another
// reason than the connection being gone, or ctx ended by the caller (not by
// the step's own timeout), which the runner should not count as an attempt.
//
// A step's output that can be a structure (a transform's value, an http
// response's body) is held to jsondepth.MaxDepth (OUTPUT_TOO_DEEP) before
// anything encodes it: the runner stores it as JSON and every reader of a
// run decodes it. A condition's is a boolean and a delay's null.
func (e *Engine) Execute(ctx context.Context, c *Compiled, stepIndex int, rc Context, idempotencyKey string) (Result, error) {
	if c == nil || stepIndex < 0 || stepIndex >= len(c.steps) {
		return Result{}, errors.New("engine: no such step")
	}
	step := c.def.Steps[stepIndex]
	cs := &c.steps[stepIndex]
	return cs.kind.execute(ctx, e, step, cs, rc, idempotencyKey)
}

// ExecuteItem runs one attempt of item of the fan-out steps[stepIndex]: a
// foreach's inner step (rc holding .item and .index, which the runner puts
// there) or a parallel's inner step number item. idempotencyKey is the
// item's own (the runner passes "<runId>:<stepId>:<index>" for a foreach
// and "<runId>:<stepId>:<innerId>" for a parallel).
func (e *Engine) ExecuteItem(ctx context.Context, c *Compiled, stepIndex, item int, rc Context, idempotencyKey string) (Result, error) {
	if c == nil || stepIndex < 0 || stepIndex >= len(c.steps) {
		return Result{}, errors.New("engine: no such step")
	}
	cs := &c.steps[stepIndex]
	inner, ok := cs.innerAt(item)
	if !ok {
		return Result{}, errors.New("engine: no such item")
	}
	return inner.kind.execute(ctx, e, InnerStep(c.def.Steps[stepIndex], item), inner, rc, idempotencyKey)
}

// innerAt is the compiled inner step that item runs: a foreach's one for
// every item, a parallel's own.
func (cs *compiledStep) innerAt(item int) (*compiledStep, bool) {
	switch {
	case item < 0 || len(cs.inner) == 0:
		return nil, false
	case cs.everyItem:
		return &cs.inner[0], true
	case item < len(cs.inner):
		return &cs.inner[item], true
	}
	return nil, false
}

// InnerStep is the step item of the fan-out step runs as: a foreach's inner
// step with the foreach's retry and timeoutSeconds (which apply to each
// item), or a parallel's inner step as written. A step that is no fan-out
// is itself.
func InnerStep(step workflows.Step, item int) workflows.Step {
	switch step.Type {
	case workflows.StepForeach:
		if step.With.Step == nil {
			return step
		}
		inner := *step.With.Step
		inner.ID, inner.Retry, inner.TimeoutSeconds = step.ID, step.Retry, step.TimeoutSeconds
		return inner
	case workflows.StepParallel:
		if item >= 0 && item < len(step.With.Steps) {
			return step.With.Steps[item]
		}
	}
	return step
}

// AttemptTimeout is the longest one attempt of step may take here: its jq
// bound (a transform's or condition's program, an http step's templates),
// and for an http step its request's StepTimeout after that. The runner's
// lease on a running attempt is this and a margin, so the two cannot
// disagree.
func (e *Engine) AttemptTimeout(step workflows.Step) time.Duration {
	if k, ok := kinds[step.Type]; ok {
		return k.attemptTimeout(e, step)
	}
	return e.opts.JQTimeout
}

// StepTimeout is one attempt's time: the step's timeoutSeconds, else the
// default, never over the maximum a definition may set.
func StepTimeout(step workflows.Step) time.Duration {
	if step.TimeoutSeconds == nil || *step.TimeoutSeconds <= 0 {
		return DefaultStepTimeout
	}
	return time.Duration(min(*step.TimeoutSeconds, workflows.MaxStepTimeoutSeconds)) * time.Second
}
