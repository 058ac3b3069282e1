package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Children starts and cancels child runs (*runs.Service does): a workflow
// step's child goes through the same start path as any run (its workflow
// read, enabled, its input checked against its inputSchema, the run stored
// queued, its execution started).
type Children interface {
	Start(ctx context.Context, req runs.StartRequest) (runs.Run, error)
	Cancel(ctx context.Context, account, runID string) (runs.Run, error)
}

// Error codes of a workflow step.
const (
	CodeDepthExceeded    = "DEPTH_EXCEEDED"
	CodeChildFailed      = "CHILD_FAILED"
	CodeChildTimedOut    = "CHILD_TIMED_OUT"
	CodeChildCancelled   = "CHILD_CANCELLED"
	CodeWorkflowDisabled = "WORKFLOW_DISABLED"
	CodeInvalidInput     = "INVALID_INPUT"
)

// A workflow step's record is its progress: created waiting with the
// child's id (before the child is stored), it stays waiting while the child
// runs, and ends with the child's output or the child's end as its error.
// The parent waits for the child as a delay does, in the waiting status,
// but without a timer: the child's end resumes it (runs.Waker), and its
// own deadline bounds the wait.

// childStep moves a workflow step: starts its child the first time, then
// records the child's end, or parks the run until the child ends.
func (a *advance) childStep(index int, rec runs.Step, exists bool) (outcome, bool, error) {
	step := a.def.Steps[index]
	if a.r.children == nil {
		return a.failStep(index, rec, exists, &runs.Error{Code: CodeEngineError, Message: "this runner starts no child runs"})
	}
	if !exists {
		if a.began > 0 {
			if !a.mayBegin(a.r.engine.AttemptTimeout(step)) {
				return again, false, nil
			}
			if err := a.recheck(); err != nil {
				return again, false, err
			}
		}
		if depth := a.run.RunDepth(); depth >= workflows.MaxWorkflowDepth {
			return a.failStep(index, rec, exists, &runs.Error{Code: CodeDepthExceeded,
				Message: fmt.Sprintf("this run is %d workflow steps deep, and a child would be %d: the most is %d", depth, depth+1, workflows.MaxWorkflowDepth)})
		}
		now := a.r.clock.Now()
		if err := a.markRunning(now); err != nil {
			return again, false, err
		}
		a.began++
		rec = runs.Step{RunID: a.runID, StepID: step.ID, Index: index, Status: runs.StepWaiting, Attempts: 1, StartedAt: now,
			ChildRunID: runs.ChildRunID(a.runID, step.ID, now)}
		if err := a.putStep(rec); err != nil {
			return again, false, err
		}
		return a.startChild(index, a.steps[step.ID])
	}
	child, err := a.r.store.Get(a.ctx, a.account, rec.ChildRunID)
	if errors.Is(err, domain.ErrNotFound) {
		// The step was recorded and the runner stopped before the child
		// was stored: start it now, under the id recorded.
		return a.startChild(index, rec)
	}
	if err != nil {
		return again, false, err
	}
	if !child.Status.Finished() {
		return a.park(child.ID)
	}
	now := a.r.clock.Now()
	rec.FinishedAt, rec.NextAttemptAt, rec.TaskToken = now, time.Time{}, ""
	switch child.Status {
	case runs.StatusSucceeded:
		rec.Status, rec.Output, rec.Error = runs.StepSucceeded, child.Output, nil
	default:
		rec.Status, rec.Error = runs.StepFailed, childError(child)
	}
	return again, true, a.putStep(rec)
}

// childError is a workflow step's error for a child that did not succeed:
// the child's run id, and its own error.
func childError(child runs.Run) *runs.Error {
	code, how := CodeChildFailed, "failed"
	switch child.Status {
	case runs.StatusTimedOut:
		code, how = CodeChildTimedOut, "timed out"
	case runs.StatusCancelled:
		code, how = CodeChildCancelled, "was cancelled"
	}
	message := "the child run " + child.ID + " " + how
	if child.Error != nil {
		message += " (" + child.Error.Code + ": " + child.Error.Message + ")"
	}
	return &runs.Error{Code: code, Message: message}
}

// startChild renders the child's input (the step's own execution) and
// starts the child under the id the step recorded. A workflow that cannot
// start it (missing, deleted, disabled, an input its schema refuses) fails
// the step.
func (a *advance) startChild(index int, rec runs.Step) (outcome, bool, error) {
	step := a.def.Steps[index]
	result, err := a.execute(func(ctx context.Context) (engine.Result, error) {
		return a.r.engine.Execute(ctx, a.compiled, index, a.context(1), a.runID+":"+step.ID)
	})
	if err == nil && result.Child == nil {
		err = fmt.Errorf("runner: the engine gave no child for %s", step.Type)
	}
	if err != nil {
		stepErr, err := a.stepError(step.ID, err)
		if err != nil {
			return again, false, err
		}
		return a.failStep(index, rec, true, &runs.Error{Code: stepErr.Code, Message: stepErr.Message})
	}
	run := a.run
	_, err = a.r.children.Start(a.ctx, runs.StartRequest{
		AccountID: a.account, WorkflowID: result.Child.WorkflowID, Version: result.Child.Version, Input: result.Child.Input,
		Trigger: runs.TriggerWorkflow, RunID: rec.ChildRunID, Parent: &run, ParentStepID: step.ID,
	})
	if failure := startFailure(result.Child, err); failure != nil {
		return a.failStep(index, rec, true, failure)
	}
	if err != nil {
		return again, false, err
	}
	// Park at once, without reading the child back: one that ends before
	// the park is written still wakes the parent (the local driver
	// advances a run woken mid-Advance again; Park looks at the child after
	// keeping the token).
	return a.park(rec.ChildRunID)
}

// startFailure is the step error of a child that could not start, nil for
// no error or one that is not the step's (the store, the network).
func startFailure(child *engine.Child, err error) *runs.Error {
	var derr *domain.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrNotFound):
		what := "its current version"
		if child.Version > 0 {
			what = fmt.Sprintf("version %d", child.Version)
		}
		return &runs.Error{Code: CodeNoWorkflow, Message: "the workflow " + child.WorkflowID + " or " + what + " is not found (never made, or deleted)"}
	case runs.IsNothingToRun(err):
		return &runs.Error{Code: CodeWorkflowDisabled, Message: "the workflow " + child.WorkflowID + " is disabled: it starts no runs"}
	case errors.As(err, &derr) && derr.Code == domain.CodeValidation:
		var fields []string
		for _, d := range derr.Details {
			fields = append(fields, d.Field+" "+d.Message)
		}
		return &runs.Error{Code: CodeInvalidInput, Message: "the child's input does not meet the workflow's inputSchema: " + strings.Join(fields, "; ")}
	}
	return nil
}

// failStep records the step failed with e (onError then decides, in the
// loop).
func (a *advance) failStep(index int, rec runs.Step, exists bool, e *runs.Error) (outcome, bool, error) {
	step := a.def.Steps[index]
	if !exists {
		rec = runs.Step{RunID: a.runID, StepID: step.ID, Index: index, Attempts: 1, StartedAt: a.r.clock.Now()}
	}
	rec.Status, rec.Error, rec.FinishedAt, rec.NextAttemptAt, rec.TaskToken = runs.StepFailed, e, a.r.clock.Now(), time.Time{}, ""
	return again, true, a.putStep(rec)
}

// park makes the run wait for its child: waiting, until its own deadline
// at most, and the driver told to wait for the child's end (Step
// Functions with a task token, the local driver for a notice).
func (a *advance) park(childRunID string) (outcome, bool, error) {
	until := a.run.Deadline
	if until.IsZero() {
		until = a.r.clock.Now().Add(time.Duration(workflows.MaxWorkflowTimeoutSeconds) * time.Second)
	}
	return a.parkUntil(until, childRunID)
}

// parkUntil makes the run wait for an event on its current step (the
// child childRunID's end; a signal when it is ""), until at most (and
// never past the run's deadline): the driver parks it on a task token, or
// on a timer that the event cuts short.
func (a *advance) parkUntil(until time.Time, childRunID string) (outcome, bool, error) {
	now := a.r.clock.Now()
	if !a.run.Deadline.IsZero() && until.After(a.run.Deadline) {
		until = a.run.Deadline
	}
	if a.run.Status != runs.StatusWaiting || a.run.WaitingFor != childRunID || !a.run.WaitUntil.Equal(until) {
		var run runs.Run
		var err error
		if childRunID != "" {
			run, err = a.run.WaitForChild(childRunID, until, now)
		} else {
			run, err = a.run.Wait(until, now)
		}
		if err != nil {
			return again, false, err
		}
		if err := a.updateRun(run); err != nil {
			return again, false, err
		}
	}
	return outcome{waitSeconds: secondsUntil(until, now), waitForEvent: true}, false, nil
}

// endChild cancels the child of a workflow step whose parent ends while it
// waits (a cancel, the parent's timeout): the child does not outlive the
// reason it ran. Failures are logged; the child's own deadline bounds it.
func (a *advance) endChild(rec runs.Step) {
	if rec.ChildRunID == "" || !rec.Open() || a.r.children == nil {
		return
	}
	if _, err := a.r.children.Cancel(a.ctx, a.account, rec.ChildRunID); err != nil && !errors.Is(err, domain.ErrNotFound) {
		var derr *domain.Error
		if !errors.As(err, &derr) || derr.Code != domain.CodeConflict {
			a.r.logger.Warn("the parent ended and its child was not cancelled", "runId", a.runID, "childRunId", rec.ChildRunID, "error", err)
		}
	}
}

// parkFor is the WaitForEvent state's task: it keeps the state's task
// token with the step the run is parked on (a workflow step waiting for
// its child, a wait_for_signal step), then looks at what it waits for. The
// event (the child's end, the signal) completes the token it finds there
// (runs.Waker); one that came before the token was kept found none, so
// this completes it itself, as it does when nothing waits any more (the
// run ended, was cancelled, or the step was recorded meanwhile). Both may
// complete it: the second completion fails, and is ignored, as the
// execution has gone on. A signal is a conditional write of the step, as
// keeping the token is, so the two are ordered: the signal either sees the
// token or makes this write lose and look again.
func (r *Runner) parkFor(ctx context.Context, task Task) error {
	token := task.Park.Token
	if r.tokens == nil {
		return errors.New("runner: no task tokens wired to park a run")
	}
	complete := func() error { return r.tokens.CompleteTask(ctx, token, task.AccountID, task.RunID) }
	for range maxConflicts {
		run, err := r.store.Get(ctx, task.AccountID, task.RunID)
		if err != nil {
			return err
		}
		if run.Status.Finished() || run.Status == runs.StatusCancelling {
			return complete()
		}
		if handled, err := r.parkQueued(ctx, run, token, complete); handled || err != nil {
			return err
		}
		steps, err := r.store.Steps(ctx, task.RunID)
		if err != nil {
			return err
		}
		var waiting *runs.Step
		for i := range steps {
			if steps[i].Status == runs.StepWaiting && (steps[i].ChildRunID != "" || steps[i].SignalHash != "") {
				waiting = &steps[i]
				break
			}
		}
		if waiting == nil {
			return complete()
		}
		rec := *waiting
		rec.TaskToken = token
		if _, err := r.store.PutStep(ctx, rec); errors.Is(err, runs.ErrRevision) {
			continue
		} else if err != nil {
			return err
		}
		if rec.ChildRunID == "" {
			return nil // a signal: it finds the token now
		}
		child, err := r.store.Get(ctx, task.AccountID, rec.ChildRunID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		if err != nil || child.Status.Finished() {
			return complete()
		}
		return nil
	}
	return &RunConflict{RunID: task.RunID}
}
