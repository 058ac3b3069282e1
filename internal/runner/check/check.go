package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runs"
)

// StartGrace is how long a queued run may go without an execution before
// the check starts one: the route that stored it starts it within seconds
// (retrying), so only a start that was lost is older.
const StartGrace = time.Minute

// CodeExecutionEnded is the error of a run whose execution ended without the
// runner recording the run's end.
const CodeExecutionEnded = "EXECUTION_ENDED"

// Checker is the periodic start check: it makes every unfinished run either
// driven or finished. It sees runs through the store's unfinished markers
// and executions through Executions (the Step Functions adapter's Describe).
type Checker struct {
	store        runs.Store
	executions   orchestrator.Executions
	orchestrator runs.Orchestrator
	now          func() time.Time
	logger       *slog.Logger
	parents      runs.Waker
}

// WithParents has the check resume a parent whose child run ended without
// telling it (the notice of its end was lost): the same notice again.
func (c *Checker) WithParents(p runs.Waker) *Checker {
	c.parents = p
	return c
}

// New returns the check. now and logger may be nil.
func New(store runs.Store, executions orchestrator.Executions, o runs.Orchestrator, now func() time.Time, logger *slog.Logger) *Checker {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{store: store, executions: executions, orchestrator: o, now: now, logger: logger}
}

// Report says what one check did.
type Report struct {
	Unfinished int `json:"unfinished"`
	Started    int `json:"started"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
	// Resumed counts parents told again that their child ended.
	Resumed int `json:"resumed"`
	// Delivering counts ended runs with events pending whose delivery
	// execution the check started; Abandoned those whose delivery
	// execution had ended too, whose pending events it failed.
	Delivering int `json:"delivering"`
	Abandoned  int `json:"abandoned"`
	// Errors counts runs the check could not look at; it goes on with the
	// others, and the next check tries them again.
	Errors int `json:"errors"`
}

// Check looks at every unfinished run once (and, with WithParents, resumes
// a parent waiting for a child that has ended):
//   - queued for more than StartGrace and its execution does not exist:
//     the start was lost; Start it (starting twice starts once);
//   - its execution ended (failed, timed out, aborted, or even succeeded)
//     while the run is still unfinished: the end is recorded: cancelled if
//     the run was being cancelled, failed otherwise.
func (c *Checker) Check(ctx context.Context) (Report, error) {
	refs, err := c.store.Unfinished(ctx)
	if err != nil {
		return Report{}, err
	}
	report := Report{Unfinished: len(refs)}
	for _, ref := range refs {
		if ctx.Err() != nil {
			return report, ctx.Err()
		}
		if err := c.checkOne(ctx, ref, &report); err != nil {
			report.Errors++
			c.logger.Error("start check: a run could not be checked", "runId", ref.RunID, "error", err)
		}
	}
	return report, nil
}

func (c *Checker) checkOne(ctx context.Context, ref runs.RunRef, report *Report) error {
	run, err := c.store.Get(ctx, ref.AccountID, ref.RunID)
	if errors.Is(err, domain.ErrNotFound) {
		// The marker is written before the run: a start that died between
		// the two left a marker and no run. Nothing to drive.
		return nil
	}
	if err != nil {
		return err
	}
	if run.Status.Finished() && run.NotificationsPending() {
		return c.checkDelivery(ctx, run, report)
	}
	if run.Status.Finished() {
		// A marker that outlived its run (its deletion failed): an Update
		// that changes nothing drops it.
		if _, err := c.store.Update(ctx, run); err != nil && !errors.Is(err, runs.ErrRevision) {
			return err
		}
		return nil
	}
	if run.Machine == orchestrator.Express {
		return c.checkExpress(ctx, run, report)
	}
	state, err := c.executions.Describe(ctx, run.ID)
	if err != nil {
		return err
	}
	switch {
	case state == orchestrator.ExecutionNotFound:
		if c.now().Sub(run.CreatedAt) < StartGrace {
			return nil
		}
		if err := c.orchestrator.Start(ctx, run.AccountID, run.ID, run.Machine); err != nil {
			return err
		}
		c.logger.Info("start check: started a run whose start was lost", "runId", run.ID, "status", string(run.Status))
		report.Started++
		return nil
	case state.Ended():
		return c.recordEnd(ctx, run, state, report)
	case run.Status == runs.StatusWaiting && run.WaitingFor != "" && c.parents != nil:
		return c.resumeParent(ctx, run, report)
	}
	return nil
}

// Restarter starts another execution of an Express run (the Step Functions
// adapter's Restart, named apart from the first, as moto wants names
// unique); an Orchestrator without it is given the run's Start again.
type Restarter interface {
	Restart(ctx context.Context, accountID, runID string, when time.Time) error
}

// checkExpress looks at an unfinished run on the Express machine, whose
// executions cannot be described (DescribeExecution does not serve Express)
// but cannot outlive orchestrator.ExpressLifetime either. So it is started
// again when:
//   - it is still queued after StartGrace: its first Advance, which marks it
//     running within moments of its execution's start, never came, so the
//     start was lost;
//   - it is still unfinished after an Express execution's lifetime (and the
//     grace): every execution it had has ended without ending it (timed out
//     at five minutes, or failed in a way nothing caught).
//
// A start while another execution still drives it is harmless (the runner's
// conditional writes settle the two on one set of step effects), and the
// new execution's Advance goes on from the step records: it ends the run,
// timed out if its deadline has passed.
func (c *Checker) checkExpress(ctx context.Context, run runs.Run, report *Report) error {
	age := c.now().Sub(run.CreatedAt)
	lost := run.Status == runs.StatusQueued && age >= StartGrace
	outlived := age >= orchestrator.ExpressLifetime+StartGrace
	if !lost && !outlived {
		return nil
	}
	var err error
	if r, ok := c.orchestrator.(Restarter); ok {
		err = r.Restart(ctx, run.AccountID, run.ID, c.now())
	} else {
		err = c.orchestrator.Start(ctx, run.AccountID, run.ID, run.Machine)
	}
	if err != nil {
		return err
	}
	c.logger.Info("start check: started an Express run again", "runId", run.ID, "status", string(run.Status))
	report.Started++
	return nil
}

// resumeParent tells a parent waiting for a child that has ended that it
// has: the child's own notice (runs.NotifyParents) was lost, and the parent
// would otherwise wait until its deadline. One GetItem of the child per
// parked run and check.
func (c *Checker) resumeParent(ctx context.Context, parent runs.Run, report *Report) error {
	child, err := c.store.Get(ctx, parent.AccountID, parent.WaitingFor)
	if errors.Is(err, domain.ErrNotFound) {
		return nil // not stored yet: the parent's next Advance starts it
	}
	if err != nil || !child.Status.Finished() {
		return err
	}
	if err := c.parents.Wake(ctx, parent.AccountID, parent.ID, child.ParentStepID); err != nil {
		return err
	}
	report.Resumed++
	c.logger.Info("start check: resumed a parent whose child ended without telling it", "runId", parent.ID, "childRunId", child.ID)
	return nil
}

// recordEnd records the end of a run whose execution ended without it. The
// run is read again first: the runner may have recorded it in between. Its
// open steps end first (runs.EndOpenSteps): cancelled if the run was being
// cancelled, failed otherwise. Nothing else would end them: no Advance
// follows an execution's end (a StopExecution in the console, a failure
// nothing caught), though one in flight as it ended may still write, which
// the conditional writes settle.
func (c *Checker) recordEnd(ctx context.Context, run runs.Run, state orchestrator.ExecutionState, report *Report) error {
	ended := false
	failure := &runs.Error{Code: CodeExecutionEnded, Message: fmt.Sprintf("the run's execution ended (%s) before the run finished", state)}
	written, err := runs.Change(ctx, c.store, run.AccountID, run.ID, c.now, func(run runs.Run) (runs.Decision, error) {
		d, err := runs.EndFromOutside(run, failure, c.now())
		ended = !d.Keep
		return d, err
	})
	if err != nil || !ended {
		return err
	}
	if written.Status == runs.StatusCancelled {
		report.Cancelled++
	} else {
		report.Failed++
	}
	if written.NotificationsPending() {
		// Its execution has ended: a delivery execution sends the
		// event of this end (the next check looks at it if this fails).
		if err := c.orchestrator.StartDelivery(ctx, written.AccountID, written.ID); err != nil {
			return err
		}
		report.Delivering++
	}
	c.logger.Info("start check: recorded the end of a run whose execution ended", "runId", run.ID, "execution", string(state), "status", string(written.Status))
	return nil
}

// checkDelivery looks at a run that has ended with events still pending
// (its marker is kept until they are delivered): while its own execution
// or its delivery execution runs, that one delivers them. With neither
// running, the delivery execution is started if it never was (the cancel
// that stopped the run's execution lost its start, or the execution ended
// in the state machine's catch); if it has run and ended too, the events
// are failed (DELIVERY_STOPPED), which drops the marker.
func (c *Checker) checkDelivery(ctx context.Context, run runs.Run, report *Report) error {
	for _, name := range []string{run.ID, orchestrator.DeliveryExecution(run.ID)} {
		state, err := c.executions.Describe(ctx, name)
		if err != nil {
			return err
		}
		if state == orchestrator.ExecutionRunning {
			return nil
		}
		if name == run.ID || state.Ended() {
			continue
		}
		// Not found: never started.
		if err := c.orchestrator.StartDelivery(ctx, run.AccountID, run.ID); err != nil {
			return err
		}
		report.Delivering++
		c.logger.Info("start check: started the delivery of an ended run's events", "runId", run.ID)
		return nil
	}
	for range runs.MaxConflicts {
		next, changed := run.AbandonPending()
		if !changed {
			return nil
		}
		_, err := c.store.Update(ctx, next)
		if err == nil {
			report.Abandoned++
			c.logger.Warn("start check: a run's events were given up, their delivery execution having ended", "runId", run.ID)
			return nil
		}
		if !errors.Is(err, runs.ErrRevision) {
			return err
		}
		if run, err = c.store.Get(ctx, run.AccountID, run.ID); err != nil {
			return err
		}
	}
	return &runs.RunConflict{RunID: run.ID}
}
