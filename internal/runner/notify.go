package runner

import (
	"context"
	"time"

	"github.com/workflowsapi/workflows/internal/runs"
)

// Notifier delivers the due events of a run (notify.Deliverer does) and
// returns the run as it wrote it.
type Notifier interface {
	Deliver(ctx context.Context, run runs.Run) (runs.Run, error)
}

// deliveryTime is how much of an invocation a delivery may need: up to
// notify.MaxPerDeliver POSTs of engine.EventTimeout each. With less left,
// the events are left due, and the driver is told to come back at once.
const deliveryTime = 30 * time.Second

// notifyRetry is when a run whose delivery could not be recorded (the
// store unreachable) is advanced again to deliver.
const notifyRetry = 5 * time.Second

// deliver sends the run's due events (the run as this Advance last read or
// wrote it) and folds their schedule into what the driver is told: a run
// that has ended but has events pending is not done, it is to be advanced
// when the next is due; a wait, or a park, is cut short to that time. A
// failed delivery is logged and tried again later: it never changes what
// the run does.
func (r *Runner) deliver(ctx context.Context, run runs.Run, o outcome) outcome {
	if r.notifier == nil || run.Notify == nil || !run.NotificationsPending() {
		return o
	}
	now := r.clock.Now()
	next := run.NextNotificationAt()
	if !next.After(now) && r.timeLeft(ctx) >= deliveryTime {
		written, err := r.notifier.Deliver(ctx, run)
		if err != nil {
			r.logger.Warn("a run's events were not delivered", "runId", run.ID, "error", err)
			next = now.Add(notifyRetry)
		} else if next = written.NextNotificationAt(); next.IsZero() {
			return o // all delivered (or given up)
		}
	}
	wait := 0
	if next.After(now) {
		wait = secondsUntil(next, now)
	}
	switch {
	case o.done:
		return outcome{waitSeconds: wait}
	case o.waitSeconds > 0:
		o.waitSeconds = min(o.waitSeconds, max(wait, 1))
	}
	return o
}

// timeLeft is how long the invocation may still run (a long time when ctx
// has no deadline: the local driver).
func (r *Runner) timeLeft(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return time.Hour
	}
	return time.Until(deadline) - r.margin
}
