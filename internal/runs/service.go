package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/idempotency"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Workflows reads the workflow a run starts from (workflowsdb.Store does:
// the head, then the version it names or the one a run pinned).
type Workflows interface {
	Head(ctx context.Context, account, workflowID string) (workflows.Summary, error)
	Version(ctx context.Context, head workflows.Summary, version int) (workflows.Workflow, error)
}

// Options tune a Service; the zero value is the deployed behaviour.
type Options struct {
	// Idempotency keeps the records of Idempotency-Key (the start and
	// retry routes; nil elsewhere).
	Idempotency idempotency.Store
	// Retention is how long a run is kept (0: DefaultRetention; mains
	// read RUN_RETENTION_DAYS with RetentionFromEnv).
	Retention time.Duration
	// Now is the clock (nil: the wall clock).
	Now func() time.Time
	// Logger logs what a request cannot tell its caller (a start that the
	// periodic check will make, a stop that failed); nil: slog.Default.
	Logger *slog.Logger
	// CheckInput checks a run's input against its workflow's inputSchema
	// (inputschema.Check). The routes that start runs are given it;
	// the others are not, and link no JSON Schema compiler. A start
	// without it, of a workflow with an inputSchema, fails: it never
	// starts a run unchecked.
	CheckInput func(schema, input jsontext.Value) error
	// Express: the Orchestrator can start runs on the Express state
	// machine, so a run that MachineFor puts there is created for it.
	// Without it every run is a Standard one.
	Express bool
}

// Service holds the rules of runs: starting one (checked against the
// workflow and its input schema, stored queued, then handed to the
// Orchestrator), reading, cancelling and retrying them.
type Service struct {
	store        Store
	workflows    Workflows
	orchestrator Orchestrator
	idempotency  idempotency.Store
	retention    time.Duration
	now          func() time.Time
	logger       *slog.Logger
	inputChecker func(schema, input jsontext.Value) error
	express      bool
	// startDelays are the waits between the attempts of Orchestrator.Start
	// (so len+1 attempts); tests shorten them.
	startDelays []time.Duration
}

// NewService returns the service on store. workflows may be nil for routes
// that start nothing (list, get, cancel), orchestrator for those that
// neither start nor stop a run (list, get).
func NewService(store Store, workflows Workflows, orchestrator Orchestrator, opts Options) *Service {
	s := &Service{
		store: store, workflows: workflows, orchestrator: orchestrator, idempotency: opts.Idempotency,
		retention: opts.Retention, now: opts.Now, logger: opts.Logger, inputChecker: opts.CheckInput,
		express: opts.Express, startDelays: []time.Duration{100 * time.Millisecond, 400 * time.Millisecond},
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// MaxLifetime is the longest a run may stay open: the longest workflow
// timeout. The store keeps a run's steps at least that long (runsdb).
const MaxLifetime = time.Duration(workflows.MaxWorkflowTimeoutSeconds) * time.Second

// RetentionEnv names the variable that sets how many days runs are kept.
const RetentionEnv = "RUN_RETENTION_DAYS"

// RetentionFromEnv reads RUN_RETENTION_DAYS (a whole number of days from 1
// to 3650; unset: DefaultRetention).
func RetentionFromEnv() (time.Duration, error) {
	raw := os.Getenv(RetentionEnv)
	if raw == "" {
		return DefaultRetention, nil
	}
	days, err := strconv.Atoi(raw)
	if err != nil || days < 1 || days > 3650 {
		return 0, fmt.Errorf("%s=%q: want a whole number of days from 1 to 3650", RetentionEnv, raw)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// StartRequest asks for one run of a workflow's current version.
type StartRequest struct {
	AccountID, WorkflowID string
	// Input is the run's input: any JSON ({} when none was given).
	Input   jsontext.Value
	Trigger Trigger
	// RunID is "" for a new id, or the deterministic id of a start that
	// may be delivered twice (a schedule's firing, a webhook delivery, a
	// workflow step): the second start then answers the run the first
	// stored.
	RunID string
	// Version pins a version of the workflow (0: its current one), as a
	// workflow step's `version` does.
	Version int
	// Parent is the run whose workflow step ParentStepID starts this one
	// (a child run; nil for any other).
	Parent       *Run
	ParentStepID string
}

// ErrNoWorkflow and the disabled error are what Start answers for a
// workflow that cannot start runs; callers that are not routes (a schedule
// firing) tell them from other failures with errors.Is.
var (
	errDisabled = domain.Errorf(domain.CodeConflict, "The workflow is disabled: enable it to start runs")
)

// IsNothingToRun reports whether Start refused because the workflow is
// deleted, absent or disabled: a schedule firing for it has nothing to do.
func IsNothingToRun(err error) bool {
	return errors.Is(err, domain.ErrNotFound) || errors.Is(err, errDisabled)
}

// Start stores a queued run of the workflow's current version, pinned to
// it, then has the Orchestrator drive it. A deleted (or another account's)
// workflow is NOT_FOUND, a disabled one CONFLICT, an input its inputSchema
// refuses VALIDATION_ERROR with fields under input. A start the Orchestrator
// refuses a few times leaves the run queued, and still answers it: the
// periodic start check starts it (the run is what the caller needs).
func (s *Service) Start(ctx context.Context, req StartRequest) (Run, error) {
	run, err := s.prepare(ctx, req)
	if err != nil {
		return Run{}, err
	}
	return s.launch(ctx, run, Reused{})
}

// prepare checks a start against the workflow and builds the run.
func (s *Service) prepare(ctx context.Context, req StartRequest) (Run, error) {
	if s.workflows == nil {
		return Run{}, errors.New("runs: no workflow store wired")
	}
	if !ids.Valid(ids.PrefixWorkflow, req.WorkflowID) {
		return Run{}, domain.ErrNotFound
	}
	head, err := s.workflows.Head(ctx, req.AccountID, req.WorkflowID)
	if err != nil {
		return Run{}, err
	}
	if !head.Enabled {
		return Run{}, errDisabled
	}
	pinned := head.Version
	if req.Version > 0 {
		pinned = req.Version
	}
	version, err := s.workflows.Version(ctx, head, pinned)
	if err != nil {
		return Run{}, err
	}
	input := req.Input
	if len(input) == 0 {
		input = jsontext.Value("{}")
	}
	if err := s.checkInput(version.Definition.InputSchema, input); err != nil {
		return Run{}, err
	}
	runID := req.RunID
	now := s.now().UTC().Truncate(time.Millisecond)
	if runID == "" {
		runID = ids.New(ids.PrefixRun, now)
	}
	run := s.newRun(runID, version, input, req.Trigger, now)
	if req.Parent != nil {
		run.ParentRunID, run.ParentStepID, run.Depth = req.Parent.ID, req.ParentStepID, req.Parent.RunDepth()+1
	}
	return run, nil
}

func (s *Service) newRun(runID string, w workflows.Workflow, input jsontext.Value, trigger Trigger, now time.Time) Run {
	timeout := workflows.MaxWorkflowTimeoutSeconds
	if w.Definition.TimeoutSeconds != nil {
		timeout = *w.Definition.TimeoutSeconds
	}
	run := Run{
		ID: runID, AccountID: w.AccountID, WorkflowID: w.ID, WorkflowVersion: w.Version,
		Status: StatusQueued, Trigger: trigger, Input: input, CreatedAt: now, Depth: 1,
		Deadline: now.Add(time.Duration(timeout) * time.Second), ExpiresAt: now.Add(s.retention),
	}
	if s.express {
		run.Machine = MachineFor(w.Definition)
	}
	if n := w.Definition.Notify; n != nil {
		run.Notify = &NotifyTarget{URL: n.URL}
		for _, e := range n.Events {
			run.Notify.Events = append(run.Notify.Events, string(e))
		}
	}
	return run
}

// launch stores run (and the reused steps and items of a retry), then starts it. A
// run id already taken answers the stored run: the same start again.
func (s *Service) launch(ctx context.Context, run Run, reused Reused) (Run, error) {
	err := s.store.Create(ctx, run, reused)
	if errors.Is(err, ErrExists) {
		return s.store.Get(ctx, run.AccountID, run.ID)
	}
	if err != nil {
		return Run{}, err
	}
	run.Revision = 1
	s.startDriving(ctx, run)
	return run, nil
}

// startDriving hands a stored run to the Orchestrator, a few times if it
// refuses. Starting is idempotent (executions are named after the run), so
// a retry after an answer that was lost starts nothing twice.
func (s *Service) startDriving(ctx context.Context, run Run) {
	if s.orchestrator == nil {
		s.logger.ErrorContext(ctx, "no orchestrator wired: the run stays queued", "run_id", run.ID)
		return
	}
	var err error
	for attempt := 0; ; attempt++ {
		if err = s.orchestrator.Start(ctx, run.AccountID, run.ID, run.Machine); err == nil {
			return
		}
		if attempt >= len(s.startDelays) || sleep(ctx, s.startDelays[attempt]) != nil {
			break
		}
	}
	s.logger.WarnContext(ctx, "run stored but not started: the periodic start check will start it",
		"run_id", run.ID, "error", err)
}

var errNoInputChecker = errors.New("runs: no input checker wired (definition.CheckInput): this route does not start runs")

// checkInput checks input against schema with the checker the service was
// given; no schema is any input.
func (s *Service) checkInput(schema, input jsontext.Value) error {
	if len(schema) == 0 {
		return nil
	}
	if s.inputChecker == nil {
		return errNoInputChecker
	}
	return s.inputChecker(schema, input)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Get returns a run of the account with every step record, in workflow
// order.
func (s *Service) Get(ctx context.Context, account, runID string) (Run, []Step, error) {
	if !ids.Valid(ids.PrefixRun, runID) {
		return Run{}, nil, domain.ErrNotFound
	}
	run, err := s.store.Get(ctx, account, runID)
	if err != nil {
		return Run{}, nil, err
	}
	steps, err := s.store.Steps(ctx, runID)
	if err != nil {
		return Run{}, nil, err
	}
	return run, steps, nil
}

// Step returns one step record of a run of the account, whole, with the
// records of its items for a fan-out step (foreach, parallel); NOT_FOUND
// for a step that never began.
func (s *Service) Step(ctx context.Context, account, runID, stepID string) (Step, []Item, error) {
	if !ids.Valid(ids.PrefixRun, runID) {
		return Step{}, nil, domain.ErrNotFound
	}
	// The run first: step items live in the run's own partition, which
	// carries no account, so this read is what keeps another account out.
	if _, err := s.store.Get(ctx, account, runID); err != nil {
		return Step{}, nil, err
	}
	st, err := s.store.Step(ctx, runID, stepID)
	if err != nil || st.ItemCount == 0 {
		return st, nil, err
	}
	items, err := s.store.Items(ctx, runID, stepID)
	if err != nil {
		return Step{}, nil, err
	}
	return st, items, nil
}

// List pages through an account's runs, newest first.
func (s *Service) List(ctx context.Context, account string, filter Filter, limit int, cursor string) (domain.Page[Run], error) {
	return s.store.List(ctx, account, filter, limit, cursor)
}

// Cancel cancels a run: queued or waiting → cancelled at once (its open
// steps first, then the run, then its execution stopped); running →
// cancelling (the runner ends it cancelled: before its next step, or as soon
// as its current one ends if that was the last); cancelling or cancelled →
// as it is; any other end → CONFLICT.
//
// Nobody else ends the steps of a run cancelled here: once its execution is
// stopped (Step Functions' StopExecution, the local driver's Stop) the
// runner never advances it again. So this route records the waiting step
// cancelled with its finish time, before the run: if it dies in between,
// the run's execution is still there, and the runner, waking to a cancelled
// step, ends the run cancelled.
func (s *Service) Cancel(ctx context.Context, account, runID string) (Run, error) {
	if !ids.Valid(ids.PrefixRun, runID) {
		return Run{}, domain.ErrNotFound
	}
	changed := false
	written, err := Change(ctx, s.store, account, runID, s.nowMillis, func(run Run) (Decision, error) {
		var next Run
		var err error
		next, changed, err = run.RequestCancel(s.nowMillis())
		if errors.Is(err, ErrTransition) {
			return Decision{}, domain.Errorf(domain.CodeConflict, "The run has already ended (%s): only a queued, running or waiting run can be cancelled", run.Status)
		}
		if err != nil || !changed {
			return Decision{Keep: true}, err
		}
		// A queued run has begun no step (the runner marks a run running
		// before its first attempt), so only a waiting one has a step to
		// end.
		if run.Status == StatusWaiting {
			return Decision{Run: next, EndSteps: StepCancelled}, nil
		}
		return Decision{Run: next}, nil
	})
	if errors.Is(err, ErrKeepsChanging) {
		return Run{}, domain.Errorf(domain.CodeConflict, "The run kept changing while it was being cancelled; try again")
	}
	if err != nil {
		return Run{}, err
	}
	// An Express execution cannot be stopped (StopExecution does not serve
	// Express): it ends at its next Advance, which finds the run ended.
	if changed && written.Status == StatusCancelled && s.orchestrator != nil && written.Machine != orchestrator.Express {
		// The run is cancelled whatever happens here: a runner that still
		// wakes up reads the status and ends at once.
		if err := s.orchestrator.Stop(ctx, runID); err != nil {
			s.logger.WarnContext(ctx, "run cancelled, its execution not stopped", "run_id", runID, "error", err)
		}
		// Its run.cancelled event goes out from a delivery execution: the
		// stopped one will not advance again. If this start is lost, the
		// start check finds the run by the marker it keeps.
		if written.NotificationsPending() {
			if err := s.orchestrator.StartDelivery(ctx, written.AccountID, runID); err != nil {
				s.logger.WarnContext(ctx, "run cancelled, the delivery of its events not started", "run_id", runID, "error", err)
			}
		}
	}
	if changed {
		s.CancelChildren(ctx, written)
	}
	return written, nil
}

// CancelChildren cancels every child run of parent that has not ended (a
// workflow step's, and theirs in turn: a child's cancel cancels its own).
// A child that ended meanwhile is left as it is. Failures are logged: the
// parent's cancel stands either way.
func (s *Service) CancelChildren(ctx context.Context, parent Run) {
	refs, err := s.store.Children(ctx, parent.ID)
	if err != nil {
		s.logger.WarnContext(ctx, "run cancelled, its children not read", "run_id", parent.ID, "error", err)
		return
	}
	for _, ref := range refs {
		if ref.AccountID != parent.AccountID {
			continue // not reached: a child is in its parent's account
		}
		_, err := s.Cancel(ctx, ref.AccountID, ref.ChildRunID)
		var derr *domain.Error
		if err != nil && !errors.Is(err, domain.ErrNotFound) && !(errors.As(err, &derr) && derr.Code == domain.CodeConflict) {
			s.logger.WarnContext(ctx, "run cancelled, a child not", "run_id", parent.ID, "child_run_id", ref.ChildRunID, "error", err)
		}
	}
}

// nowMillis is the clock as runs store it.
func (s *Service) nowMillis() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Retry starts a new run of a failed, cancelled or timed-out run's
// workflow version with its input (trigger retry, retryOf the run). With
// fromFailedStep the steps that had completed before the one where the run
// stopped are copied as reused records, and the new run starts there.
func (s *Service) Retry(ctx context.Context, account, runID string, fromFailedStep bool) (Run, error) {
	run, reused, err := s.prepareRetry(ctx, account, runID, fromFailedStep, "")
	if err != nil {
		return Run{}, err
	}
	return s.launch(ctx, run, reused)
}

// prepareRetry checks a retry of runID and builds its new run (with the id
// newRunID, or a new one for ""), and the reused steps of fromFailedStep.
func (s *Service) prepareRetry(ctx context.Context, account, runID string, fromFailedStep bool, newRunID string) (Run, Reused, error) {
	if !ids.Valid(ids.PrefixRun, runID) {
		return Run{}, Reused{}, domain.ErrNotFound
	}
	if s.workflows == nil {
		return Run{}, Reused{}, errors.New("runs: no workflow store wired")
	}
	old, err := s.store.Get(ctx, account, runID)
	if err != nil {
		return Run{}, Reused{}, err
	}
	switch old.Status {
	case StatusFailed, StatusCancelled, StatusTimedOut:
	default:
		return Run{}, Reused{}, domain.Errorf(domain.CodeConflict, "Only a failed, cancelled or timed-out run can be retried; this one is %s", old.Status)
	}
	head, err := s.workflows.Head(ctx, account, old.WorkflowID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		// The run exists, so NOT_FOUND would mislead: the workflow is what
		// is gone, and a deleted workflow starts no runs.
		return Run{}, Reused{}, domain.Errorf(domain.CodeConflict, "The run's workflow was deleted: it starts no runs")
	case err != nil:
		return Run{}, Reused{}, err
	case !head.Enabled:
		return Run{}, Reused{}, errDisabled
	}
	version, err := s.workflows.Version(ctx, head, old.WorkflowVersion)
	if err != nil {
		return Run{}, Reused{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if newRunID == "" {
		newRunID = ids.New(ids.PrefixRun, now)
	}
	run := s.newRun(newRunID, version, old.Input, TriggerRetry, now)
	run.RetryOf = old.ID
	var reused Reused
	if fromFailedStep {
		steps, err := s.store.Steps(ctx, old.ID)
		if err != nil {
			return Run{}, Reused{}, err
		}
		run.NextStep, reused.Steps = resumePoint(steps, run.ID)
		// A fan-out step where the run stopped keeps the items that
		// succeeded: the new run redoes only the others.
		for _, st := range steps {
			if st.Index != run.NextStep || st.ItemCount == 0 {
				continue
			}
			items, err := s.store.Items(ctx, old.ID, st.StepID)
			if err != nil {
				return Run{}, Reused{}, err
			}
			for _, it := range items {
				if it.Status == StepSucceeded {
					it.RunID, it.Reused, it.Revision, it.NextAttemptAt = run.ID, true, 1, time.Time{}
					reused.Items = append(reused.Items, it)
				}
			}
		}
	}
	return run, reused, nil
}

// resumePoint is where a retry from the failed step starts: the first step
// (in workflow order) whose record did not complete (failed, cut off,
// waiting, cancelled), or the one after the last record when all completed
// (a run cancelled or timed out between two steps). The completed records
// before it are copied into the new run as reused.
func resumePoint(steps []Step, newRunID string) (next int, reused []Step) {
	ordered := slices.Clone(steps)
	slices.SortFunc(ordered, func(a, b Step) int { return a.Index - b.Index })
	next = 0
	for _, st := range ordered {
		if st.Status != StepSucceeded && st.Status != StepSkipped {
			next = st.Index
			break
		}
		next = st.Index + 1
	}
	for _, st := range ordered {
		if st.Index >= next {
			break
		}
		st.RunID, st.Reused, st.Revision = newRunID, true, 1
		st.NextAttemptAt = time.Time{}
		reused = append(reused, st)
	}
	return next, reused
}

// Firing is one firing of a workflow's schedule: the input the EventBridge
// Scheduler schedule gives its target (internal/schedules writes it, with
// scheduledTime from <aws.scheduler.scheduled-time>).
type Firing struct {
	AccountID     string `json:"accountId"`
	WorkflowID    string `json:"workflowId"`
	ScheduledTime string `json:"scheduledTime"`
}

// StartScheduled starts the run of one firing: trigger schedule, input {},
// and the id ScheduledRunID makes, so a firing delivered twice starts one
// run. A workflow deleted or disabled since the schedule was made has
// nothing to run: started is false and err nil (the schedule itself is
// removed or paused with the workflow; a firing may still be in flight).
func (s *Service) StartScheduled(ctx context.Context, f Firing) (run Run, started bool, err error) {
	at, err := time.Parse(time.RFC3339, f.ScheduledTime)
	if err != nil || f.AccountID == "" || f.WorkflowID == "" {
		return Run{}, false, fmt.Errorf("runs: a firing needs accountId, workflowId and an RFC 3339 scheduledTime, got %+v", f)
	}
	run, err = s.Start(ctx, StartRequest{
		AccountID: f.AccountID, WorkflowID: f.WorkflowID, Input: jsontext.Value("{}"),
		Trigger: TriggerSchedule, RunID: ScheduledRunID(f.WorkflowID, at),
	})
	if IsNothingToRun(err) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	return run, true, nil
}
