package runs

import (
	"slices"
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
)

// A workflow's notify sends an event about its runs to a URL: the run
// records each event in the same conditional write that changes its status
// (Run.to), so no writer of a status (the runner, a cancel, the state
// machine's catch, the start check) can change one and lose its event, and
// a write that loses its race records nothing. internal/notify delivers the
// pending ones and records how each went on the run again; a delivery
// never changes the run's status.

// NotifyTarget is the notify of the workflow version a run pinned, copied
// onto the run when it is made: the URL and the events it sends.
type NotifyTarget struct {
	URL    string
	Events []string
}

// NotificationStatus is how an event's delivery stands.
type NotificationStatus string

// The statuses of a notification: pending until a POST is answered 2xx
// (delivered) or its retries run out (failed).
const (
	NotificationPending   NotificationStatus = "pending"
	NotificationDelivered NotificationStatus = "delivered"
	NotificationFailed    NotificationStatus = "failed"
)

// Notification is one event of a run and its delivery.
type Notification struct {
	// ID is the event's id (evt_…), its Idempotency-Key.
	ID        string
	Type      string
	CreatedAt time.Time
	Status    NotificationStatus
	Attempts  int
	// LastAttemptAt is when the last POST was sent, NextAttemptAt when the
	// next one is due (pending only), DeliveredAt when one was answered
	// 2xx.
	LastAttemptAt time.Time
	NextAttemptAt time.Time
	DeliveredAt   time.Time
	// LastResponseStatus is the last answer's HTTP status (0: none came);
	// LastError why the last attempt failed.
	LastResponseStatus int
	LastError          *Error
}

// MaxNotifications bounds the events one run records: its end is always
// recorded, but a run that waits again and again (a loop of delays) records
// no more run.waiting events past this many, so the run item stays small.
const MaxNotifications = 25

// The event types, one per status a run may enter that a watcher waits for
// (workflows.NotifyEvents names the same).
const (
	EventRunSucceeded = "run.succeeded"
	EventRunFailed    = "run.failed"
	EventRunTimedOut  = "run.timed_out"
	EventRunCancelled = "run.cancelled"
	EventRunWaiting   = "run.waiting"
)

// eventOf is the event a run entering status sends ("" for none).
func eventOf(status Status) string {
	switch status {
	case StatusSucceeded:
		return EventRunSucceeded
	case StatusFailed:
		return EventRunFailed
	case StatusTimedOut:
		return EventRunTimedOut
	case StatusCancelled:
		return EventRunCancelled
	case StatusWaiting:
		return EventRunWaiting
	}
	return ""
}

// EventIDPrefix begins every event id.
const EventIDPrefix = ids.PrefixEvent

// recordEvent adds the event of a run that moves from status from to its
// status now, if its notify sends it.
func (r Run) recordEvent(from Status, now time.Time) Run {
	event := eventOf(r.Status)
	if event == "" || from == r.Status || r.Notify == nil || !slices.Contains(r.Notify.Events, event) {
		return r
	}
	if !r.Status.Finished() && len(r.Notifications) >= MaxNotifications {
		return r
	}
	// A copy: the run read may share its slice with its caller.
	r.Notifications = append(slices.Clone(r.Notifications), Notification{
		ID: ids.New(ids.PrefixEvent, now), Type: event, CreatedAt: now, Status: NotificationPending, NextAttemptAt: now,
	})
	return r
}

// NotificationsPending reports whether an event of the run is still to be
// delivered.
func (r Run) NotificationsPending() bool {
	return slices.ContainsFunc(r.Notifications, func(n Notification) bool { return n.Status == NotificationPending })
}

// NextNotificationAt is when the earliest pending event is due (zero: none
// is pending).
func (r Run) NextNotificationAt() time.Time {
	var next time.Time
	for _, n := range r.Notifications {
		if n.Status == NotificationPending && (next.IsZero() || n.NextAttemptAt.Before(next)) {
			next = n.NextAttemptAt
		}
	}
	return next
}

// CodeDeliveryStopped is the error of an event whose delivery was given up
// because the execution delivering it ended (the start check records it).
const CodeDeliveryStopped = "DELIVERY_STOPPED"

// AbandonPending is the run with every pending event failed with
// CodeDeliveryStopped, and whether there was one.
func (r Run) AbandonPending() (Run, bool) {
	changed := false
	list := slices.Clone(r.Notifications)
	for i, n := range list {
		if n.Status == NotificationPending {
			n.Status, n.NextAttemptAt = NotificationFailed, time.Time{}
			n.LastError = &Error{Code: CodeDeliveryStopped, Message: "the execution delivering the run's events ended before they were delivered"}
			list[i], changed = n, true
		}
	}
	r.Notifications = list
	return r, changed
}
