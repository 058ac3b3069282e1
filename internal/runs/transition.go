package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// A run's status changes only through the transitions below (Begin, Wait,
// End, RequestCancel), and is written only by Update, conditional on the
// revision read. Writers that change a run from outside the runner's pass
// (a cancel, the state machine's catch, the start check) go through Change,
// the one read-decide-write loop; the runner's pass has its own loop,
// because it decides on the steps too and starts its whole pass again. So a
// new writer (a child run's end, a signal, a concurrency slot) moves a run
// the same way as every other.

// ErrTransition: the run's status does not allow the change asked (a
// finished run never changes; a cancelling one may only end cancelled).
var ErrTransition = errors.New("runs: the run's status does not allow this change")

// transitions lists, per status, where a run may go next. Queued and
// waiting runs are cancelled at once (no step is executing); a running one
// is cancelling until its runner, between two steps, ends it cancelled.
var transitions = map[Status][]Status{
	StatusQueued:     {StatusRunning, StatusWaiting, StatusCancelled, StatusSucceeded, StatusFailed, StatusTimedOut},
	StatusRunning:    {StatusWaiting, StatusCancelling, StatusSucceeded, StatusFailed, StatusTimedOut},
	StatusWaiting:    {StatusRunning, StatusCancelled, StatusSucceeded, StatusFailed, StatusTimedOut},
	StatusCancelling: {StatusCancelled},
}

// CanBecome reports whether a run in status s may move to next (staying
// where it is is always allowed for an unfinished run).
func (s Status) CanBecome(next Status) bool {
	if s == next {
		return !s.Finished()
	}
	return slices.Contains(transitions[s], next)
}

func (r Run) to(next Status, now time.Time) (Run, error) {
	if !r.Status.CanBecome(next) {
		return r, fmt.Errorf("%w: %s to %s", ErrTransition, r.Status, next)
	}
	from := r.Status
	r.Status = next
	r = r.recordEvent(from, now)
	if next != StatusWaiting {
		r.WaitUntil, r.WaitingFor = time.Time{}, ""
	}
	if r.StartedAt.IsZero() && next != StatusCancelled && next != StatusCancelling {
		r.StartedAt = now
	}
	if next.Finished() {
		r.FinishedAt = now
		if r.StartedAt.IsZero() {
			r.StartedAt = now
		}
	}
	return r, nil
}

// Begin is a run whose step attempt begins: running.
func (r Run) Begin(now time.Time) (Run, error) { return r.to(StatusRunning, now) }

// Wait is a run that waits until until (a delay, a back-off): no process
// sleeps through it; the driver comes back then.
func (r Run) Wait(until, now time.Time) (Run, error) {
	r, err := r.to(StatusWaiting, now)
	r.WaitUntil, r.WaitingFor = until, ""
	return r, err
}

// WaitForChild is a run that waits for its child run (a workflow step),
// until its own deadline at most: the child's end resumes it.
func (r Run) WaitForChild(childRunID string, until, now time.Time) (Run, error) {
	r, err := r.to(StatusWaiting, now)
	r.WaitUntil, r.WaitingFor = until, childRunID
	return r, err
}

// End is a finished run: status with e (failed, timed out), and output
// when not nil. A run being cancelled ends cancelled, whatever its last step
// did: the cancel was answered "cancelling", and that promises "cancelled".
func (r Run) End(status Status, e *Error, output jsontext.Value, now time.Time) (Run, error) {
	if !status.Finished() {
		return r, fmt.Errorf("%w: %s is not an end", ErrTransition, status)
	}
	if r.Status == StatusCancelling {
		status, e = StatusCancelled, nil
	}
	r, err := r.to(status, now)
	if err != nil {
		return r, err
	}
	r.Error = e
	if output != nil {
		r.Output = output
	}
	return r, nil
}

// RequestCancel is the run a cancel makes: a queued or waiting run is
// cancelled at once; a running one is cancelling, and its runner ends it
// cancelled before its next step. changed is false for a run already
// cancelling or cancelled (a cancel repeated); a finished run is
// ErrTransition.
func (r Run) RequestCancel(now time.Time) (next Run, changed bool, err error) {
	switch r.Status {
	case StatusCancelling, StatusCancelled:
		return r, false, nil
	case StatusQueued, StatusWaiting:
		next, err = r.to(StatusCancelled, now)
	default:
		next, err = r.to(StatusCancelling, now)
	}
	return next, err == nil, err
}

// Decision is what a writer of Change decides a run becomes.
type Decision struct {
	// Run is the run to write. Keep writes nothing: Change returns the run
	// as read.
	Run  Run
	Keep bool
	// EndSteps, when set, ends the run's open steps with this status and
	// StepError (EndOpenSteps) before the run is written; a run error then
	// names the last step ended, if it names none.
	EndSteps  StepStatus
	StepError *Error
}

// MaxConflicts bounds how often Change reads again after losing a write.
const MaxConflicts = 20

// ErrKeepsChanging: Change lost its write MaxConflicts times.
var ErrKeepsChanging = errors.New("runs: the run kept changing under another writer")

// Change is the one read-decide-write loop of a run's status outside the
// runner's pass: it reads the run, asks decide what it becomes (decide may
// read the steps it is given), ends the open steps the decision names, then
// writes the run conditional on the revision read. A lost write, of a step
// or of the run, reads everything again and asks decide afresh, at most
// MaxConflicts times. decide's error is returned as it is.
func Change(ctx context.Context, store Store, account, runID string, now func() time.Time, decide func(run Run) (Decision, error)) (Run, error) {
	for range MaxConflicts {
		run, err := store.Get(ctx, account, runID)
		if err != nil {
			return Run{}, err
		}
		d, err := decide(run)
		if err != nil {
			return Run{}, err
		}
		if d.Keep {
			return run, nil
		}
		next := d.Run
		if d.EndSteps != "" {
			steps, err := store.Steps(ctx, runID)
			if err != nil {
				return Run{}, err
			}
			ended, err := EndOpenSteps(ctx, store, steps, d.EndSteps, d.StepError, now())
			if errors.Is(err, ErrRevision) {
				continue // the runner moved a step: decide again on what the run is now
			} else if err != nil {
				return Run{}, err
			}
			if next.Error != nil && next.Error.Step == "" && len(ended) > 0 {
				e := *next.Error
				e.Step = ended[len(ended)-1].StepID
				next.Error = &e
			}
		}
		written, err := store.Update(ctx, next)
		if errors.Is(err, ErrRevision) {
			continue
		}
		if err != nil {
			return Run{}, err
		}
		return written, nil
	}
	return Run{}, fmt.Errorf("%w: %s", ErrKeepsChanging, runID)
}
