package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// WorkflowVersions reads the version a run pinned (workflowsdb.Store does).
// The runner reads the version item directly, without the head: a deleted
// workflow's versions stay stored, and its runs in flight finish on them.
type WorkflowVersions interface {
	Version(ctx context.Context, head workflows.Summary, version int) (workflows.Workflow, error)
}

// Executor runs one attempt of one step, or of one item of a fan-out step
// (*engine.Engine does), and says how long one may take.
type Executor interface {
	Execute(ctx context.Context, c *engine.Compiled, stepIndex int, rc engine.Context, idempotencyKey string) (engine.Result, error)
	ExecuteItem(ctx context.Context, c *engine.Compiled, stepIndex, item int, rc engine.Context, idempotencyKey string) (engine.Result, error)
	AttemptTimeout(step workflows.Step) time.Duration
	ConcurrencyKey(ctx context.Context, c *engine.Compiled, rc engine.Context) (string, error)
}

// Opener opens a connection's credentials (*connections.Opener does).
type Opener interface {
	Credentials(ctx context.Context, account, connectionID string) (connections.Credentials, error)
}

// Clock is the runner's time: the wall clock in production, a fake in tests
// (so back-offs and deadlines are tested without waiting).
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

// Config is what a Runner needs. Store, Workflows and Engine are required.
type Config struct {
	Store     runs.Store
	Workflows WorkflowVersions
	Engine    Executor
	// Clock defaults to the wall clock.
	Clock Clock
	// Budget bounds one Advance: after it no further step begins, and the
	// Advance answers "advance again". In Lambda the invocation's deadline
	// (less Margin) bounds it too. Default 30 s.
	Budget time.Duration
	// Margin is kept free before ctx's deadline to record a step's end.
	// Default 5 s.
	Margin time.Duration
	// Jitter returns a number in [0, 1) for full-jitter back-offs (default
	// math/rand/v2; tests seed it).
	Jitter func() float64
	// Logger logs what the run's record cannot say (nil: discarded).
	Logger *slog.Logger
	// Children starts and cancels the child runs of workflow steps (nil:
	// a workflow step fails; SetChildren sets it later, for a driver that
	// needs the runner first).
	Children Children
	// Tokens completes a WaitForEvent state's task token when Park finds
	// nothing left to wait for (Step Functions; nil where no driver parks).
	Tokens runs.TaskCompleter
	// Signals keeps the lookup items of wait_for_signal steps' tokens, and
	// SignalMAC makes the tokens (nil: a wait_for_signal step fails).
	Signals   runs.SignalStore
	SignalMAC signaltoken.MAC
	// Slots keeps the concurrency limits' slots and queues (nil: limits
	// are not held, which only tests of other things may want).
	Slots runs.SlotStore
	// Notifier delivers the events of runs whose workflow has a notify
	// (nil: they stay pending, which only tests of other things may want).
	Notifier Notifier
}

// Retry back-offs: full jitter over an exponential ceiling (BackoffBase ×
// 2^(attempt-1), at most BackoffCap). A back-off up to MaxSleep is slept
// inside the Advance if the budget allows; a longer one goes through the
// state machine's Wait state.
const (
	BackoffBase = time.Second
	BackoffCap  = 5 * time.Minute
	MaxSleep    = 5 * time.Second
	// MaxRetryAfter caps what a target's Retry-After may make a step wait
	// between two attempts: the step's own retry horizon, the longest
	// back-off the retry policy itself ever waits (BackoffCap). The engine
	// passes on what the target asked for (up to a delay step's maximum);
	// a target asking for more is tried again after 5 minutes, and its
	// next refusal uses up an attempt like any other, so a step with
	// attempts left never waits longer between two of them than its
	// policy would. The run's timeoutSeconds still bounds every wait.
	MaxRetryAfter = BackoffCap
	// DefaultBudget is how long one Advance may keep starting steps.
	DefaultBudget = 30 * time.Second
	// DefaultMargin is kept free before the invocation's deadline.
	DefaultMargin = 5 * time.Second
	// maxConflicts bounds how often one Advance reloads after losing a
	// conditional write before it lets the driver come back.
	maxConflicts = 20
)

// Error codes the runner itself records (the engine's are in engine).
const (
	CodeEngineError = "ENGINE_ERROR"
	// CodeConflict: the run's Advance kept losing its writes to another
	// writer until the driver gave up (RunConflict).
	CodeConflict    = "CONFLICT"
	CodeInterrupted = "INTERRUPTED"
	CodeRunTimeout  = "TIMEOUT"
	CodeNoWorkflow  = "WORKFLOW_NOT_FOUND"
	CodeOutputSize  = engine.CodeOutputTooLarge
)

// Runner advances runs. It is safe for concurrent use.
type Runner struct {
	store     runs.Store
	workflows WorkflowVersions
	engine    Executor
	clock     Clock
	budget    time.Duration
	margin    time.Duration
	jitter    func() float64
	logger    *slog.Logger
	children  Children
	tokens    runs.TaskCompleter
	signals   runs.SignalStore
	signalMAC signaltoken.MAC
	slots     runs.SlotStore
	notifier  Notifier
}

// New returns a runner.
func New(cfg Config) *Runner {
	r := &Runner{store: cfg.Store, workflows: cfg.Workflows, engine: cfg.Engine, clock: cfg.Clock,
		budget: cfg.Budget, margin: cfg.Margin, jitter: cfg.Jitter, logger: cfg.Logger, children: cfg.Children, tokens: cfg.Tokens,
		signals: cfg.Signals, signalMAC: cfg.SignalMAC, slots: cfg.Slots, notifier: cfg.Notifier}
	if r.clock == nil {
		r.clock = WallClock{}
	}
	if r.budget <= 0 {
		r.budget = DefaultBudget
	}
	if r.margin <= 0 {
		r.margin = DefaultMargin
	}
	if r.jitter == nil {
		r.jitter = rand.Float64
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// SetChildren sets the starter of child runs: the local gateway's runs
// service needs its driver, which needs the runner first.
func (r *Runner) SetChildren(c Children) { r.children = c }

// WallClock is the real time.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// accountKey carries the run's account to Credentials, which the engine
// calls with a connection id only: one engine (one HTTP client) serves
// every run of the process.
type accountKey struct{}

// Credentials turns an opener into the engine's source of credentials, for
// the account of the run being advanced (set by Advance on the context).
func Credentials(opener Opener) engine.Credentials {
	return func(ctx context.Context, connectionID string) (connections.Credentials, error) {
		account, ok := ctx.Value(accountKey{}).(string)
		if !ok || account == "" {
			return connections.Credentials{}, errors.New("runner: credentials asked for outside an Advance")
		}
		return opener.Credentials(ctx, account, connectionID)
	}
}

// errConflict: a conditional write lost to another writer; the pass reloads
// the run and its steps and decides again.
var errConflict = errors.New("runner: conflict")

// RunConflict is the error an Advance fails with when every one of its
// passes lost a conditional write to another writer. Its type name is the
// error name Step Functions sees (aws-lambda-go reports a returned error's
// type name as errorType), and the state machine retries exactly that
// name, sfn.ConflictError, with a back-off and a bound, then records the
// run failed with CodeConflict. Answering "wait 1 s" instead, as before,
// looped without end. The local driver backs off and gives up likewise on
// any error.
type RunConflict = runs.RunConflict

// Advance advances the task's run as far as its budget allows and says what
// the driver does next. A run already finished answers Done and changes
// nothing; so does any repetition of an Advance that has been answered.
func (r *Runner) Advance(ctx context.Context, task Task) (Decision, error) {
	decision := Decision{AccountID: task.AccountID, RunID: task.RunID}
	ctx = context.WithValue(ctx, accountKey{}, task.AccountID)
	if task.Failure != nil {
		// The cause is not logged or stored: it may hold anything.
		r.logger.Error("recording a run failed after its Advance failed", "runId", task.RunID, "error", task.Failure.Error)
		run, err := r.recordFailure(ctx, task.AccountID, task.RunID, failureOf(task.Failure))
		if err != nil {
			return decision, err
		}
		// One attempt at its events now; the execution then ends (the
		// state machine fails it), and the start check has a delivery
		// execution send what is left.
		r.deliver(ctx, run, finished)
		decision.Done = true
		return decision, nil
	}
	if task.Park != nil {
		return decision, r.parkFor(ctx, task)
	}
	a := &advance{r: r, ctx: ctx, account: task.AccountID, runID: task.RunID, stopAt: r.stopAt(ctx)}
	for range maxConflicts {
		outcome, err := a.pass()
		if errors.Is(err, errConflict) {
			continue
		}
		var queued *errQueued
		if errors.As(err, &queued) {
			outcome, err = queued.o, nil
		}
		if err != nil {
			return decision, err
		}
		if a.run.ID != "" {
			outcome = r.deliver(ctx, a.run, outcome)
		}
		decision.Done, decision.WaitSeconds, decision.WaitForEvent = outcome.done, outcome.waitSeconds, outcome.waitForEvent
		return decision, nil
	}
	// Someone else keeps writing this run: the driver comes back later,
	// a bounded number of times (RunConflict).
	return decision, &RunConflict{RunID: task.RunID}
}

// stopAt is when the Advance stops beginning steps.
func (r *Runner) stopAt(ctx context.Context) time.Time {
	stop := r.clock.Now().Add(r.budget)
	if deadline, ok := ctx.Deadline(); ok {
		// ctx's deadline is on the wall clock; translate it to the runner's.
		left := time.Until(deadline) - r.margin
		stop = minTime(stop, r.clock.Now().Add(left))
	}
	return stop
}

// recordFailure is the state machine's catch: the run (and the step left
// running or waiting) is recorded failed, with a generic error; a run being
// cancelled is recorded cancelled instead (its open step too), since a
// cancel answered "cancelling" must end "cancelled". The steps go first
// (runs.EndOpenSteps).
func (r *Runner) recordFailure(ctx context.Context, account, runID string, cause runs.Error) (runs.Run, error) {
	return runs.Change(ctx, r.store, account, runID, r.clock.Now, func(run runs.Run) (runs.Decision, error) {
		return runs.EndFromOutside(run, &runs.Error{Code: cause.Code, Message: cause.Message}, r.clock.Now())
	})
}

// failureOf is the error a run is recorded failed with, from the name of
// the error the state machine caught: only the name is read, never the
// cause's text, which may hold anything.
func failureOf(f *Failure) runs.Error {
	if f.Error == conflictErrorName {
		return runs.Error{Code: CodeConflict, Message: "the run kept changing under another writer, and advancing it was given up"}
	}
	return runs.Error{Code: CodeEngineError, Message: "the run stopped on an internal error"}
}

// conflictErrorName is RunConflict's type name, the error name Step
// Functions reports for it (a test holds it equal to sfn.ConflictError).
const conflictErrorName = "RunConflict"

// backoff is full jitter over the exponential ceiling of attempt, at least
// what the target asked for with Retry-After, but never more than
// MaxRetryAfter.
func (a *advance) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := BackoffCap
	if attempt-1 < 30 {
		ceiling = min(BackoffCap, BackoffBase<<(attempt-1))
	}
	d := time.Duration(a.r.jitter() * float64(ceiling))
	return max(d, min(retryAfter, MaxRetryAfter))
}

// lease is how long an attempt of step may be live: the engine's bound on
// one attempt (engine.AttemptTimeout, the one formula) and the margin to
// record its end.
func (a *advance) lease(step workflows.Step) time.Duration {
	return a.r.engine.AttemptTimeout(step) + a.r.margin
}

func maxAttempts(step workflows.Step) int {
	if step.Retry == nil || step.Retry.MaxAttempts < 1 {
		return 1
	}
	return step.Retry.MaxAttempts
}

// context is the document jq programs and templates see.
func (a *advance) context(attempt int) engine.Context {
	steps := map[string]any{}
	for id, s := range a.steps {
		view := map[string]any{"output": decode(s.Output), "status": string(s.Status)}
		if s.Status == runs.StepFailed && s.Error != nil {
			// A step that failed with onError "continue": later steps
			// may branch on why.
			view["error"] = map[string]any{"code": s.Error.Code, "message": s.Error.Message}
		}
		steps[id] = view
	}
	return engine.Context{
		"input": decode(a.run.Input),
		"steps": steps,
		"run": map[string]any{
			"id": a.run.ID, "trigger": string(a.run.Trigger),
			"createdAt": a.run.CreatedAt.UTC().Format(time.RFC3339Nano), "attempt": attempt,
		},
		"workflow": map[string]any{"id": a.workflow.ID, "version": a.workflow.Version, "name": a.def.Name},
	}
}

// decode turns stored JSON into the plain values gojq runs over (numbers as
// json.Number, so integers keep every digit).
func decode(v jsontext.Value) any {
	if len(v) == 0 {
		return nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return out
}

// marshalOutput is a step's output as stored: whole, at most
// runs.MaxStepRecordBytes. The engine holds an http response's body (and a
// transform's value) to runs.MaxStepOutputBytes; an http step's output also
// carries its status and headers, which the record's headroom is for, so a
// body of exactly 256 KiB is stored.
func marshalOutput(v any) (jsontext.Value, error) {
	// encoding/json writes what gojq answers (json.Number, *big.Int) and
	// sorts object keys, so one output always reads back the same.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("the step's output is not JSON: %v", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > runs.MaxStepRecordBytes {
		return nil, fmt.Errorf("the step's output is %d bytes, over the limit of %d (256 KiB and 64 KiB for an http response's status and headers)", len(b), runs.MaxStepRecordBytes)
	}
	return jsontext.Value(b), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
