// Package local is the local gateway's driver of runs: the in-process
// counterpart of the Step Functions state machine. It follows the same three
// states around the runner: Advance → done? stop : wait > 0 ? Wait → Advance
// : Advance again. A wait is a time.AfterFunc timer, so a waiting run holds
// no goroutine and no process; only a run being advanced has one. A run that
// was waiting when the process stopped is picked up again by Resume, which
// the local gateway calls at start for every unfinished run in DynamoDB.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workflowsapi/workflows/internal/orchestrator"
)

// Options tune a Driver. Zero values take the defaults.
type Options struct {
	// Logger receives the failures of Advance (discarded if nil).
	Logger *slog.Logger
	// ErrorBackoff is how long the driver waits before advancing a run
	// again after its Advance failed (DynamoDB unreachable, say); it doubles
	// on each failure in a row up to a minute. Default 1 s.
	ErrorBackoff time.Duration
	// MaxErrors is how many failed Advances in a row the driver takes before
	// it gives up on the run and has it recorded failed, as the state
	// machine's catch does. Default 5.
	MaxErrors int
}

// Ref names a run to drive.
type Ref struct {
	AccountID string
	RunID     string
}

// Driver drives runs in process. It implements runs.Orchestrator.
type Driver struct {
	advance orchestrator.AdvanceFunc
	logger  *slog.Logger
	backoff time.Duration
	maxErrs int

	// base is the context of every Advance; Shutdown cancels it when its
	// own context ends before the Advances in flight do.
	base       context.Context
	cancelBase context.CancelFunc

	// advances counts the Advances made, for the benchmark's state
	// transitions per run (each is a Task and a Choice in Step Functions).
	advances atomic.Int64

	mu       sync.Mutex
	closed   bool
	runs     map[string]*driven
	inflight sync.WaitGroup
}

// driven is one run the driver holds: either being advanced (advancing) or
// waiting on its timer.
type driven struct {
	ref       Ref
	advancing bool
	timer     *time.Timer
	stopped   bool
	// woken: what the run waits for (a child's end, a signal) came while it
	// was being advanced; the
	// driver advances it again at once instead of waiting.
	woken  bool
	errors int
	// lastErr is the latest Advance error, handed on with ErrGaveUp so the
	// runner can tell what it gave up on (as Step Functions passes the
	// caught error's name).
	lastErr error
}

// New returns a driver that advances runs with advance.
func New(advance orchestrator.AdvanceFunc, opts Options) *Driver {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ErrorBackoff <= 0 {
		opts.ErrorBackoff = time.Second
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 5
	}
	base, cancel := context.WithCancel(context.Background())
	return &Driver{
		advance: advance, logger: opts.Logger, backoff: opts.ErrorBackoff, maxErrs: opts.MaxErrors,
		base: base, cancelBase: cancel, runs: map[string]*driven{},
	}
}

// ErrClosed: the driver was shut down and starts nothing more.
var ErrClosed = errors.New("local: the driver is shut down")

// Start drives a run: it is advanced at once, in the background. A run the
// driver already holds (being advanced or waiting) is left as it is, as a
// second StartExecution with the same name starts nothing. Both machines'
// runs are driven alike: the driver has no five-minute bound, nor a price
// per transition.
func (d *Driver) Start(_ context.Context, accountID, runID string, _ orchestrator.Machine) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.runs[runID]; ok {
		return nil
	}
	r := &driven{ref: Ref{AccountID: accountID, RunID: runID}}
	d.runs[runID] = r
	d.launchLocked(r)
	return nil
}

// Stop stops driving a run (a cancelled queued or waiting run): its timer is
// stopped, or, if it is being advanced, it is not scheduled again. Stopping
// a run the driver does not hold is not an error.
func (d *Driver) Stop(_ context.Context, runID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.runs[runID]
	if !ok {
		return nil
	}
	r.stopped = true
	if r.timer != nil && r.timer.Stop() {
		d.inflight.Done() // the timer's callback will not run
	}
	if !r.advancing {
		delete(d.runs, runID)
	}
	return nil
}

// WakeRun advances a run now: what it waits for happened (a child of it
// ended, its signal arrived), and the run records its step and goes on. A
// run waiting on its timer is advanced at once; one being advanced is
// advanced again as soon as this Advance ends (the event may have come
// after the Advance looked); one the driver does not hold is started.
func (d *Driver) WakeRun(ctx context.Context, accountID, runID string) error {
	d.mu.Lock()
	r, ok := d.runs[runID]
	if !ok {
		d.mu.Unlock()
		return d.Start(ctx, accountID, runID, orchestrator.Standard)
	}
	defer d.mu.Unlock()
	if r.stopped || d.closed {
		return nil
	}
	if r.advancing {
		r.woken = true
		return nil
	}
	if r.timer != nil && r.timer.Stop() {
		d.inflight.Done() // the timer's callback will not run
		d.launchLocked(r)
	}
	return nil
}

// StartDelivery drives a run again after Stop, so that its Advances
// deliver its events (the run has ended): the in-process counterpart of
// the delivery execution. A run still held, stopped by a cancel while its
// Advance ran, is driven on instead of dropped.
func (d *Driver) StartDelivery(ctx context.Context, accountID, runID string) error {
	d.mu.Lock()
	r, ok := d.runs[runID]
	if ok && r.stopped && !d.closed {
		r.stopped = false
	}
	d.mu.Unlock()
	return d.WakeRun(ctx, accountID, runID)
}

// Wake is runs.Waker for the local gateway: the run is woken (the step it
// waits on is read by its Advance).
func (d *Driver) Wake(ctx context.Context, accountID, runID, _ string) error {
	return d.WakeRun(ctx, accountID, runID)
}

// Resume drives every run given: the local gateway passes the unfinished
// runs it finds in DynamoDB at start. A run that was waiting until T is
// advanced now, and its Advance answers the wait that is left, so it goes on
// at T.
func (d *Driver) Resume(ctx context.Context, refs []Ref) error {
	for _, ref := range refs {
		if err := d.Start(ctx, ref.AccountID, ref.RunID, orchestrator.Standard); err != nil {
			return err
		}
	}
	return nil
}

// Driven reports how many runs the driver holds, and how many of them wait
// on a timer (holding no goroutine).
func (d *Driver) Driven() (total, waiting int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.runs {
		total++
		if !r.advancing {
			waiting++
		}
	}
	return total, waiting
}

// Advances reports how many Advances the driver has made.
func (d *Driver) Advances() int64 { return d.advances.Load() }

// Shutdown stops the driver: no run is advanced again and every timer is
// stopped (the runs stay unfinished in DynamoDB, and Resume picks them up at
// the next start). It waits for the Advances in flight to end; if ctx ends
// first, their context is cancelled (a step cut off is retried after the
// restart) and Shutdown still waits for them to return, so nothing writes
// after it.
func (d *Driver) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	for id, r := range d.runs {
		if r.timer != nil && r.timer.Stop() {
			d.inflight.Done()
		}
		if !r.advancing {
			delete(d.runs, id)
		}
	}
	d.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		d.inflight.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		d.cancelBase()
		return nil
	case <-ctx.Done():
		d.cancelBase()
		<-finished
		return ctx.Err()
	}
}

// launchLocked advances r in a new goroutine. d.mu is held.
func (d *Driver) launchLocked(r *driven) {
	r.advancing = true
	r.timer = nil
	d.inflight.Add(1)
	go d.drive(r)
}

// scheduleLocked advances r after wait, on a timer: no goroutine exists
// until it fires. d.mu is held.
func (d *Driver) scheduleLocked(r *driven, wait time.Duration) {
	r.advancing = false
	d.inflight.Add(1) // the timer counts as in flight until it fires or is stopped
	r.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		if d.closed || r.stopped {
			// Stop or Shutdown lost the race with the timer's firing:
			// timer.Stop returned false, so the Done is ours.
			if !r.advancing {
				delete(d.runs, r.ref.RunID)
			}
			d.mu.Unlock()
			d.inflight.Done()
			return
		}
		r.advancing = true
		r.timer = nil
		d.mu.Unlock()
		d.drive(r) // this goroutine is the timer's own; drive ends with Done
	})
}

// drive advances r until it is done, must wait, or the driver stops: the
// state machine's Advance → Choice loop. It ends by handing r to a timer or
// dropping it, and marks one in-flight unit done.
func (d *Driver) drive(r *driven) {
	defer d.inflight.Done()
	for {
		var failure error
		d.mu.Lock()
		if r.errors >= d.maxErrs {
			failure = fmt.Errorf("%w: %w", orchestrator.ErrGaveUp, r.lastErr)
		}
		d.mu.Unlock()
		outcome, err := d.advance(d.base, r.ref.AccountID, r.ref.RunID, failure)
		d.advances.Add(1)

		d.mu.Lock()
		if d.closed || r.stopped {
			delete(d.runs, r.ref.RunID)
			d.mu.Unlock()
			return
		}
		switch {
		case err != nil:
			r.errors++
			r.lastErr = err
			wait := d.backoff << min(r.errors-1, 6)
			wait = min(wait, time.Minute)
			d.logger.Error("advancing a run failed; trying again", "runId", r.ref.RunID, "error", err, "attempt", r.errors, "retryIn", wait.String())
			if failure != nil {
				// Even recording the failure failed: leave the run to the
				// next start's Resume rather than loop on it.
				delete(d.runs, r.ref.RunID)
				d.mu.Unlock()
				return
			}
			d.scheduleLocked(r, wait)
			d.mu.Unlock()
			return
		case outcome.Done:
			delete(d.runs, r.ref.RunID)
			d.mu.Unlock()
			return
		case outcome.WaitForEvent && r.woken:
			// The child ended during this Advance: look again now.
			r.errors, r.woken = 0, false
			d.mu.Unlock()
		case outcome.Wait > 0:
			r.errors, r.woken = 0, false
			d.scheduleLocked(r, outcome.Wait)
			d.mu.Unlock()
			return
		default:
			r.errors, r.woken = 0, false
			d.mu.Unlock() // the budget ran out: advance again at once
		}
	}
}
