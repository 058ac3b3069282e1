package runs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// A wait_for_signal step waits for someone to signal it, through the API
// (POST /runs/{id}/signals/{stepId}, with a key) or through the step's
// signalUrl (POST /signals/{token}, the token being the capability). The
// signal itself is one conditional write of the step record: waiting to
// succeeded, with the signal's data as its output. So of two signals, or a
// signal and the runner's own timeout of the step, exactly one wins, and
// the loser is told so without changing anything. The run is then woken
// (Waker): it had parked on the step, holding no process.
//
// The token is never stored: it is an HMAC under the signal key
// (internal/signaltoken) of the step and a nonce kept on its record, and
// only its sha256 is kept, in a lookup item (SignalRef) that the token's
// route reads by it and deletes on use.

// SignalRef is the lookup item of a signal token, by the token's hash: the
// step it signals, and when it stops being valid (the step's expiry, also
// the item's TTL).
type SignalRef struct {
	Hash      string
	AccountID string
	RunID     string
	StepID    string
	ExpiresAt time.Time
}

// SignalStore keeps the lookup items of signal tokens (runsdb.Store does).
// Signal returns domain.ErrNotFound for a hash no item has.
type SignalStore interface {
	PutSignal(ctx context.Context, ref SignalRef) error
	Signal(ctx context.Context, hash string) (SignalRef, error)
	DeleteSignal(ctx context.Context, hash string) error
}

// AwaitsSignal reports whether the step is a wait_for_signal step still
// waiting for its signal.
func (s Step) AwaitsSignal() bool { return s.SignalHash != "" && s.Status == StepWaiting }

// Signals records signals.
type Signals struct {
	store  Store
	lookup SignalStore
	waker  Waker
	now    func() time.Time
	logger *slog.Logger
}

// NewSignals returns the signals of runs in store, whose tokens' lookup
// items are in lookup; waker resumes a signalled run (nil: the run goes on
// at its own next Advance, the step's expiry at the latest).
func NewSignals(store Store, lookup SignalStore, waker Waker, opts Options) *Signals {
	s := &Signals{store: store, lookup: lookup, waker: waker, now: opts.Now, logger: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// Signal completes the wait_for_signal step stepID of the caller's run with
// data as its output, and answers the run and its steps as they are then.
// domain.ErrNotFound for a run that is not the account's or a step that
// has not begun; a conflict (409) for a step that is not waiting for a
// signal: already signalled (the first signal's data is kept), another
// type of step, its wait over, or the run ended.
func (s *Signals) Signal(ctx context.Context, account, runID, stepID string, data jsontext.Value) (Run, []Step, error) {
	// The route's PathIDs have answered 404 for an id that is not a run's.
	run, err := s.store.Get(ctx, account, runID)
	if err != nil {
		return Run{}, nil, err
	}
	if _, err := s.record(ctx, run, stepID, "", data); err != nil {
		return Run{}, nil, err
	}
	steps, err := s.store.Steps(ctx, runID)
	if err != nil {
		return Run{}, nil, err
	}
	return run, steps, nil
}

// SignalByToken completes the step whose signalUrl holds token. Every
// refusal is domain.ErrNotFound (an unknown token, one used, one expired,
// one whose step no longer waits), so that a token cannot be probed.
func (s *Signals) SignalByToken(ctx context.Context, token string, data jsontext.Value) (Step, error) {
	if !signaltoken.Plausible(token) {
		return Step{}, domain.ErrNotFound
	}
	hash := signaltoken.Hash(token)
	ref, err := s.lookup.Signal(ctx, hash)
	if err != nil {
		return Step{}, err
	}
	if !s.now().Before(ref.ExpiresAt) {
		return Step{}, domain.ErrNotFound
	}
	run, err := s.store.Get(ctx, ref.AccountID, ref.RunID)
	if err != nil {
		return Step{}, err
	}
	st, err := s.record(ctx, run, ref.StepID, hash, data)
	var derr *domain.Error
	if errors.As(err, &derr) && derr.Code == domain.CodeConflict {
		return Step{}, domain.ErrNotFound
	}
	return st, err
}

// record writes the signal on the step: waiting to succeeded, conditional
// on the revision read, read again after a lost write. hash, when not
// empty, is the token's, which must still be the step's (a step whose wait
// was made again after a runner died has another token).
func (s *Signals) record(ctx context.Context, run Run, stepID, hash string, data jsontext.Value) (Step, error) {
	if data == nil {
		data = jsontext.Value("null")
	}
	for range MaxConflicts {
		st, err := s.store.Step(ctx, run.ID, stepID)
		if err != nil {
			return Step{}, err
		}
		if hash != "" && st.SignalHash != hash {
			return Step{}, domain.ErrNotFound
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		if err := notSignallable(run, st, now); err != nil {
			return Step{}, err
		}
		st.Status, st.Output, st.Error = StepSucceeded, data, nil
		st.SignalledAt, st.FinishedAt, st.NextAttemptAt = now, now, time.Time{}
		written, err := s.store.PutStep(ctx, st.WithHistory(now))
		if errors.Is(err, ErrRevision) {
			continue // the runner kept its token, or another signal won: decide again
		}
		if err != nil {
			return Step{}, err
		}
		// The token is spent: its item goes now rather than at its TTL. A
		// failure leaves it to the TTL; it signals nothing more (the step
		// no longer waits).
		if err := s.lookup.DeleteSignal(ctx, written.SignalHash); err != nil {
			s.logger.WarnContext(ctx, "a signal was recorded and its token's lookup item not deleted", "run_id", run.ID, "step_id", stepID, "error", err)
		}
		if s.waker != nil {
			if err := s.waker.Wake(ctx, run.AccountID, run.ID, stepID); err != nil {
				s.logger.WarnContext(ctx, "a signal was recorded and its run not woken: it goes on at its next advance", "run_id", run.ID, "step_id", stepID, "error", err)
			}
		}
		return written, nil
	}
	return Step{}, domain.Errorf(domain.CodeConflict, "The step kept changing while it was being signalled; try again")
}

// notSignallable is why a step of run cannot take a signal now, nil if it
// can.
func notSignallable(run Run, st Step, now time.Time) error {
	switch {
	case st.SignalHash == "" && st.SignalledAt.IsZero():
		return domain.Errorf(domain.CodeConflict, "The step %q is not a wait_for_signal step: it takes no signal", st.StepID)
	case !st.SignalledAt.IsZero():
		return domain.Errorf(domain.CodeConflict, "The step %q was already signalled at %s: the data of that signal is kept", st.StepID, httpapi.FormatTime(st.SignalledAt))
	case run.Status.Finished() || run.Status == StatusCancelling:
		return domain.Errorf(domain.CodeConflict, "The run has ended (%s): its steps take no signal", run.Status)
	case st.Status != StepWaiting:
		return domain.Errorf(domain.CodeConflict, "The step %q is %s, not waiting for a signal", st.StepID, st.Status)
	case !now.Before(st.SignalExpiresAt):
		return domain.Errorf(domain.CodeConflict, "The step %q stopped waiting for a signal at %s", st.StepID, httpapi.FormatTime(st.SignalExpiresAt))
	}
	return nil
}
