package workflows

import (
	"context"
	"errors"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/schedules"
)

// Schedules keeps a schedule workflow's schedule in step with it
// (schedules.Service does: EventBridge Scheduler in AWS, the local
// gateway's own scheduler locally).
type Schedules interface {
	// Mark records, before the head is written, that the workflow is on a
	// schedule trigger, so the reconcile can find it whatever fails next.
	Mark(ctx context.Context, account, workflowID string) error
	// Put creates or replaces the workflow's schedule.
	Put(ctx context.Context, s schedules.Schedule) error
	// Remove deletes the workflow's schedule (absent is no error).
	Remove(ctx context.Context, workflowID string) error
}

// WithSchedules has the service keep schedules in step with the workflows
// it writes. Without it a schedule workflow is stored with no schedule and
// the write reports ScheduleError (logged): the reconcile puts it later.
func (s *Service) WithSchedules(sched Schedules) *Service {
	s.schedules = sched
	return s
}

var errNoSchedules = errors.New("workflows: no schedules wired: the schedule waits for `wfctl schedules sync`")

// ScheduleOf is the schedule of an account's workflow on a schedule
// trigger: the trigger in EventBridge Scheduler's form (rules say it), and
// the enabled flag as the schedule's state.
func ScheduleOf(rules Rules, account, workflowID string, trigger Trigger, enabled bool) (schedules.Schedule, error) {
	if rules == nil {
		return schedules.Schedule{}, errNoRules
	}
	expression, timezone, err := rules.SchedulerExpression(trigger)
	if err != nil {
		return schedules.Schedule{}, err
	}
	return schedules.Schedule{AccountID: account, WorkflowID: workflowID, Expression: expression, Timezone: timezone, Enabled: enabled}, nil
}

// mark records a schedule workflow before its head is written. A failure
// fails the write: nothing of it is stored yet.
func (s *Service) mark(ctx context.Context, account, workflowID string) error {
	if s.schedules == nil {
		return nil // reported by putSchedule after the head is written
	}
	return s.schedules.Mark(ctx, account, workflowID)
}

// putSchedule puts a just-written schedule workflow's schedule. Its error
// does not fail the write, which has happened: the caller logs it and the
// reconcile repairs the schedule.
func (s *Service) putSchedule(ctx context.Context, w Workflow) error {
	if s.schedules == nil {
		return errNoSchedules
	}
	sched, err := ScheduleOf(s.rules, w.AccountID, w.ID, w.Definition.Trigger, w.Definition.IsEnabled())
	if err != nil {
		return err
	}
	return s.schedules.Put(ctx, sched)
}

func (s *Service) removeSchedule(ctx context.Context, workflowID string) error {
	if s.schedules == nil {
		return errNoSchedules
	}
	return s.schedules.Remove(ctx, workflowID)
}

// ScheduleLeftError is Delete's error when the workflow was deleted but its
// schedule could not be: the deletion stands, the schedule's firings find
// no workflow (and start nothing) until the reconcile deletes it.
type ScheduleLeftError struct{ Err error }

func (e ScheduleLeftError) Error() string {
	return "workflows: schedule left behind: " + e.Err.Error()
}
func (e ScheduleLeftError) Unwrap() error { return e.Err }

// ScheduleSource is schedules.Workflows on a workflow Store: the schedule a
// workflow's head asks for, read for the reconcile, in the form Rules say.
type ScheduleSource struct {
	Store Store
	Rules Rules
}

var _ schedules.Workflows = ScheduleSource{}

// Desired reads the workflow's head: found false if it is deleted or not
// on a schedule trigger.
func (src ScheduleSource) Desired(ctx context.Context, account, workflowID string) (schedules.Schedule, bool, error) {
	head, err := src.Store.Head(ctx, account, workflowID)
	if errors.Is(err, domain.ErrNotFound) {
		return schedules.Schedule{}, false, nil
	}
	if err != nil {
		return schedules.Schedule{}, false, err
	}
	if head.Trigger.Type != TriggerSchedule {
		return schedules.Schedule{}, false, nil
	}
	sched, err := ScheduleOf(src.Rules, account, workflowID, head.Trigger, head.Enabled)
	return sched, err == nil, err
}
