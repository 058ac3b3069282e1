// Package local fires the schedules of the local gateway in its own
// process: the Scheduler of internal/schedules that `make dev` and the
// tests run instead of EventBridge Scheduler. Each firing is handed to Fire
// as the schedules' target in AWS is (a schedules.Firing), and Fire starts
// the run with an id derived from the workflow and the scheduled time, so a
// firing delivered twice starts one run.
//
// Like EventBridge Scheduler it does not catch up: a schedule due several
// times while the process was stopped (or the machine asleep) fires once,
// for its latest due time, and then on time again.
package local

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/workflowsapi/workflows/internal/schedules"
)

// Fire starts the run of one firing.
type Fire func(ctx context.Context, f schedules.Firing) error

// Scheduler holds the local schedules and fires them.
type Scheduler struct {
	fire   Fire
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	// changed wakes Run when a schedule is put, so a new one's first due
	// time is waited for rather than the old earliest.
	changed chan struct{}
}

type entry struct {
	schedule schedules.Schedule
	timing   Timing
	// next is the schedule's next due time.
	next time.Time
}

// New returns a scheduler handing firings to fire; now nil is the wall
// clock (tests give a fake one and call FireDue).
func New(fire Fire, logger *slog.Logger, now func() time.Time) *Scheduler {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{fire: fire, logger: logger, now: now, entries: map[string]*entry{}, changed: make(chan struct{}, 1)}
}

// Put holds s, replacing the workflow's schedule. A schedule whose
// expression and time zone are unchanged keeps its next due time, so a
// change of the enabled flag just before a firing does not skip it.
func (l *Scheduler) Put(_ context.Context, s schedules.Schedule) error {
	timing, err := ParseExpression(s.Expression, s.Timezone)
	if err != nil {
		return fmt.Errorf("schedules/local: %s: %q: %w", s.WorkflowID, s.Expression, err)
	}
	l.mu.Lock()
	old, had := l.entries[s.WorkflowID]
	next := timing.Next(l.now())
	if had && old.schedule.Expression == s.Expression && old.schedule.Timezone == s.Timezone {
		next = old.next
	}
	l.entries[s.WorkflowID] = &entry{schedule: s, timing: timing, next: next}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// Delete drops the workflow's schedule.
func (l *Scheduler) Delete(_ context.Context, workflowID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, workflowID)
	return nil
}

// List returns the workflow ids of the schedules held, sorted.
func (l *Scheduler) List(context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.entries))
	for id := range l.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// FireDue fires every enabled schedule whose due time is at or before now,
// once, for its latest due time not after now, and moves it on to its next
// due time after now; a disabled one is moved on without firing. It returns
// the firings it handed to Fire (a failed one is logged: the next due time
// comes regardless, as with Scheduler once its retries are spent).
func (l *Scheduler) FireDue(ctx context.Context, now time.Time) []schedules.Firing {
	var due []schedules.Firing
	l.mu.Lock()
	for _, e := range l.entries {
		if e.next.IsZero() || e.next.After(now) {
			continue
		}
		at := e.next
		for n := e.timing.Next(at); !n.IsZero() && !n.After(now); n = e.timing.Next(n) {
			at = n // skip the due times missed while stopped: latest only
		}
		e.next = e.timing.Next(now)
		if e.schedule.Enabled {
			due = append(due, schedules.Firing{AccountID: e.schedule.AccountID, WorkflowID: e.schedule.WorkflowID, ScheduledTime: at.UTC().Format(time.RFC3339)})
		}
	}
	l.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].WorkflowID < due[j].WorkflowID })
	for _, f := range due {
		if err := l.fire(ctx, f); err != nil {
			l.logger.ErrorContext(ctx, "scheduled run not started", "workflow_id", f.WorkflowID, "scheduled_time", f.ScheduledTime, "error", err)
		}
	}
	return due
}

// maxSleep bounds a wait of Run, so a clock change (or a machine asleep)
// is noticed within a minute.
const maxSleep = time.Minute

// Run fires the schedules on time until ctx ends.
func (l *Scheduler) Run(ctx context.Context) {
	for {
		l.FireDue(ctx, l.now())
		wait := l.untilNext(l.now())
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-l.changed:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// untilNext is how long until the earliest due time, at most maxSleep.
func (l *Scheduler) untilNext(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := maxSleep
	for _, e := range l.entries {
		if !e.next.IsZero() {
			wait = min(wait, max(e.next.Sub(now), 0))
		}
	}
	return wait
}
