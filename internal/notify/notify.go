// Package notify delivers the events a run records (runs.Notification) to
// its workflow's notify URL: a POST of runs.EventBody, signed with the
// workflow's notification secret as incoming webhooks are signed
// (X-Webhook-Signature: t=…,v1=…, one v1 per secret while a rolled one's
// grace lasts), with an Idempotency-Key of the event id, under every rule
// of an http step's requests (engine.PostEvent). A failed POST is tried
// again with back-off and jitter, or when the receiver's Retry-After asks,
// until 24 hours after the event; then the event is recorded failed. What
// happens to a delivery is written on the run (its notifications) and
// nowhere else: never its status.
//
// The runner calls Deliver in every Advance of a run with events pending,
// and answers its driver "come back" at the next one due; so a run's own
// execution (or, for a run whose execution was stopped, its delivery
// execution) delivers its events, and no other process or timer is needed.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// The delivery schedule. After the k-th failed attempt the next comes
// after an equal-jitter back-off over min(BackoffBase × 2^(k-1),
// BackoffCap): half the ceiling plus a random part of the other half, so
// no retry is immediate and receivers coming back from an outage are not
// hit by every sender at once. A Retry-After on the answer is followed
// instead (at least MinRetryAfter, at most BackoffCap). An event not
// delivered within Horizon of its creation is failed.
const (
	BackoffBase   = 30 * time.Second
	BackoffCap    = time.Hour
	MinRetryAfter = time.Second
	Horizon       = 24 * time.Hour
	// MaxPerDeliver bounds the POSTs of one Deliver, so an Advance's
	// deliveries stay within its time (each POST takes at most
	// engine.EventTimeout); the rest are due at once, in the next.
	MaxPerDeliver = 3
)

// Error codes a delivery records besides engine's (HTTP_STATUS, TIMEOUT,
// CONNECTION_ERROR, TARGET_REFUSED, TLS_ERROR).
const (
	// CodeNoSecret: the workflow's notification secret is gone (the
	// workflow was deleted, or its notify removed): nothing is sent
	// unsigned, and the event is failed.
	CodeNoSecret = "NO_NOTIFICATION_SECRET"
	// CodeExpired: Horizon passed without a 2xx answer.
	CodeExpired = "DELIVERY_EXPIRED"
	// CodeBodyTooLarge: the event's body is over 256 KiB however it is
	// cut (runs.ErrEventTooLarge).
	CodeBodyTooLarge = "REQUEST_TOO_LARGE"
)

// Store is what a delivery reads and writes of a run (runsdb.Store does).
// It is the store undecorated: a delivery's write changes no status, so no
// parent or queued run is to be woken by it.
type Store interface {
	Get(ctx context.Context, account, runID string) (runs.Run, error)
	Steps(ctx context.Context, runID string) ([]runs.Step, error)
	Update(ctx context.Context, run runs.Run) (runs.Run, error)
}

// Secrets opens a workflow's notification secrets (webhooks.Secrets of the
// notify kind does).
type Secrets interface {
	SigningSecrets(ctx context.Context, account, workflowID string, now time.Time) ([]string, error)
}

// Poster sends one event POST under the outbound policy (*engine.Engine
// does).
type Poster interface {
	PostEvent(ctx context.Context, rawURL string, header http.Header, body []byte) (int, error)
}

// Options tune a Deliverer; zero values take the defaults.
type Options struct {
	Now    func() time.Time
	Jitter func() float64
	Logger *slog.Logger
}

// Deliverer delivers runs' events.
type Deliverer struct {
	store   Store
	secrets Secrets
	poster  Poster
	now     func() time.Time
	jitter  func() float64
	logger  *slog.Logger
}

// New returns a Deliverer.
func New(store Store, secrets Secrets, poster Poster, opts Options) *Deliverer {
	d := &Deliverer{store: store, secrets: secrets, poster: poster, now: opts.Now, jitter: opts.Jitter, logger: opts.Logger}
	if d.now == nil {
		d.now = time.Now
	}
	if d.jitter == nil {
		d.jitter = rand.Float64
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// maxWrites bounds how often Deliver reads the run again after losing its
// write to another writer (the runner's own pass, a cancel).
const maxWrites = 10

// Deliver sends the run's events that are due (at most MaxPerDeliver),
// records how each went on the run, and returns the run as written (as
// given when nothing was due). run is the run as its caller last read or
// wrote it: no read is made when nothing is due. A write lost to another
// writer reads the run again and records the same results on it.
func (d *Deliverer) Deliver(ctx context.Context, run runs.Run) (runs.Run, error) {
	now := d.now().UTC().Truncate(time.Millisecond)
	due := dueEvents(run, now)
	if len(due) == 0 {
		return run, nil
	}
	results := d.send(ctx, run, due, now)
	for range maxWrites {
		next, changed := apply(run, results)
		if !changed {
			return run, nil
		}
		written, err := d.store.Update(ctx, next)
		if err == nil {
			return written, nil
		}
		if !errors.Is(err, runs.ErrRevision) {
			return run, err
		}
		if run, err = d.store.Get(ctx, run.AccountID, run.ID); err != nil {
			return run, err
		}
	}
	return run, fmt.Errorf("notify: run %s kept changing while its deliveries were recorded", run.ID)
}

// dueEvents are the pending events whose next attempt has come, oldest
// first, at most MaxPerDeliver.
func dueEvents(run runs.Run, now time.Time) []runs.Notification {
	var due []runs.Notification
	for _, n := range run.Notifications {
		if n.Status == runs.NotificationPending && !n.NextAttemptAt.After(now) && len(due) < MaxPerDeliver {
			due = append(due, n)
		}
	}
	return due
}

// send POSTs each due event and returns each as it now stands.
func (d *Deliverer) send(ctx context.Context, run runs.Run, due []runs.Notification, now time.Time) map[string]runs.Notification {
	results := make(map[string]runs.Notification, len(due))
	if run.Notify == nil {
		return results
	}
	secrets, err := d.secrets.SigningSecrets(ctx, run.AccountID, run.WorkflowID, now)
	if err != nil {
		code, message := CodeNoSecret, "the workflow has no notification secret (deleted, or its notify removed): nothing is sent unsigned"
		if !isNotFound(err) {
			// Unreadable for now (KMS or DynamoDB): tried again later.
			d.logger.WarnContext(ctx, "notification secret not opened", "runId", run.ID, "error", err)
			for _, n := range due {
				results[n.ID] = d.retryLater(n, now, &runs.Error{Code: "SECRET_UNAVAILABLE", Message: "the notification secret could not be opened; trying again"}, 0, 0)
			}
			return results
		}
		for _, n := range due {
			n.Status, n.NextAttemptAt, n.LastError = runs.NotificationFailed, time.Time{}, &runs.Error{Code: code, Message: message}
			results[n.ID] = n
		}
		return results
	}
	steps, err := d.store.Steps(ctx, run.ID)
	if err != nil {
		d.logger.WarnContext(ctx, "the steps of a run to notify not read", "runId", run.ID, "error", err)
		return results // nothing sent, nothing recorded: due again at once
	}
	for _, n := range due {
		results[n.ID] = d.attempt(ctx, run, steps, n, secrets)
	}
	return results
}

// attempt sends one event once and says how it stands after.
func (d *Deliverer) attempt(ctx context.Context, run runs.Run, steps []runs.Step, n runs.Notification, secrets []string) runs.Notification {
	body, err := runs.EventBody(n, run, steps)
	now := d.now().UTC().Truncate(time.Millisecond)
	if err != nil {
		n.Status, n.NextAttemptAt = runs.NotificationFailed, time.Time{}
		n.LastError = &runs.Error{Code: CodeBodyTooLarge, Message: "the event's body is over 256 KiB"}
		return n
	}
	header := http.Header{}
	header.Set(webhooks.SignatureHeader, webhooks.SignAll(now, body, secrets...))
	header.Set("Idempotency-Key", n.ID)
	header.Set("X-Event-Type", n.Type)
	status, err := d.poster.PostEvent(ctx, run.Notify.URL, header, body)
	n.Attempts++
	n.LastAttemptAt, n.LastResponseStatus = now, status
	if err == nil {
		n.Status, n.DeliveredAt, n.NextAttemptAt, n.LastError = runs.NotificationDelivered, now, time.Time{}, nil
		return n
	}
	var stepErr *engine.StepError
	if !errors.As(err, &stepErr) {
		// The caller's context ended mid-POST: not the receiver's doing,
		// and no attempt counted.
		n.Attempts--
		return d.retryLater(n, now, &runs.Error{Code: engine.CodeTimeout, Message: "the delivery was cut short; trying again"}, 0, n.Attempts)
	}
	failure := &runs.Error{Code: stepErr.Code, Message: stepErr.Message}
	if stepErr.Code == engine.CodeTargetRefused {
		// The outbound policy refuses the URL: no later attempt differs.
		n.Status, n.NextAttemptAt, n.LastError = runs.NotificationFailed, time.Time{}, failure
		return n
	}
	return d.retryLater(n, now, failure, stepErr.RetryAfter, n.Attempts)
}

// retryLater schedules n's next attempt after its failedAttempts-th
// failure (the receiver's Retry-After wish first), or fails it when that
// is past Horizon.
func (d *Deliverer) retryLater(n runs.Notification, now time.Time, failure *runs.Error, retryAfter time.Duration, failedAttempts int) runs.Notification {
	wait := d.backoff(failedAttempts)
	if retryAfter > 0 {
		wait = min(max(retryAfter, MinRetryAfter), BackoffCap)
	}
	next := now.Add(wait)
	n.LastError = failure
	if !next.Before(n.CreatedAt.Add(Horizon)) {
		n.Status, n.NextAttemptAt = runs.NotificationFailed, time.Time{}
		n.LastError = &runs.Error{Code: CodeExpired, Message: fmt.Sprintf("not delivered within 24 hours (%d attempts; the last: %s)", n.Attempts, failure.Message)}
		return n
	}
	n.NextAttemptAt = next
	return n
}

// backoff is the wait after the k-th failure (k ≥ 1; 0 waits as the 1st).
func (d *Deliverer) backoff(k int) time.Duration {
	ceiling := BackoffCap
	if k <= 1 {
		ceiling = BackoffBase
	} else if k < 20 {
		ceiling = min(BackoffCap, BackoffBase<<(k-1))
	}
	half := ceiling / 2
	return half + time.Duration(d.jitter()*float64(half))
}

// apply records results on run's events that are still pending (another
// writer may have recorded one meanwhile: a repeated Advance).
func apply(run runs.Run, results map[string]runs.Notification) (runs.Run, bool) {
	changed := false
	list := make([]runs.Notification, len(run.Notifications))
	for i, n := range run.Notifications {
		list[i] = n
		if r, ok := results[n.ID]; ok && n.Status == runs.NotificationPending {
			list[i], changed = r, true
		}
	}
	run.Notifications = list
	return run, changed
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }
