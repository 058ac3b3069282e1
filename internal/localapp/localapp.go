// Package localapp wires every function of the route table in one process,
// as each function's main wires its own in AWS, and puts them behind the
// local gateway: what `make dev` serves and what the end-to-end tests run.
package localapp

import (
	"context"
	"net/http"

	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localgateway"
	"github.com/workflowsapi/workflows/internal/notify"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/orchestrator/local"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/schedules"
	schedlocal "github.com/workflowsapi/workflows/internal/schedules/local"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Deps is what the features need beyond the App: in AWS each function's main
// builds its own from the environment.
type Deps struct {
	// Sealer encrypts connection credentials and webhook secrets: the local
	// key-wrapping key under .data/ for make dev, one in a temporary
	// directory for tests.
	Sealer secrets.Sealer
	// Orchestrator drives the runs the run routes start and stop: the
	// in-process driver of the runner (Driver) for make dev and the tests
	// that run runs; nil leaves started runs queued (the run routes log
	// that no orchestrator is wired), and some tests pass a recorder.
	Orchestrator runs.Orchestrator
	// Scheduler holds the schedules of schedule workflows: the local
	// gateway's own (schedules/local, made with FireScheduled), which the
	// workflow routes keep in step as they keep EventBridge Scheduler's in
	// AWS. Nil: schedule workflows are stored without one (logged).
	Scheduler schedules.Scheduler
	// Targets, when set, is where http steps may go, whatever the
	// environment says: the tests set the loopback mode, so no test can
	// send a step anywhere else (DNS included). Nil reads the environment
	// (HTTP_STEP_TARGETS, ALLOW_PRIVATE_TARGETS), as functions/runner does.
	Targets *engine.OutboundPolicy
	// SignalMAC makes the tokens of wait_for_signal steps: the local signal
	// key under .data/ for make dev, one in a temporary directory for
	// tests. Nil: a wait_for_signal step fails, and no signalUrl is shown.
	SignalMAC signaltoken.MAC
}

// wakerOf is the Waker of deps' orchestrator (the local driver), nil if it
// has none.
func wakerOf(deps Deps) runs.Waker {
	if w, ok := deps.Orchestrator.(runs.Waker); ok {
		return w
	}
	return nil
}

// schedulesOf is the schedules service of deps (nil without a Scheduler).
func schedulesOf(app *lambdaapp.App, deps Deps) *schedules.Service {
	if deps.Scheduler == nil {
		return nil
	}
	return schedules.NewService(deps.Scheduler, schedulesdb.New(app.DB, app.TableName), nil)
}

// FireScheduled is the local schedules' target, as the scheduled-run
// function is EventBridge Scheduler's: it starts the run of one firing
// (runs.Service.StartScheduled, with the id derived from the workflow and
// the scheduled time), driven by deps.Orchestrator.
func FireScheduled(app *lambdaapp.App, deps Deps) schedlocal.Fire {
	service := runs.NewService(runStore(app, deps), workflowsdb.New(app.DB, app.TableName), deps.Orchestrator, runs.Options{Logger: app.Logger})
	return func(ctx context.Context, f schedules.Firing) error {
		_, _, err := service.StartScheduled(ctx, runs.Firing(f))
		return err
	}
}

// SyncSchedules makes deps.Scheduler hold the schedule of every schedule
// workflow stored: the local gateway's start (its scheduler starts empty).
// It marks the schedule workflows stored before markers existed first (a
// Scan, harmless on a local table), then reconciles as `wfctl schedules
// sync` does in AWS.
func SyncSchedules(ctx context.Context, app *lambdaapp.App, deps Deps) (schedules.SyncReport, error) {
	service := schedulesOf(app, deps)
	if service == nil {
		return schedules.SyncReport{}, nil
	}
	markers := schedulesdb.New(app.DB, app.TableName)
	if _, err := service.Backfill(ctx, markers); err != nil {
		return schedules.SyncReport{}, err
	}
	return service.Sync(ctx, workflows.ScheduleSource{Store: workflowsdb.New(app.DB, app.TableName)})
}

// runStore is the runs' store as every function of the local gateway uses
// it: a write that ends a child run wakes its parent when deps'
// orchestrator can (the local driver, runs.Waker).
func runStore(app *lambdaapp.App, deps Deps) runs.Store {
	raw := runsdb.New(app.DB, app.TableName)
	var store runs.Store = raw
	if parents, ok := deps.Orchestrator.(runs.Waker); ok {
		store = runs.NotifyParents(store, parents, app.Logger)
	}
	return runs.HoldSlots(store, raw, slotWakerOf(deps.Orchestrator), app.Logger)
}

// runWaker is the local driver's way to advance a run now.
type runWaker interface {
	WakeRun(ctx context.Context, accountID, runID string) error
}

// slotWakerOf wakes queued runs on o, when o is the local driver (nil
// otherwise: a queued run looks again at its own time).
func slotWakerOf(o any) runs.SlotWaker {
	w, ok := o.(runWaker)
	if !ok {
		return nil
	}
	return runs.SlotWakerFunc(func(ctx context.Context, q runs.QueuedRun) error {
		return w.WakeRun(ctx, q.AccountID, q.RunID)
	})
}

// relay is runs.Waker for a runner built before its driver: the driver,
// once made, is set here.
type relay struct{ parents runs.Waker }

// WakeRun wakes a queued run on the driver, once it is made.
func (r *relay) WakeRun(ctx context.Context, accountID, runID string) error {
	if w, ok := r.parents.(runWaker); ok {
		return w.WakeRun(ctx, accountID, runID)
	}
	return nil
}

func (r *relay) Wake(ctx context.Context, accountID, parentRunID, parentStepID string) error {
	if r.parents == nil {
		return nil
	}
	return r.parents.Wake(ctx, accountID, parentRunID, parentStepID)
}

// Runner is the runner as functions/runner wires it, on app's clients: the
// local driver calls it in-process. http steps follow the outbound policy
// of the environment (HTTP_STEP_TARGETS, ALLOW_PRIVATE_TARGETS).
func Runner(app *lambdaapp.App, deps Deps) (*runner.Runner, error) {
	return newRunner(app, deps, nil)
}

func newRunner(app *lambdaapp.App, deps Deps, parents runs.Waker) (*runner.Runner, error) {
	policy, err := engine.PolicyFromEnv()
	if err != nil {
		return nil, err
	}
	if deps.Targets != nil {
		policy = *deps.Targets
	}
	retention, err := runs.RetentionFromEnv()
	if err != nil {
		return nil, err
	}
	opener := connections.NewOpener(connectionsdb.New(app.DB, app.TableName), deps.Sealer)
	raw := runsdb.New(app.DB, app.TableName).WithRetention(retention)
	var store runs.Store = raw
	if parents != nil {
		store = runs.NotifyParents(store, parents, app.Logger)
	}
	store = runs.HoldSlots(store, raw, slotWakerOf(parents), app.Logger)
	eng := engine.New(engine.Options{Policy: policy, Credentials: runner.Credentials(opener)})
	notifySecrets := webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), deps.Sealer)
	return runner.New(runner.Config{
		Store:     store,
		Workflows: workflowsdb.New(app.DB, app.TableName),
		Engine:    eng,
		Logger:    app.Logger,
		Signals:   raw,
		SignalMAC: deps.SignalMAC,
		Slots:     raw,
		// Events go out through the http steps' client and policy; their
		// writes go to the store undecorated (no status changes).
		Notifier: notify.New(raw, notifySecrets, eng, notify.Options{Logger: app.Logger}),
	}), nil
}

// Driver is the local gateway's driver of runs: the runner in-process,
// following the state machine's three states with timers. Set it as
// Deps.Orchestrator, ResumeRuns it at start and Shutdown it at the end.
//
// A workflow step's child is started by the runs' start path on the same
// driver, and a child's end wakes its parent on it (Driver.Wake), as
// the task token does in AWS.
func Driver(app *lambdaapp.App, deps Deps) (*local.Driver, error) {
	parents := &relay{}
	r, err := newRunner(app, deps, parents)
	if err != nil {
		return nil, err
	}
	driver := local.New(r.Drive, local.Options{Logger: app.Logger})
	parents.parents = driver
	deps.Orchestrator = driver
	r.SetChildren(runs.NewService(runStore(app, deps), workflowsdb.New(app.DB, app.TableName), driver, runs.Options{Logger: app.Logger}))
	return driver, nil
}

// ResumeRuns drives every run DynamoDB holds unfinished (queued, running,
// waiting, cancelling): what a restart of the local gateway must pick up.
// A run waiting until T goes on at T.
func ResumeRuns(ctx context.Context, app *lambdaapp.App, driver *local.Driver) (int, error) {
	refs, err := runsdb.New(app.DB, app.TableName).Unfinished(ctx)
	if err != nil {
		return 0, err
	}
	resume := make([]local.Ref, len(refs))
	for i, ref := range refs {
		resume[i] = local.Ref{AccountID: ref.AccountID, RunID: ref.RunID}
	}
	return len(resume), driver.Resume(ctx, resume)
}

// FeatureHandlers is, for every built route, the handler its function's main
// hands to the pipeline. A route absent here answers 501 NOT_IMPLEMENTED;
// TestEveryBuiltRouteIsWired holds this to routes.Route.Built.
func FeatureHandlers(app *lambdaapp.App, deps Deps) map[*routes.Route]http.Handler {
	keyHandlers := keys.NewHandlers(keys.NewService(keysdb.New(app.DB, app.TableName), nil))
	notifySecrets := webhooks.NewNotifySecrets(webhooksdb.NewNotify(app.DB, app.TableName), deps.Sealer)
	workflowService := workflows.NewService(workflowsdb.New(app.DB, app.TableName), connectionsdb.New(app.DB, app.TableName), webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), deps.Sealer), nil).
		WithNotifySecrets(notifySecrets)
	if sched := schedulesOf(app, deps); sched != nil {
		workflowService.WithSchedules(sched)
	}
	workflowHandlers := workflows.NewHandlers(workflowService)
	// The receiving route starts runs as the run route does (no
	// idempotency store: a delivery's run id is its own idempotency key).
	receiveHandler := receive.New(webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), deps.Sealer),
		receive.FromRuns(runs.NewService(runStore(app, deps), workflowsdb.New(app.DB, app.TableName), deps.Orchestrator, runs.Options{Logger: app.Logger})), nil)
	connectionHandlers := connections.NewHandlers(connections.NewService(connectionsdb.New(app.DB, app.TableName), deps.Sealer, nil))
	runHandlers := runs.NewHandlers(runs.NewService(runStore(app, deps), workflowsdb.New(app.DB, app.TableName), deps.Orchestrator,
		runs.Options{Idempotency: runsdb.New(app.DB, app.TableName), Logger: app.Logger})).WithSignalMAC(deps.SignalMAC)
	signalHandlers := runs.NewSignalHandlers(runs.NewSignals(runStore(app, deps), runsdb.New(app.DB, app.TableName), wakerOf(deps), runs.Options{Logger: app.Logger}))
	return map[*routes.Route]http.Handler{
		&routes.ListWorkflows:  http.HandlerFunc(workflowHandlers.List),
		&routes.CreateWorkflow: http.HandlerFunc(workflowHandlers.Create),
		&routes.GetWorkflow:    http.HandlerFunc(workflowHandlers.Get),
		&routes.UpdateWorkflow: http.HandlerFunc(workflowHandlers.Update),
		&routes.DeleteWorkflow: http.HandlerFunc(workflowHandlers.Delete),

		&routes.ListAPIKeys:  http.HandlerFunc(keyHandlers.List),
		&routes.CreateAPIKey: http.HandlerFunc(keyHandlers.Create),
		&routes.RevokeAPIKey: http.HandlerFunc(keyHandlers.Revoke),
		&routes.RollAPIKey:   http.HandlerFunc(keyHandlers.Roll),
		&routes.GetOpenAPI:   openapi.Handler(),

		&routes.ListConnections:  http.HandlerFunc(connectionHandlers.List),
		&routes.GetConnection:    http.HandlerFunc(connectionHandlers.Get),
		&routes.CreateConnection: http.HandlerFunc(connectionHandlers.Create),
		&routes.UpdateConnection: http.HandlerFunc(connectionHandlers.Update),
		&routes.DeleteConnection: http.HandlerFunc(connectionHandlers.Delete),

		&routes.RunWorkflow: http.HandlerFunc(runHandlers.Start),
		&routes.ListRuns:    http.HandlerFunc(runHandlers.List),
		&routes.GetRun:      http.HandlerFunc(runHandlers.Get),
		&routes.GetRunStep:  http.HandlerFunc(runHandlers.GetStep),
		&routes.CancelRun:   http.HandlerFunc(runHandlers.Cancel),
		&routes.RetryRun:    http.HandlerFunc(runHandlers.Retry),
		&routes.SignalRun:   http.HandlerFunc(signalHandlers.Signal),

		&routes.RollWebhookSecret: http.HandlerFunc(webhooks.NewHandlers(webhooks.NewSecrets(webhooksdb.New(app.DB, app.TableName), deps.Sealer)).Roll),
		&routes.RollNotifySecret:  http.HandlerFunc(webhooks.NewHandlers(notifySecrets).Roll),
		&routes.ReceiveWebhook:    receiveHandler,
		&routes.ReceiveSignal:     http.HandlerFunc(signalHandlers.SignalByToken),
	}
}

// Functions returns the Lambda handler of every route's function, by
// function name.
func Functions(app *lambdaapp.App, deps Deps) map[string]httpapi.LambdaHandler {
	features := FeatureHandlers(app, deps)
	functions := map[string]httpapi.LambdaHandler{}
	for _, r := range routes.All {
		feature, ok := features[r]
		if !ok {
			feature = httpapi.NotImplemented
		}
		functions[r.Function] = app.Route(r, feature)
	}
	// As its main wires it: the event's header maps are checked for a
	// second signature before the proxy adapter.
	functions[routes.ReceiveWebhook.Function] = receive.OneSignatureEvent(functions[routes.ReceiveWebhook.Function])
	return functions
}

// Authorizer is the authorizer function's handler, as its main wires it.
func Authorizer(app *lambdaapp.App) *authorizer.Authorizer {
	return authorizer.New(keysdb.New(app.DB, app.TableName), nil, app.Logger)
}

// Gateway serves every function of app through the local gateway.
func Gateway(app *lambdaapp.App, deps Deps) (*localgateway.Gateway, error) {
	return localgateway.New(Functions(app, deps), Authorizer(app).Handle, app.Logger)
}
