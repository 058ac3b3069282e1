package runs

import (
	"context"
	"time"
)

// Open reports whether a step record has not ended: an attempt is running,
// or it waits (a back-off, a delay).
func (s Step) Open() bool { return s.Status == StepRunning || s.Status == StepWaiting }

// EndOpenSteps records every step of steps that is still open as ended at
// now: status (cancelled, or failed with e; e nil keeps each step's own
// error, the last attempt's), finishedAt now and no next attempt. It
// returns the steps as written, and ErrRevision as soon as one write finds
// its step changed since it was read: someone else (the runner) moved it,
// and the caller reads again and decides afresh.
//
// Whoever ends a run ends its open steps this way first, then writes the
// run's end: so a run is never recorded finished with a step left running
// or waiting, and a writer that dies in between leaves a run that is still
// unfinished (its marker kept), whose next reader finishes it. A step
// recorded cancelled is itself the cancel: the runner, finding one, ends the
// run cancelled.
func EndOpenSteps(ctx context.Context, store Store, steps []Step, status StepStatus, e *Error, now time.Time) ([]Step, error) {
	var ended []Step
	for _, st := range steps {
		if !st.Open() {
			continue
		}
		st.Status, st.FinishedAt, st.NextAttemptAt = status, now, time.Time{}
		if e != nil {
			st.Error = e
		}
		written, err := store.PutStep(ctx, st.WithHistory(now))
		if err != nil {
			return ended, err
		}
		ended = append(ended, written)
	}
	return ended, nil
}
