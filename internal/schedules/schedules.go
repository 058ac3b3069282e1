// Package schedules keeps one schedule per schedule workflow: an EventBridge
// Scheduler schedule in AWS (internal/schedules/eventbridge), fired by the
// local gateway itself locally (internal/schedules/local). Each firing starts
// one run of the workflow for its scheduled time (the scheduled-run function
// in AWS).
//
// This package holds the Service, the Scheduler interface, the markers and
// the Firing, and links no AWS SDK client: the workflows feature imports it,
// and every function that links workflows (its read routes, the runs routes)
// would otherwise link the Scheduler client for nothing. The EventBridge
// Scheduler client, its environment and its retry policy (and robfig/cron,
// which only that policy reads expressions with) live in
// internal/schedules/eventbridge, imported only by the mains of the
// functions granted Scheduler actions, by wfctl, and by infra for the names
// of its variables.
//
// The workflow routes keep the schedules in step with the workflows (put on
// create and change, deleted with the workflow or its schedule trigger), and
// Sync makes them match the stored workflows after the fact: a schedule
// write that failed after the workflow's was stored (the workflow write
// wins), or workflows stored before schedules existed (Backfill).
//
// Sync has to find every schedule workflow of every account without a Scan.
// So each workflow that is or was on a schedule trigger has a marker item
// (Markers; PK SCHEDULE#<shard>, SK <workflow id>, internal/store/keys.go),
// written before the workflow's head and deleted after its schedule: the
// markers are a superset of the schedule workflows, and Sync reads each
// marked workflow's head to learn what its schedule should be.
//
// It is a leaf feature: it takes plain values (the expression in
// Scheduler's form, from workflows.Trigger.SchedulerExpression) and reads
// workflows through the Workflows interface its callers wire.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Schedule is one workflow's schedule.
type Schedule struct {
	AccountID  string
	WorkflowID string
	// Expression is in EventBridge Scheduler's form: "cron(0 9 ? * MON-FRI *)"
	// or "rate(15 minutes)".
	Expression string
	// Timezone is the IANA zone a cron expression is read in ("" for a rate).
	Timezone string
	// Enabled is the workflow's enabled flag: a disabled workflow's
	// schedule is kept, switched off.
	Enabled bool
}

// Firing is what a schedule hands its target each time it fires: the
// scheduled-run function's input in AWS (EventBridge Scheduler fills in
// scheduledTime), and what the local scheduler passes to its Fire func.
type Firing struct {
	AccountID  string `json:"accountId"`
	WorkflowID string `json:"workflowId"`
	// ScheduledTime is when the firing was due (not when it arrived), in
	// RFC 3339: the run id is derived from it, so a firing delivered twice
	// starts one run.
	ScheduledTime string `json:"scheduledTime"`
}

// Scheduler holds schedules: EventBridge Scheduler (eventbridge.EventBridge),
// or the local one.
type Scheduler interface {
	// Put creates the workflow's schedule or replaces it.
	Put(ctx context.Context, s Schedule) error
	// Delete deletes the workflow's schedule; an absent one is not an error.
	Delete(ctx context.Context, workflowID string) error
	// List returns the workflow id of every schedule held.
	List(ctx context.Context) ([]string, error)
}

// Marker records that a workflow of an account is, or was, on a schedule
// trigger.
type Marker struct {
	AccountID  string
	WorkflowID string
	// MarkedAt is when the marker was last written.
	MarkedAt time.Time
}

// markerGrace is how long Sync leaves a fresh marker alone when its
// workflow has no schedule head: a workflow route writes the marker, then
// the head, then the schedule, so a marker this young may be a create in
// flight whose head Sync read too early. Deleting its marker then would
// make the schedule it is about to put look orphaned to the next Sync.
const markerGrace = 5 * time.Minute

// Markers keeps the markers (schedulesdb.Store does).
type Markers interface {
	Put(ctx context.Context, m Marker) error
	// Delete deletes a workflow's marker; an absent one is not an error.
	Delete(ctx context.Context, workflowID string) error
	// List returns every marker, of every account.
	List(ctx context.Context) ([]Marker, error)
}

// Workflows reads what a workflow's schedule should be from its head.
type Workflows interface {
	// Desired returns the schedule of the account's workflow, found false
	// if it is deleted or not on a schedule trigger.
	Desired(ctx context.Context, account, workflowID string) (s Schedule, found bool, err error)
}

// Service keeps the schedules and their markers.
type Service struct {
	scheduler Scheduler
	markers   Markers
	now       func() time.Time
}

// NewService returns the service on scheduler and markers; now nil is the
// wall clock.
func NewService(scheduler Scheduler, markers Markers, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{scheduler: scheduler, markers: markers, now: now}
}

// Mark records that the account's workflow is on a schedule trigger. The
// workflow routes call it before they write the workflow's head, so no
// schedule workflow is ever without its marker.
func (s *Service) Mark(ctx context.Context, account, workflowID string) error {
	return s.markers.Put(ctx, Marker{AccountID: account, WorkflowID: workflowID, MarkedAt: s.now().UTC()})
}

// Put creates or replaces a workflow's schedule.
func (s *Service) Put(ctx context.Context, sch Schedule) error {
	return s.scheduler.Put(ctx, sch)
}

// Remove deletes a workflow's schedule, then its marker: if the schedule
// cannot be deleted the marker stays, so Sync deletes it later.
func (s *Service) Remove(ctx context.Context, workflowID string) error {
	if err := s.scheduler.Delete(ctx, workflowID); err != nil {
		return err
	}
	return s.markers.Delete(ctx, workflowID)
}

// SyncReport is what a Sync did.
type SyncReport struct {
	// Put counts the schedules created or replaced from their workflows.
	Put int
	// Deleted counts the schedules deleted: of a workflow deleted or no
	// longer on a schedule trigger, or of no marked workflow at all.
	Deleted int
	// Failed names the workflows whose schedule could not be made right,
	// with why; Sync goes on past them.
	Failed []error
}

// Sync makes the schedules match the stored workflows: each marked
// workflow still on a schedule trigger gets its schedule put as its head
// says (enabled flag included); the schedule and marker of one that is not
// (deleted, or changed to another trigger) are deleted; and a schedule of no
// marked workflow is deleted. It is idempotent, and safe beside the workflow
// routes: a route's own write lands after or before it, both right.
func (s *Service) Sync(ctx context.Context, workflows Workflows) (SyncReport, error) {
	var report SyncReport
	markers, err := s.markers.List(ctx)
	if err != nil {
		return report, fmt.Errorf("schedules: list the markers: %w", err)
	}
	keep := map[string]bool{}
	for _, m := range markers {
		desired, found, err := workflows.Desired(ctx, m.AccountID, m.WorkflowID)
		if err != nil {
			report.Failed = append(report.Failed, fmt.Errorf("%s: read the workflow: %w", m.WorkflowID, err))
			keep[m.WorkflowID] = true // unknown: leave its schedule be
			continue
		}
		if found {
			keep[m.WorkflowID] = true
			if err := s.scheduler.Put(ctx, desired); err != nil {
				report.Failed = append(report.Failed, fmt.Errorf("%s: put the schedule: %w", m.WorkflowID, err))
				continue
			}
			report.Put++
			continue
		}
		if s.now().Sub(m.MarkedAt) < markerGrace {
			keep[m.WorkflowID] = true // perhaps a create in flight: next time
			continue
		}
		if err := s.Remove(ctx, m.WorkflowID); err != nil {
			report.Failed = append(report.Failed, fmt.Errorf("%s: delete the schedule: %w", m.WorkflowID, err))
			continue
		}
		report.Deleted++
	}
	held, err := s.scheduler.List(ctx)
	if err != nil {
		return report, fmt.Errorf("schedules: list the schedules: %w", err)
	}
	for _, workflowID := range held {
		if keep[workflowID] {
			continue
		}
		// No marker, so no workflow of any account is on this schedule
		// (markers are written before heads): an orphan.
		if err := s.scheduler.Delete(ctx, workflowID); err != nil {
			report.Failed = append(report.Failed, fmt.Errorf("%s: delete the orphaned schedule: %w", workflowID, err))
			continue
		}
		report.Deleted++
	}
	return report, nil
}

// HeadScanner finds every schedule workflow of every account by reading
// the whole table: the one-time backfill of markers for the workflows
// stored before markers existed (schedulesdb.Store.ScanScheduleWorkflows).
type HeadScanner interface {
	ScanScheduleWorkflows(ctx context.Context) ([]Marker, error)
}

// Backfill writes the marker of every schedule workflow the scanner finds
// and returns how many. It is run once per deployment, by `wfctl schedules
// sync --backfill` after the release that brings schedules (and by the
// local gateway at every start, on its small local table); no function
// calls it, so no Lambda scans the table.
func (s *Service) Backfill(ctx context.Context, scanner HeadScanner) (int, error) {
	found, err := scanner.ScanScheduleWorkflows(ctx)
	if err != nil {
		return 0, fmt.Errorf("schedules: find the schedule workflows: %w", err)
	}
	var errs []error
	n := 0
	now := s.now().UTC()
	for _, m := range found {
		m.MarkedAt = now
		if err := s.markers.Put(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.WorkflowID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
