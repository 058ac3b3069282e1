package runner

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows"
)

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
	// held is the step whose record this Advance set running and still
	// holds (between a failed attempt and the retry it sleeps for): found
	// running, it is not another runner's live attempt.
	held string
	// planned is the fan-out step this pass planned: it has no items yet.
	planned string
}

type outcome struct {
	done        bool
	waitSeconds int
	// waitForEvent: the run waits for a child run's end (at most
	// waitSeconds, its own deadline), not for a timer.
	waitForEvent bool
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
	a.held, a.planned = "", ""
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
	if err := a.renewSlot(); err != nil {
		return again, err
	}
	list, err := a.r.store.Steps(ctx, a.runID)
	if err != nil {
		return again, err
	}
	a.steps = make(map[string]runs.Step, len(list))
	for _, s := range list {
		a.steps[s.StepID] = s
	}
	return a.loop()
}

// loop is the runner's one loop: find where the run is from its step
// records, act on that step once (an attempt, a fan-out's items, the end of
// a delay), and look again, until the run ends or the driver must come
// back. What the records say is the truth, so each turn decides afresh
// from them.
func (a *advance) loop() (outcome, error) {
	for {
		pos, err := a.position()
		if err != nil {
			return again, err
		}
		if pos.end != "" {
			return a.finishAt(pos)
		}
		o, more, err := a.act(pos)
		if err != nil || !more {
			return o, err
		}
	}
}

// position is where a run is: the first step whose record has not ended
// (index, with its record if it began), or, when none is left, how the run
// ends (end, with the failed step's error).
type position struct {
	index  int
	rec    runs.Step
	exists bool
	// last is the output of the last step that ran and succeeded.
	last jsontext.Value

	end     runs.Status
	endStep string
	endErr  *runs.Error
}

// position walks the records in order. A succeeded step goes where it
// recorded (Jump), and the steps it jumped over are recorded skipped; a
// skipped step, or a failed one whose onError is "continue", is passed over
// (never run again).
func (a *advance) position() (position, error) {
	var last jsontext.Value
	index := 0
	for index < len(a.def.Steps) {
		step := a.def.Steps[index]
		rec, ok := a.steps[step.ID]
		switch {
		case ok && rec.Status == runs.StepSucceeded:
			last = rec.Output
			next, err := a.after(index, rec)
			if err != nil {
				return position{}, err
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
			return position{end: runs.StatusFailed, endStep: step.ID, endErr: rec.Error}, nil
		case ok && rec.Status == runs.StepCancelled:
			return position{end: runs.StatusCancelled, last: last}, nil
		}
		return position{index: index, rec: rec, exists: ok, last: last}, nil
	}
	return position{end: runs.StatusSucceeded, last: last}, nil
}

// jumpOf is where a succeeded step sends the run, as recorded. A condition
// recorded false before jumps were recorded (a run in flight across the
// release that began recording them) has no Jump: its else is where the
// engine sent it then.
func jumpOf(step workflows.Step, rec runs.Step) string {
	if rec.Jump == "" && step.Type == workflows.StepCondition && string(rec.Output) == "false" {
		return step.Else
	}
	return rec.Jump
}

// after is the index of the step that follows steps[index], which
// succeeded with rec: the next one, or the one its Jump names, whose
// skipped steps are recorded skipped.
func (a *advance) after(index int, rec runs.Step) (int, error) {
	jump := jumpOf(a.def.Steps[index], rec)
	if jump == "" {
		return index + 1, nil
	}
	target := len(a.def.Steps)
	for j := index + 1; j < len(a.def.Steps); j++ {
		if a.def.Steps[j].ID == jump {
			target = j
			break
		}
	}
	for j := index + 1; j < target; j++ {
		id := a.def.Steps[j].ID
		if _, ok := a.steps[id]; ok {
			continue
		}
		if err := a.putStep(runs.Step{RunID: a.runID, StepID: id, Index: j, Status: runs.StepSkipped, FinishedAt: a.r.clock.Now()}); err != nil {
			return 0, err
		}
	}
	return target, nil
}

// finishAt ends the run where position found its end.
func (a *advance) finishAt(pos position) (outcome, error) {
	switch pos.end {
	case runs.StatusFailed:
		return a.finishFailed(pos.endStep, pos.endErr)
	case runs.StatusCancelled:
		return a.finishRun(runs.StatusCancelled, nil, pos.last)
	}
	return a.finishRun(runs.StatusSucceeded, nil, pos.last)
}

// act moves the run at pos once. more says the loop looks again; otherwise
// the outcome is the driver's answer.
func (a *advance) act(pos position) (o outcome, more bool, err error) {
	step := a.def.Steps[pos.index]
	rec, exists := pos.rec, pos.exists
	now := a.r.clock.Now()

	// A cancel asked while a step ran: cancelled before the next one.
	if a.run.Status == runs.StatusCancelling {
		if exists && rec.Open() {
			a.endChild(rec)
			if err := a.putStep(withStatus(rec, runs.StepCancelled, now)); err != nil {
				return again, false, err
			}
		}
		o, err := a.finishRun(runs.StatusCancelled, nil, pos.last)
		return o, false, err
	}
	if !a.run.Deadline.IsZero() && !now.Before(a.run.Deadline) {
		o, err := a.timedOut(rec, exists, now)
		return o, false, err
	}
	if progress, ok := progressOf[step.Type]; ok {
		return progress(a, pos.index, rec, exists)
	}
	if !exists {
		rec = runs.Step{RunID: a.runID, StepID: step.ID, Index: pos.index}
	}

	switch {
	case rec.Status == runs.StepRunning && rec.StepID == a.held:
		// Ours, after a short back-off slept here: the next attempt.
	case rec.Status == runs.StepRunning && now.Before(rec.NextAttemptAt):
		// Another Advance of the run may be executing it right now (a
		// repeated task), or the runner that began it died mid-attempt.
		// Until the attempt's lease ends (its timeout and a margin) it may
		// be live: come back then.
		return outcome{waitSeconds: secondsUntil(rec.NextAttemptAt, now)}, false, nil
	case rec.Status == runs.StepRunning:
		// Past its lease, that attempt failed.
		return a.failedAttempt(pos.index, rec, &engine.StepError{Code: CodeInterrupted, Message: "the runner stopped during this attempt", Retryable: true})
	case rec.Status == runs.StepWaiting && now.Before(rec.NextAttemptAt):
		o, err := a.waitUntil(rec.NextAttemptAt, now)
		return o, false, err
	case rec.Status == runs.StepWaiting && step.Type == workflows.StepDelay:
		// The delay is over: the step succeeded (output null).
		rec.Status, rec.Output, rec.FinishedAt, rec.NextAttemptAt = runs.StepSucceeded, jsontext.Value("null"), now, time.Time{}
		return again, true, a.putStep(rec)
	}
	return a.attempt(pos.index, rec)
}

// progressOf is, per kind whose progress is not one attempt at a time,
// how the runner moves it: a fan-out runs its items (fanout.go), a
// workflow step starts and waits for its child (child.go). Every other
// kind is one attempt at a time (attempt, below), with the engine's Result
// saying what it did (an output, a jump, a wait).
var progressOf = map[workflows.StepType]func(a *advance, index int, rec runs.Step, exists bool) (outcome, bool, error){
	workflows.StepForeach:  (*advance).fanOut,
	workflows.StepParallel: (*advance).fanOut,
	workflows.StepWorkflow: (*advance).childStep,
	// A wait_for_signal step records its wait and parks (signal.go).
	workflows.StepWaitForSignal: (*advance).signalStep,
}

// mayBegin reports whether another attempt (of step, or of one of its
// items, whose bound is attemptTimeout) may begin in this Advance: the
// first always does; later ones only within the budget, and only if the
// attempt can run its whole timeout before the invocation ends: one cut
// short by the Lambda's deadline would hold its record until its lease
// ends. The next Advance, with its whole time, begins it instead.
func (a *advance) mayBegin(attemptTimeout time.Duration) bool {
	if a.began == 0 {
		return true
	}
	if deadline, ok := a.ctx.Deadline(); ok && time.Until(deadline)-a.r.margin < attemptTimeout {
		return false
	}
	return a.r.clock.Now().Before(a.stopAt)
}

// recheck reads the run again before a step that is not the Advance's
// first: a cancel written since is decided on afresh (errConflict).
func (a *advance) recheck() error {
	fresh, err := a.r.store.Get(a.ctx, a.account, a.runID)
	if err != nil {
		return err
	}
	if fresh.Revision != a.run.Revision {
		return errConflict
	}
	return nil
}

// attempt begins a new attempt of steps[index] (rec is its record, maybe
// new) and records how it ended.
func (a *advance) attempt(index int, rec runs.Step) (outcome, bool, error) {
	step := a.def.Steps[index]
	now := a.r.clock.Now()
	pure := pureStep(step)
	if a.began > 0 {
		if !a.mayBegin(a.r.engine.AttemptTimeout(step)) {
			if rec.Status == runs.StepRunning {
				// After a back-off slept here: the next Advance tries again.
				rec.Status, rec.NextAttemptAt = runs.StepWaiting, now
				if err := a.putStep(rec); err != nil {
					return again, false, err
				}
			}
			return again, false, nil
		}
		if err := a.recheck(); err != nil {
			return again, false, err
		}
	}
	if err := a.markRunning(now); err != nil {
		return again, false, err
	}
	// A step that only computes (pureStep) has no effect to claim, so its
	// attempt writes no running record first: its result is its one write,
	// conditional on the record read, so of two Advances computing it at
	// once one records it and the other reloads (errConflict) and finds it
	// recorded. A failed attempt is recorded running first as any other
	// attempt is, so its count and back-off are kept; a runner that dies
	// mid-attempt leaves no record, and the step is computed again. (One
	// found running is after a failed attempt's short back-off: the claim
	// is written already.)
	claimLater := pure && rec.Status != runs.StepRunning
	// While running, NextAttemptAt is the attempt's lease: past it, an
	// attempt still recorded running is taken as dead.
	rec.Status, rec.Attempts, rec.Error, rec.NextAttemptAt = runs.StepRunning, rec.Attempts+1, nil, now.Add(a.lease(step))
	if rec.StartedAt.IsZero() {
		rec.StartedAt = now
	}
	// The attempt's own start, for its history (a computing step's first
	// write is its result, later).
	rec = rec.WithHistory(now)
	claim := func() error {
		if err := a.putStep(rec); err != nil {
			return err
		}
		rec = a.steps[step.ID]
		a.held = step.ID
		return nil
	}
	if !claimLater {
		if err := claim(); err != nil {
			return again, false, err
		}
	}
	a.began++
	failed := func(stepErr *engine.StepError) (outcome, bool, error) {
		if claimLater {
			if err := claim(); err != nil {
				return again, false, err
			}
		}
		return a.failedAttempt(index, rec, stepErr)
	}

	result, err := a.execute(func(ctx context.Context) (engine.Result, error) {
		return a.r.engine.Execute(ctx, a.compiled, index, a.context(rec.Attempts), a.runID+":"+step.ID)
	})
	if err != nil {
		stepErr, err := a.stepError(step.ID, err)
		if err != nil {
			return again, false, err
		}
		return failed(stepErr)
	}
	now = a.r.clock.Now()
	if result.Wait > 0 {
		// A delay: the run waits; no process sleeps through it.
		until := now.Add(result.Wait)
		rec.Status, rec.NextAttemptAt = runs.StepWaiting, until
		if err := a.putStep(rec); err != nil {
			return again, false, err
		}
		o, err := a.waitUntil(until, now)
		return o, false, err
	}
	output, err := marshalOutput(result.Output)
	if err != nil {
		return failed(&engine.StepError{Code: CodeOutputSize, Message: err.Error()})
	}
	// The engine's answer is the one control signal: where the run goes
	// next is recorded with the output, and followed from the record.
	rec.Status, rec.Output, rec.Jump, rec.FinishedAt, rec.NextAttemptAt = runs.StepSucceeded, output, result.Jump, now, time.Time{}
	return again, true, a.putStep(rec)
}

// pureStep reports whether step only computes (transform, condition): an
// attempt has no effect outside its record, so running it twice is
// harmless, and its record is written once, with its result.
func pureStep(step workflows.Step) bool {
	return step.Type == workflows.StepTransform || step.Type == workflows.StepCondition
}

// stepError is the step failure of an attempt that ended in err: a
// *engine.StepError as it is, anything else the engine's own trouble
// (logged, and recorded as ENGINE_ERROR). The driver shutting down is no
// failure: the attempt stays running and counts as failed when the run
// resumes, and the error is returned.
func (a *advance) stepError(stepID string, err error) (*engine.StepError, error) {
	var stepErr *engine.StepError
	if errors.As(err, &stepErr) {
		return stepErr, nil
	}
	if a.ctx.Err() != nil {
		return nil, a.ctx.Err()
	}
	a.r.logger.Error("the engine failed a step", "runId", a.runID, "stepId", stepID, "error", err)
	return &engine.StepError{Code: CodeEngineError, Message: "the step could not be executed"}, nil
}

// execute runs one attempt, bounded by the invocation's deadline (less the
// margin, so the attempt's end can be recorded) and the run's deadline.
func (a *advance) execute(run func(ctx context.Context) (engine.Result, error)) (engine.Result, error) {
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
	return run(ctx)
}

// failedAttempt records a failed attempt: another after a back-off if the
// error is retryable and attempts remain, else the step fails (and the run
// with it, unless its onError is "continue": position decides).
func (a *advance) failedAttempt(index int, rec runs.Step, stepErr *engine.StepError) (outcome, bool, error) {
	step := a.def.Steps[index]
	now := a.r.clock.Now()
	stepError := &runs.Error{Code: stepErr.Code, Message: stepErr.Message}
	if !a.run.Deadline.IsZero() && !now.Before(a.run.Deadline) {
		rec.Error = stepError
		o, err := a.timedOut(rec, true, now)
		return o, false, err
	}
	if !stepErr.Retryable || rec.Attempts >= maxAttempts(step) {
		rec.Status, rec.Error, rec.FinishedAt, rec.NextAttemptAt = runs.StepFailed, stepError, now, time.Time{}
		return again, true, a.putStep(rec)
	}
	backoff := a.backoff(rec.Attempts, stepErr.RetryAfter)
	until := now.Add(backoff)
	if a.maySleep(until, backoff) {
		// A short back-off is slept here. The record says running (held);
		// if the runner dies asleep, the attempt counts as failed, as it
		// did.
		// The failed attempt's end goes with the next attempt's write.
		rec = rec.EndAttempt(now, stepError)
		a.steps[step.ID] = rec
		if err := a.r.clock.Sleep(a.ctx, backoff); err != nil {
			return again, false, err
		}
		a.held = step.ID
		return again, true, nil
	}
	rec.Status, rec.Error, rec.NextAttemptAt = runs.StepWaiting, stepError, until
	if err := a.putStep(rec); err != nil {
		return again, false, err
	}
	o, err := a.waitUntil(until, now)
	return o, false, err
}

// maySleep reports whether a back-off ending at until is slept inside this
// Advance rather than through the state machine's Wait.
func (a *advance) maySleep(until time.Time, backoff time.Duration) bool {
	return backoff <= MaxSleep && until.Before(a.stopAt) && (a.run.Deadline.IsZero() || until.Before(a.run.Deadline))
}

func secondsUntil(t, now time.Time) int {
	return max(1, int(math.Ceil(t.Sub(now).Seconds())))
}

// waitUntil makes the run wait until t (never past its deadline) and
// answers the Wait.
func (a *advance) waitUntil(t, now time.Time) (outcome, error) {
	if !a.run.Deadline.IsZero() && t.After(a.run.Deadline) {
		t = a.run.Deadline // the run times out then; nothing waits past it
	}
	if a.run.Status != runs.StatusWaiting || !a.run.WaitUntil.Equal(t) {
		run, err := a.run.Wait(t, now)
		if err != nil {
			return again, err
		}
		if err := a.updateRun(run); err != nil {
			return again, err
		}
	}
	return outcome{waitSeconds: secondsUntil(t, now)}, nil
}

// markRunning moves a queued or waiting run to running before a step
// attempt begins.
func (a *advance) markRunning(now time.Time) error {
	if a.run.Status == runs.StatusRunning {
		return nil
	}
	run, err := a.takeSlot(a.run, now)
	if err != nil {
		return err
	}
	if run, err = run.Begin(now); err != nil {
		return err
	}
	return a.updateRun(run)
}

func (a *advance) timedOut(rec runs.Step, exists bool, now time.Time) (outcome, error) {
	if exists && rec.Open() {
		a.endChild(rec)
		rec.TaskToken = ""
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

// finishRun ends the run with status (runs.Run.End: a run being cancelled
// ends cancelled); output is the last executed step's, for a succeeded or
// cancelled run. This is the one place a pass ends a run, and its write is
// conditional on the revision read (so on the status read): a cancel
// written since makes it conflict, and the next pass reads "cancelling" and
// comes back here.
func (a *advance) finishRun(status runs.Status, runErr *runs.Error, output jsontext.Value) (outcome, error) {
	run, err := a.run.End(status, runErr, output, a.r.clock.Now())
	if err != nil {
		return again, err
	}
	run.NextStep = len(a.def.Steps)
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
	written, err := a.r.store.PutStep(a.ctx, rec.WithHistory(a.r.clock.Now()))
	if errors.Is(err, runs.ErrRevision) {
		return errConflict
	}
	if err != nil {
		return err
	}
	a.steps[rec.StepID] = written
	if written.Status != runs.StepRunning && a.held == rec.StepID {
		a.held = ""
	}
	return nil
}

func withStatus(rec runs.Step, status runs.StepStatus, now time.Time) runs.Step {
	rec.Status, rec.FinishedAt, rec.NextAttemptAt = status, now, time.Time{}
	return rec
}
