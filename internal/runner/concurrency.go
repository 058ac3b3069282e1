package runner

import (
	"context"
	"errors"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
)

// A run of a workflow with a concurrency limit takes a slot before it
// begins running (markRunning), and gives it back whenever it stops
// running (runs.HoldSlots, in the store every writer uses). A run that
// finds no slot stays as it is (queued, or waiting after a delay), writes
// its queue entry and parks: the run that frees a slot wakes it, and it
// looks again by itself when the earliest lease of the slots' holders ends,
// in case that holder died.

// errQueued: the run found no slot; the Advance answers o (parked).
type errQueued struct{ o outcome }

func (e *errQueued) Error() string { return "runner: the run waits for a concurrency slot" }

// renewBefore: a slot whose lease ends sooner than this is renewed by the
// next pass of its run, so a run that goes on for longer than one lease
// keeps it.
const renewBefore = runs.SlotLease / 2

// limited reports whether the run's workflow version has a concurrency
// limit.
func (a *advance) limited() bool { return a.def.Concurrency != nil && a.r.slots != nil }

// takeSlot gives the run a slot in run (written by the caller with its
// Begin), or parks it (errQueued). A run holding one keeps it.
func (a *advance) takeSlot(run runs.Run, now time.Time) (runs.Run, error) {
	if !a.limited() || run.Slot > 0 {
		return run, nil
	}
	if run.ConcurrencyGroup == "" {
		key, err := a.r.engine.ConcurrencyKey(a.ctx, a.compiled, a.context(0))
		if err != nil {
			return run, a.keyFailed(err)
		}
		run.ConcurrencyGroup, run.ConcurrencyLimit = runs.ConcurrencyGroup(a.account, a.run.WorkflowID, key), a.def.Concurrency.Limit
	}
	group := run.ConcurrencyGroup
	state, err := a.r.slots.Slots(a.ctx, group)
	if err != nil {
		return run, err
	}
	index, ok, retryAt := runs.Admit(state, run.ConcurrencyLimit, a.runID, now)
	if !ok {
		return run, a.queue(run, state, retryAt, now)
	}
	lease := now.Add(runs.SlotLease)
	if err := a.r.slots.TakeSlot(a.ctx, group, runs.Slot{Index: index, RunID: a.runID, AccountID: a.account, LeaseUntil: lease}, now); errors.Is(err, runs.ErrRevision) {
		return run, errConflict // another run took it first: look again
	} else if err != nil {
		return run, err
	}
	for _, q := range state.Queue {
		if q.RunID == a.runID {
			if err := a.r.slots.Dequeue(a.ctx, group, a.runID); err != nil {
				return run, err
			}
		}
	}
	run.Slot, run.SlotLeaseUntil = index+1, lease
	return run, nil
}

// queue writes the run's queue entry (and, the first time, its group on
// the run) and parks it until a slot is freed, or until the earliest lease
// ends at the latest.
func (a *advance) queue(run runs.Run, state runs.SlotState, retryAt, now time.Time) error {
	if run.ConcurrencyGroup != a.run.ConcurrencyGroup {
		if err := a.updateRun(run); err != nil {
			return err
		}
	}
	queued := false
	for _, q := range state.Queue {
		queued = queued || q.RunID == a.runID
	}
	if !queued {
		expires := a.run.Deadline
		if expires.IsZero() {
			expires = now.Add(runs.MaxLifetime)
		}
		if err := a.r.slots.Enqueue(a.ctx, run.ConcurrencyGroup, runs.QueuedRun{RunID: a.runID, AccountID: a.account}, expires.Add(runs.StoreGrace)); err != nil {
			return err
		}
	}
	until := retryAt
	if until.IsZero() || (!a.run.Deadline.IsZero() && until.After(a.run.Deadline)) {
		until = a.run.Deadline
	}
	if until.IsZero() {
		until = now.Add(runs.SlotLease)
	}
	return &errQueued{o: outcome{waitSeconds: secondsUntil(until, now), waitForEvent: true}}
}

// keyFailed ends the run failed when its concurrency key cannot be
// evaluated on its input: it could never count against a limit.
func (a *advance) keyFailed(err error) error {
	var stepErr *engine.StepError
	if !errors.As(err, &stepErr) {
		return err
	}
	_, ferr := a.finishRun(runs.StatusFailed, &runs.Error{Code: stepErr.Code, Message: stepErr.Message}, nil)
	if ferr != nil {
		return ferr
	}
	return &errQueued{o: finished}
}

// renewSlot extends the lease of the slot the run holds when it ends
// soon: the run is still going.
func (a *advance) renewSlot() error {
	run := a.run
	if !a.limited() || run.Slot == 0 || run.Status != runs.StatusRunning {
		return nil
	}
	now := a.r.clock.Now()
	if run.SlotLeaseUntil.Sub(now) > renewBefore {
		return nil
	}
	lease := now.Add(runs.SlotLease)
	err := a.r.slots.TakeSlot(a.ctx, run.ConcurrencyGroup, runs.Slot{Index: run.Slot - 1, RunID: a.runID, AccountID: a.account, LeaseUntil: lease}, now)
	if errors.Is(err, runs.ErrRevision) {
		// Its lease ended and another run took the slot: this run gives it
		// up and takes one again before its next step.
		run.Slot, run.SlotLeaseUntil = 0, time.Time{}
		return a.updateRun(run)
	}
	if err != nil {
		return err
	}
	run.SlotLeaseUntil = lease
	return a.updateRun(run)
}

// parkQueued is Park for a run waiting for a slot: the task token goes on
// its queue entry, for the run that frees a slot to complete; if a slot is
// free by now (one was freed before the token was kept), it completes the
// token itself. handled is false for a run that is not queued.
func (r *Runner) parkQueued(ctx context.Context, run runs.Run, token string, complete func() error) (handled bool, err error) {
	if r.slots == nil || run.ConcurrencyGroup == "" || run.Slot > 0 {
		return false, nil
	}
	err = r.slots.KeepQueueToken(ctx, run.ConcurrencyGroup, run.ID, token)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil // not queued (any more): the steps say what it waits for
	}
	if err != nil {
		return true, err
	}
	state, err := r.slots.Slots(ctx, run.ConcurrencyGroup)
	if err != nil {
		return true, err
	}
	if _, ok, _ := runs.Admit(state, run.ConcurrencyLimit, run.ID, r.clock.Now()); ok {
		return true, complete()
	}
	return true, nil
}
