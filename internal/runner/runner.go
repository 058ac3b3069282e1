package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// WorkflowVersions reads the version a run pinned (workflowsdb.Store does).
// The runner reads the version item directly, without the head: a deleted
// workflow's versions stay stored, and its runs in flight finish on them.
type WorkflowVersions interface {
	Version(ctx context.Context, head workflows.Summary, version int) (workflows.Workflow, error)
}

// Executor runs one attempt of one step (*engine.Engine does), and says how
// long one may take.
type Executor interface {
	Execute(ctx context.Context, c *engine.Compiled, stepIndex int, rc engine.Context, idempotencyKey string) (engine.Result, error)
	AttemptTimeout(step workflows.Step) time.Duration
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
}

// New returns a runner.
func New(cfg Config) *Runner {
	r := &Runner{store: cfg.Store, workflows: cfg.Workflows, engine: cfg.Engine, clock: cfg.Clock,
		budget: cfg.Budget, margin: cfg.Margin, jitter: cfg.Jitter, logger: cfg.Logger}
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
type RunConflict struct{ RunID string }

func (e *RunConflict) Error() string {
	return "runner: run " + e.RunID + " kept changing under another writer"
}

// Advance advances the task's run as far as its budget allows and says what
// the driver does next. A run already finished answers Done and changes
// nothing; so does any repetition of an Advance that has been answered.
func (r *Runner) Advance(ctx context.Context, task Task) (Decision, error) {
	decision := Decision{AccountID: task.AccountID, RunID: task.RunID}
	ctx = context.WithValue(ctx, accountKey{}, task.AccountID)
	if task.Failure != nil {
		// The cause is not logged or stored: it may hold anything.
		r.logger.Error("recording a run failed after its Advance failed", "runId", task.RunID, "error", task.Failure.Error)
		if err := r.recordFailure(ctx, task.AccountID, task.RunID, failureOf(task.Failure)); err != nil {
			return decision, err
		}
		decision.Done = true
		return decision, nil
	}
	a := &advance{r: r, ctx: ctx, account: task.AccountID, runID: task.RunID, stopAt: r.stopAt(ctx)}
	for range maxConflicts {
		outcome, err := a.pass()
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return decision, err
		}
		decision.Done, decision.WaitSeconds = outcome.done, outcome.waitSeconds
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
func (r *Runner) recordFailure(ctx context.Context, account, runID string, cause runs.Error) error {
	for range maxConflicts {
		run, err := r.store.Get(ctx, account, runID)
		if err != nil {
			return err
		}
		if run.Status.Finished() {
			return nil
		}
		steps, err := r.store.Steps(ctx, runID)
		if err != nil {
			return err
		}
		now := r.clock.Now()
		status, stepStatus := runs.StatusFailed, runs.StepFailed
		failure := &runs.Error{Code: cause.Code, Message: cause.Message}
		if run.Status == runs.StatusCancelling {
			status, stepStatus, failure = runs.StatusCancelled, runs.StepCancelled, nil
		}
		ended, err := runs.EndOpenSteps(ctx, r.store, steps, stepStatus, failure, now)
		if errors.Is(err, runs.ErrRevision) {
			continue
		} else if err != nil {
			return err
		}
		if failure != nil && len(ended) > 0 {
			failure = &runs.Error{Code: failure.Code, Message: failure.Message, Step: ended[len(ended)-1].StepID}
		}
		run.Status, run.Error, run.FinishedAt, run.WaitUntil = status, failure, now, time.Time{}
		if _, err := r.store.Update(ctx, run); errors.Is(err, runs.ErrRevision) {
			continue
		} else if err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("runner: run %s keeps changing while being recorded failed", runID)
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

// advance is one Advance's state.
type advance struct {
	r       *Runner
	ctx     context.Context
	account string
	runID   string
	stopAt  time.Time

	run      runs.Run
	steps    map[string]runs.Step
	def      workflows.Definition
	compiled *engine.Compiled
	workflow workflows.Workflow
	loaded   bool
	// began counts the step attempts begun in this Advance: the first one
	// always begins, later ones only within the budget.
	began int
}

type outcome struct {
	done        bool
	waitSeconds int
}

var (
	finished = outcome{done: true}
	again    = outcome{}
)

// pass loads the run and its steps and moves it as far as it can. A lost
// conditional write ends the pass with errConflict: the next one starts
// from what is stored.
func (a *advance) pass() (outcome, error) {
	ctx := a.ctx
	run, err := a.r.store.Get(ctx, a.account, a.runID)
	if err != nil {
		return again, err
	}
	a.run = run
	if run.Status.Finished() {
		return finished, nil
	}
	if !a.loaded {
		w, err := a.r.workflows.Version(ctx, workflows.Summary{ID: run.WorkflowID, AccountID: run.AccountID}, run.WorkflowVersion)
		if errors.Is(err, domain.ErrNotFound) {
			return a.finishRun(runs.StatusFailed, &runs.Error{Code: CodeNoWorkflow, Message: "the workflow version this run pinned is not stored"}, nil)
		}
		if err != nil {
			return again, err
		}
		compiled, err := engine.Compile(w.Definition)
		if err != nil {
			a.r.logger.Error("a stored workflow version does not compile", "runId", a.runID, "workflowId", w.ID, "version", w.Version, "error", err)
			return a.finishRun(runs.StatusFailed, &runs.Error{Code: CodeEngineError, Message: "the workflow version does not compile"}, nil)
		}
		a.workflow, a.def, a.compiled, a.loaded = w, w.Definition, compiled, true
	}
	list, err := a.r.store.Steps(ctx, a.runID)
	if err != nil {
		return again, err
	}
	a.steps = make(map[string]runs.Step, len(list))
	for _, s := range list {
		a.steps[s.StepID] = s
	}
	return a.walk()
}

// walk goes through the steps in order. What the step records say is the
// truth: a succeeded or skipped step, or a failed one whose onError is
// "continue", is passed over (never run again), and the first step that has
// not ended is where the run is.
func (a *advance) walk() (outcome, error) {
	var last jsontext.Value // the output of the last step that ran
	index := 0
	for index < len(a.def.Steps) {
		step := a.def.Steps[index]
		rec, ok := a.steps[step.ID]
		switch {
		case ok && rec.Status == runs.StepSucceeded:
			last = rec.Output
			next, err := a.after(index, rec.Output)
			if err != nil {
				return again, err
			}
			index = next
			continue
		case ok && rec.Status == runs.StepSkipped:
			index++
			continue
		case ok && rec.Status == runs.StepFailed && step.Continues():
			// onError "continue": the failure is the step's, and the run
			// goes on with the next step (the last output stays the last
			// step that succeeded's).
			index++
			continue
		case ok && rec.Status == runs.StepFailed:
			// The step's failure was recorded but not the run's.
			return a.finishFailed(step.ID, rec.Error)
		case ok && rec.Status == runs.StepCancelled:
			return a.finishRun(runs.StatusCancelled, nil, last)
		}
		return a.at(index, rec, ok, last)
	}
	return a.finishRun(runs.StatusSucceeded, nil, last)
}

// after is the index of the step that follows steps[index], which succeeded
// with output: a condition that was false jumps to its else target, whose
// skipped steps are recorded skipped.
func (a *advance) after(index int, output jsontext.Value) (int, error) {
	step := a.def.Steps[index]
	if step.Type != workflows.StepCondition || string(output) != "false" {
		return index + 1, nil
	}
	target := len(a.def.Steps)
	for j := index + 1; j < len(a.def.Steps); j++ {
		if a.def.Steps[j].ID == step.Else {
			target = j
			break
		}
	}
	for j := index + 1; j < target; j++ {
		id := a.def.Steps[j].ID
		if _, ok := a.steps[id]; ok {
			continue
		}
		rec, err := a.r.store.PutStep(a.ctx, runs.Step{RunID: a.runID, StepID: id, Index: j, Status: runs.StepSkipped, FinishedAt: a.r.clock.Now()})
		if errors.Is(err, runs.ErrRevision) {
			return 0, errConflict
		}
		if err != nil {
			return 0, err
		}
		a.steps[id] = rec
	}
	return target, nil
}

// at handles the run at steps[index], the first step that has not ended:
// rec is its record (exists false if it never began).
func (a *advance) at(index int, rec runs.Step, exists bool, last jsontext.Value) (outcome, error) {
	step := a.def.Steps[index]
	now := a.r.clock.Now()

	// A cancel asked while a step ran: cancelled before the next one.
	if a.run.Status == runs.StatusCancelling {
		if exists && (rec.Status == runs.StepWaiting || rec.Status == runs.StepRunning) {
			if err := a.putStep(withStatus(rec, runs.StepCancelled, now)); err != nil {
				return again, err
			}
		}
		return a.finishRun(runs.StatusCancelled, nil, last)
	}
	if !a.run.Deadline.IsZero() && !now.Before(a.run.Deadline) {
		return a.timedOut(rec, exists, now)
	}

	// A step found running on entry: either another Advance of the run is
	// executing it right now (a repeated task), or the runner that began it
	// died mid-attempt. Until the attempt's lease ends (its timeout and a
	// margin) it may be live: come back then. After it, that attempt
	// failed.
	if exists && rec.Status == runs.StepRunning && now.Before(rec.NextAttemptAt) {
		return outcome{waitSeconds: max(1, int(math.Ceil(rec.NextAttemptAt.Sub(now).Seconds())))}, nil
	}
	if exists && rec.Status == runs.StepRunning {
		return a.failedAttempt(index, rec, &engine.StepError{Code: CodeInterrupted, Message: "the runner stopped during this attempt", Retryable: true}, last)
	}

	if exists && rec.Status == runs.StepWaiting {
		if now.Before(rec.NextAttemptAt) {
			return a.waitUntil(rec.NextAttemptAt, now)
		}
		if step.Type == workflows.StepDelay {
			// The delay is over: the step succeeded (output null).
			rec.Status, rec.Output, rec.FinishedAt, rec.NextAttemptAt = runs.StepSucceeded, jsontext.Value("null"), now, time.Time{}
			if err := a.putStep(rec); err != nil {
				return again, err
			}
			return a.walk()
		}
	}
	if !exists {
		rec = runs.Step{RunID: a.runID, StepID: step.ID, Index: index}
	}
	return a.attempt(index, rec, last)
}

// attempt begins a new attempt of steps[index] (rec is its record, maybe
// new) and records how it ended.
func (a *advance) attempt(index int, rec runs.Step, last jsontext.Value) (outcome, error) {
	step := a.def.Steps[index]
	now := a.r.clock.Now()
	if a.began > 0 {
		// Past the first attempt of this Advance, only within budget, and
		// only if the attempt can run its whole timeout before the
		// invocation ends: one cut short by the Lambda's deadline would
		// hold the step until its lease ends. The next Advance, with its
		// whole time, begins it instead.
		fits := true
		if deadline, ok := a.ctx.Deadline(); ok {
			fits = time.Until(deadline)-a.r.margin >= a.r.engine.AttemptTimeout(step)
		}
		if !now.Before(a.stopAt) || !fits {
			if rec.Status == runs.StepRunning {
				// After a back-off slept here: the next Advance tries again.
				rec.Status, rec.NextAttemptAt = runs.StepWaiting, now
				if err := a.putStep(rec); err != nil {
					return again, err
				}
			}
			return again, nil
		}
		// Cancel is checked before each step: reread the run. Anything
		// written since (a cancel) is decided on afresh.
		fresh, err := a.r.store.Get(a.ctx, a.account, a.runID)
		if err != nil {
			return again, err
		}
		if fresh.Revision != a.run.Revision {
			return again, errConflict
		}
		if !a.run.Deadline.IsZero() && !now.Before(a.run.Deadline) {
			return a.timedOut(rec, rec.Revision > 0, now)
		}
	}
	if err := a.markRunning(now); err != nil {
		return again, err
	}
	// While running, NextAttemptAt is the attempt's lease: past it, an
	// attempt still recorded running is taken as dead.
	rec.Status, rec.Attempts, rec.Error, rec.NextAttemptAt = runs.StepRunning, rec.Attempts+1, nil, now.Add(a.lease(step))
	if rec.StartedAt.IsZero() {
		rec.StartedAt = now
	}
	if err := a.putStep(rec); err != nil {
		return again, err
	}
	rec = a.steps[step.ID]
	a.began++

	result, err := a.execute(index, rec)
	if err != nil {
		var stepErr *engine.StepError
		if !errors.As(err, &stepErr) {
			if a.ctx.Err() != nil {
				// The driver is shutting down: the attempt stays running
				// and counts as failed when the run resumes.
				return again, a.ctx.Err()
			}
			a.r.logger.Error("the engine failed a step", "runId", a.runID, "stepId", step.ID, "error", err)
			stepErr = &engine.StepError{Code: CodeEngineError, Message: "the step could not be executed"}
		}
		return a.failedAttempt(index, rec, stepErr, last)
	}
	now = a.r.clock.Now()
	if result.Wait > 0 {
		// A delay: the run waits; no process sleeps through it.
		until := now.Add(result.Wait)
		rec.Status, rec.NextAttemptAt = runs.StepWaiting, until
		if err := a.putStep(rec); err != nil {
			return again, err
		}
		return a.waitUntil(until, now)
	}
	output, err := marshalOutput(result.Output)
	if err != nil {
		return a.failedAttempt(index, rec, &engine.StepError{Code: CodeOutputSize, Message: err.Error()}, last)
	}
	rec.Status, rec.Output, rec.FinishedAt, rec.NextAttemptAt = runs.StepSucceeded, output, now, time.Time{}
	if err := a.putStep(rec); err != nil {
		return again, err
	}
	return a.walk()
}

// execute runs one attempt, bounded by the invocation's deadline (less the
// margin, so the attempt's end can be recorded) and the run's deadline.
func (a *advance) execute(index int, rec runs.Step) (engine.Result, error) {
	ctx := a.ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-a.r.margin/2))
		defer cancel()
	}
	if !a.run.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.run.Deadline.Sub(a.r.clock.Now()))
		defer cancel()
	}
	step := a.def.Steps[index]
	return a.r.engine.Execute(ctx, a.compiled, index, a.context(rec.Attempts), a.runID+":"+step.ID)
}

// failedAttempt records a failed attempt: another after a back-off if the
// error is retryable and attempts remain, else the step and the run fail.
func (a *advance) failedAttempt(index int, rec runs.Step, stepErr *engine.StepError, last jsontext.Value) (outcome, error) {
	step := a.def.Steps[index]
	now := a.r.clock.Now()
	stepError := &runs.Error{Code: stepErr.Code, Message: stepErr.Message}
	if !a.run.Deadline.IsZero() && !now.Before(a.run.Deadline) {
		rec.Error = stepError
		return a.timedOut(rec, true, now)
	}
	if !stepErr.Retryable || rec.Attempts >= maxAttempts(step) {
		rec.Status, rec.Error, rec.FinishedAt, rec.NextAttemptAt = runs.StepFailed, stepError, now, time.Time{}
		if err := a.putStep(rec); err != nil {
			return again, err
		}
		if step.Continues() {
			return a.walk()
		}
		return a.finishFailed(step.ID, stepError)
	}
	backoff := a.backoff(rec.Attempts, stepErr.RetryAfter)
	until := now.Add(backoff)
	if backoff <= MaxSleep && until.Before(a.stopAt) && (a.run.Deadline.IsZero() || until.Before(a.run.Deadline)) {
		// A short back-off is slept here. The record says running; if the
		// runner dies asleep, the attempt counts as failed, as it did.
		if err := a.r.clock.Sleep(a.ctx, backoff); err != nil {
			return again, err
		}
		return a.attempt(index, rec, last)
	}
	rec.Status, rec.Error, rec.NextAttemptAt = runs.StepWaiting, stepError, until
	if err := a.putStep(rec); err != nil {
		return again, err
	}
	return a.waitUntil(until, now)
}

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

// waitUntil makes the run wait until t (never past its deadline) and
// answers the Wait.
func (a *advance) waitUntil(t, now time.Time) (outcome, error) {
	if !a.run.Deadline.IsZero() && t.After(a.run.Deadline) {
		t = a.run.Deadline // the run times out then; nothing waits past it
	}
	if a.run.Status != runs.StatusWaiting || !a.run.WaitUntil.Equal(t) {
		run := a.run
		run.Status, run.WaitUntil = runs.StatusWaiting, t
		if run.StartedAt.IsZero() {
			run.StartedAt = now
		}
		if err := a.updateRun(run); err != nil {
			return again, err
		}
	}
	return outcome{waitSeconds: max(1, int(math.Ceil(t.Sub(now).Seconds())))}, nil
}

// markRunning moves a queued or waiting run to running before a step
// attempt begins.
func (a *advance) markRunning(now time.Time) error {
	if a.run.Status == runs.StatusRunning {
		return nil
	}
	run := a.run
	run.Status, run.WaitUntil = runs.StatusRunning, time.Time{}
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	return a.updateRun(run)
}

func (a *advance) timedOut(rec runs.Step, exists bool, now time.Time) (outcome, error) {
	if exists && (rec.Status == runs.StepRunning || rec.Status == runs.StepWaiting) {
		if rec.Error == nil {
			rec.Error = &runs.Error{Code: CodeRunTimeout, Message: "the run's timeout ended this step"}
		}
		rec.Status, rec.FinishedAt, rec.NextAttemptAt = runs.StepFailed, now, time.Time{}
		if err := a.putStep(rec); err != nil {
			return again, err
		}
	}
	return a.finishRun(runs.StatusTimedOut, &runs.Error{Code: CodeRunTimeout, Message: "the run exceeded the workflow's timeoutSeconds", Step: rec.StepID}, nil)
}

func (a *advance) finishFailed(stepID string, stepErr *runs.Error) (outcome, error) {
	e := &runs.Error{Code: CodeEngineError, Message: "the step failed", Step: stepID}
	if stepErr != nil {
		e.Code, e.Message = stepErr.Code, stepErr.Message
	}
	return a.finishRun(runs.StatusFailed, e, nil)
}

// finishRun ends the run with status; output is the last executed step's
// (for a succeeded or cancelled run). A run being cancelled ends cancelled,
// whatever its last step did: the cancel was answered "cancelling", and
// that promises "cancelled". This is the one place a run ends, and its write
// is conditional on the revision read (so on the status read): a cancel
// written since makes it conflict, and the next pass reads "cancelling" and
// comes back here.
func (a *advance) finishRun(status runs.Status, runErr *runs.Error, output jsontext.Value) (outcome, error) {
	if a.run.Status == runs.StatusCancelling {
		status, runErr = runs.StatusCancelled, nil
	}
	run := a.run
	now := a.r.clock.Now()
	run.Status, run.Error, run.FinishedAt, run.WaitUntil, run.NextStep = status, runErr, now, time.Time{}, len(a.def.Steps)
	if output != nil {
		run.Output = output
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if err := a.updateRun(run); err != nil {
		return again, err
	}
	return finished, nil
}

func (a *advance) updateRun(run runs.Run) error {
	written, err := a.r.store.Update(a.ctx, run)
	if errors.Is(err, runs.ErrRevision) {
		return errConflict
	}
	if err != nil {
		return err
	}
	a.run = written
	return nil
}

func (a *advance) putStep(rec runs.Step) error {
	written, err := a.r.store.PutStep(a.ctx, rec)
	if errors.Is(err, runs.ErrRevision) {
		return errConflict
	}
	if err != nil {
		return err
	}
	a.steps[rec.StepID] = written
	return nil
}

func withStatus(rec runs.Step, status runs.StepStatus, now time.Time) runs.Step {
	rec.Status, rec.FinishedAt, rec.NextAttemptAt = status, now, time.Time{}
	return rec
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
