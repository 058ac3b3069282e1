package runner

import (
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// CodeSignalTimeout: a wait_for_signal step's wait ended with no signal.
const CodeSignalTimeout = "SIGNAL_TIMEOUT"

// A wait_for_signal step's record is its wait: created waiting with its
// token's nonce and hash and its expiry, it is completed by the signal
// itself (runs.Signals writes it succeeded with the signal's data, and
// wakes the run), or fails here once its expiry has passed. While it waits
// the run is parked as a workflow step's parent is (WaitForEvent): no
// process, no timer loop, just the task token in AWS or the local driver's
// timer, either cut short by the signal.

// signalStep moves a wait_for_signal step: records its wait the first
// time, then parks the run until the signal or the expiry.
func (a *advance) signalStep(index int, rec runs.Step, exists bool) (outcome, bool, error) {
	step := a.def.Steps[index]
	if a.r.signals == nil || a.r.signalMAC == nil {
		return a.failStep(index, rec, exists, &runs.Error{Code: CodeEngineError, Message: "this runner takes no signals"})
	}
	now := a.r.clock.Now()
	if !exists {
		if a.began > 0 {
			if !a.mayBegin(a.r.engine.AttemptTimeout(step)) {
				return again, false, nil
			}
			if err := a.recheck(); err != nil {
				return again, false, err
			}
		}
		if err := a.markRunning(now); err != nil {
			return again, false, err
		}
		a.began++
		var err error
		if rec, err = a.beginWait(index, now); err != nil {
			return again, false, err
		}
	}
	if rec.Status != runs.StepWaiting {
		// Not reached: position passes a step that ended.
		return again, false, fmt.Errorf("runner: the wait_for_signal step %s is %s", step.ID, rec.Status)
	}
	if !now.Before(rec.SignalExpiresAt) {
		return a.failStep(index, rec, true, &runs.Error{Code: CodeSignalTimeout,
			Message: fmt.Sprintf("no signal came within the step's timeoutSeconds (%d s)", step.With.TimeoutSeconds)})
	}
	return a.parkUntil(rec.SignalExpiresAt, "")
}

// beginWait makes the step's token and records its wait: the token's
// lookup item first, so a step recorded waiting always has a token that
// works. A runner that dies between the two leaves an item that nothing
// points to, deleted by its TTL; the next Advance makes a new token.
func (a *advance) beginWait(index int, now time.Time) (runs.Step, error) {
	step := a.def.Steps[index]
	nonce, err := signaltoken.NewNonce()
	if err != nil {
		return runs.Step{}, err
	}
	token, err := signaltoken.Token(a.ctx, a.r.signalMAC, a.account, a.runID, step.ID, nonce)
	if err != nil {
		return runs.Step{}, err
	}
	expires := now.Add(time.Duration(step.With.TimeoutSeconds) * time.Second)
	hash := signaltoken.Hash(token)
	if err := a.r.signals.PutSignal(a.ctx, runs.SignalRef{Hash: hash, AccountID: a.account, RunID: a.runID, StepID: step.ID, ExpiresAt: expires}); err != nil {
		return runs.Step{}, err
	}
	rec := runs.Step{RunID: a.runID, StepID: step.ID, Index: index, Status: runs.StepWaiting, Attempts: 1, StartedAt: now,
		SignalNonce: nonce, SignalHash: hash, SignalExpiresAt: expires}
	if err := a.putStep(rec); err != nil {
		return runs.Step{}, err
	}
	return a.steps[step.ID], nil
}
