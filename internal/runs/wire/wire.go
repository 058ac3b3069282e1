// Package wire builds each function of the runs feature that starts no run
// (the reads, cancel and the signals): the one constructor that its main
// (in Lambda) and the local gateway both call, so the two cannot drift
// apart. The functions that start runs are wire/starts, which adds the
// input schema's check (and so the JSON Schema compiler) to what is built
// here. What differs between the two is only what the
// caller passes in: the driver of runs (Step Functions or the local driver)
// and the signal key (KMS or a local file). Everything else, the stores, the
// retention (RUN_RETENTION_DAYS), the decorations that wake parents and
// queued runs, is built here from the Env, for both.
package wire

import (
	"context"
	"net/http"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
)

// Driver is what drives runs on one platform: the Orchestrator that starts
// and stops them, and the wakers of a run waiting in a step (a parent whose
// child ended, a run signalled) and of queued runs (a concurrency slot
// freed). The zero Driver drives nothing: started runs stay queued (tests of
// the routes alone).
type Driver struct {
	Orchestrator runs.Orchestrator
	// Wakers returns, for the run store, the waker of runs waiting in a step
	// and of queued runs; nil (or nil results): no one is woken.
	Wakers func(store runs.Store) (steps runs.Waker, queued runs.SlotWaker)
	// Express: the Orchestrator starts runs on the Express state machine
	// too (runs.Options.Express).
	Express bool
}

// StateMachine is what Step Functions (orchestrator/sfn) offers: executions
// started and stopped, and the task tokens that waiting runs hold
// completed.
type StateMachine interface {
	runs.Orchestrator
	runs.TaskCompleter
	// Express reports whether the Express machine is configured.
	Express() bool
}

// OnStateMachine is the Driver of AWS: a waiting run, parent or signalled,
// and a queued run are woken by completing the task token their execution
// waits on.
func OnStateMachine(machine StateMachine) Driver {
	return Driver{Orchestrator: machine, Express: machine.Express(), Wakers: func(store runs.Store) (runs.Waker, runs.SlotWaker) {
		return runs.TokenWaker(store, machine), runs.TokenSlotWaker(machine)
	}}
}

// LocalDriver is what the local gateway's driver (orchestrator/local)
// offers: it drives runs in process, and advances a run now when asked.
type LocalDriver interface {
	runs.Orchestrator
	runs.Waker
	WakeRun(ctx context.Context, accountID, runID string) error
}

// OnLocalDriver is the Driver of the local gateway: a waiting or queued run
// is advanced at once by the driver. Runs are created for the machine they
// would run on in AWS (the start check treats them alike), and the one
// driver drives both kinds.
func OnLocalDriver(driver LocalDriver) Driver {
	return Driver{Orchestrator: driver, Express: true, Wakers: func(runs.Store) (runs.Waker, runs.SlotWaker) {
		return driver, runs.SlotWakerFunc(func(ctx context.Context, q runs.QueuedRun) error {
			return driver.WakeRun(ctx, q.AccountID, q.RunID)
		})
	}}
}

// Stores is the run store of one function: Raw for reads and the writes
// that change no status (steps, signals, slots, events), Writes for every
// write that may, which gives back a run's concurrency slot and wakes its
// parent, and the Retention (RUN_RETENTION_DAYS) both were built with.
type Stores struct {
	Raw       *runsdb.Store
	Writes    runs.Store
	Retention time.Duration
}

// NewStores builds the Stores of a function driven by d: the runs' own
// functions and the runner.
func NewStores(env *lambdaenv.Env, d Driver) (Stores, error) {
	retention, err := runs.RetentionFromEnv()
	if err != nil {
		return Stores{}, err
	}
	raw := runsdb.New(env.DB, env.TableName).WithRetention(retention)
	var steps runs.Waker
	var queued runs.SlotWaker
	if d.Wakers != nil {
		steps, queued = d.Wakers(raw)
	}
	writes := runs.HoldSlots(runs.NotifyParents(raw, steps, env.Logger), raw, queued, env.Logger)
	return Stores{Raw: raw, Writes: writes, Retention: retention}, nil
}

// steps is the waker of runs waiting in a step, for the signal routes.
func (d Driver) steps(store runs.Store) runs.Waker {
	if d.Wakers == nil {
		return nil
	}
	steps, _ := d.Wakers(store)
	return steps
}

// StartPath is what a function that starts runs adds to the runs' service:
// the check of a run's input against its workflow's inputSchema
// (inputschema.Check, which wire/starts gives; this package links no
// JSON Schema compiler, so neither do the reads), and whether it honours
// Idempotency-Key (the start and retry routes).
type StartPath struct {
	CheckInput  func(schema, input jsontext.Value) error
	Idempotency bool
}

// NewService is the runs' service of one function driven by d; start is
// nil for one that starts no run.
func NewService(env *lambdaenv.Env, d Driver, start *StartPath) (*runs.Service, error) {
	s, err := NewStores(env, d)
	if err != nil {
		return nil, err
	}
	opts := runs.Options{Retention: s.Retention, Logger: env.Logger, Express: d.Express}
	var versions runs.Workflows
	if start != nil {
		versions = workflowsdb.New(env.DB, env.TableName)
		opts.CheckInput = start.CheckInput
		if start.Idempotency {
			opts.Idempotency = s.Raw
		}
	}
	return runs.NewService(s.Writes, versions, d.Orchestrator, opts), nil
}

// GetRun is the handler of routes.GetRun. mac makes a waiting
// wait_for_signal step's signalUrl again (only its hash is stored); nil
// shows none.
func GetRun(env *lambdaenv.Env, mac signaltoken.MAC) (http.Handler, error) {
	s, err := NewService(env, Driver{}, nil)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).WithSignalMAC(mac).Get), nil
}

// GetRunStep is the handler of routes.GetRunStep; mac as GetRun's.
func GetRunStep(env *lambdaenv.Env, mac signaltoken.MAC) (http.Handler, error) {
	s, err := NewService(env, Driver{}, nil)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).WithSignalMAC(mac).GetStep), nil
}

// ListRuns is the handler of routes.ListRuns.
func ListRuns(env *lambdaenv.Env) (http.Handler, error) {
	s, err := NewService(env, Driver{}, nil)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).List), nil
}

// CancelRun is the handler of routes.CancelRun: a cancelled queued or
// waiting run's execution is stopped, its slot given back and its parent
// woken; a cancelled parent cancels its children.
func CancelRun(env *lambdaenv.Env, d Driver) (http.Handler, error) {
	s, err := NewService(env, d, nil)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(runs.NewHandlers(s).Cancel), nil
}

// signals is the service of both signal routes: a signal completes the
// step and wakes its run.
func signals(env *lambdaenv.Env, d Driver) (*runs.SignalHandlers, error) {
	s, err := NewStores(env, d)
	if err != nil {
		return nil, err
	}
	return runs.NewSignalHandlers(runs.NewSignals(s.Writes, s.Raw, d.steps(s.Raw), runs.Options{Logger: env.Logger})), nil
}

// SignalRun is the handler of routes.SignalRun.
func SignalRun(env *lambdaenv.Env, d Driver) (http.Handler, error) {
	h, err := signals(env, d)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(h.Signal), nil
}

// ReceiveSignal is the handler of routes.ReceiveSignal (the signalUrl, no
// key).
func ReceiveSignal(env *lambdaenv.Env, d Driver) (http.Handler, error) {
	h, err := signals(env, d)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(h.SignalByToken), nil
}
