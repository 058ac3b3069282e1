// Package localapp wires every function of the route table in one process,
// as each function's main wires its own in AWS, and puts them behind the
// local gateway: what `make dev` serves and what the end-to-end tests run.
package localapp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/workflowsapi/workflows/internal/authorizer"
	authorizerwire "github.com/workflowsapi/workflows/internal/authorizer/wire"
	connectionswire "github.com/workflowsapi/workflows/internal/connections/wire"
	"github.com/workflowsapi/workflows/internal/console"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/httpapi"
	keyswire "github.com/workflowsapi/workflows/internal/keys/wire"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localgateway"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/local"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runner"
	runnerwire "github.com/workflowsapi/workflows/internal/runner/wire"
	"github.com/workflowsapi/workflows/internal/runs"
	runswire "github.com/workflowsapi/workflows/internal/runs/wire"
	"github.com/workflowsapi/workflows/internal/runs/wire/starts"
	"github.com/workflowsapi/workflows/internal/schedules"
	schedlocal "github.com/workflowsapi/workflows/internal/schedules/local"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
	receivewire "github.com/workflowsapi/workflows/internal/webhooks/receive/wire"
	webhookswire "github.com/workflowsapi/workflows/internal/webhooks/wire"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	workflowswire "github.com/workflowsapi/workflows/internal/workflows/wire"
	"github.com/workflowsapi/workflows/internal/workflows/wire/writes"
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

// driverOf is the runs' Driver of deps' orchestrator: the local driver
// wakes waiting and queued runs itself; any other orchestrator (a test's
// recorder) only starts and stops them; none leaves started runs queued.
func driverOf(deps Deps) runswire.Driver {
	if d, ok := deps.Orchestrator.(runswire.LocalDriver); ok {
		return runswire.OnLocalDriver(d)
	}
	// Runs are created for the machine they would run on in AWS, whatever
	// drives them here (a test's recorder, two drivers at once).
	return runswire.Driver{Orchestrator: deps.Orchestrator, Express: true}
}

// writes is what the workflow routes that change a workflow are given.
func writesOf(deps Deps) workflowswire.Writes {
	return workflowswire.Writes{Sealer: deps.Sealer, Scheduler: deps.Scheduler}
}

// FireScheduled is the local schedules' target, as the scheduled-run
// function is EventBridge Scheduler's: the same constructor, driven by
// deps.Orchestrator.
func FireScheduled(app *lambdaapp.App, deps Deps) (schedlocal.Fire, error) {
	fire, err := starts.ScheduledRun(app.Env, driverOf(deps))
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, f schedules.Firing) error { return fire(ctx, runs.Firing(f)) }, nil
}

// SyncSchedules makes deps.Scheduler hold the schedule of every schedule
// workflow stored: the local gateway's start (its scheduler starts empty).
// It marks the schedule workflows stored before markers existed first (a
// Scan, harmless on a local table), then reconciles as `wfctl schedules
// sync` does in AWS.
func SyncSchedules(ctx context.Context, app *lambdaapp.App, deps Deps) (schedules.SyncReport, error) {
	if deps.Scheduler == nil {
		return schedules.SyncReport{}, nil
	}
	service := workflowswire.Schedules(app.Env, deps.Scheduler)
	if _, err := service.Backfill(ctx, schedulesdb.New(app.DB, app.TableName)); err != nil {
		return schedules.SyncReport{}, err
	}
	return service.Sync(ctx, workflows.ScheduleSource{Store: workflowsdb.New(app.DB, app.TableName), Rules: definition.Rules{}})
}

// relay is the local driver for a runner built before its driver: the
// driver, once made, is set here.
type relay struct{ driver *local.Driver }

func (r *relay) Start(ctx context.Context, accountID, runID string, machine orchestrator.Machine) error {
	return r.driver.Start(ctx, accountID, runID, machine)
}

func (r *relay) Stop(ctx context.Context, runID string) error { return r.driver.Stop(ctx, runID) }

func (r *relay) StartDelivery(ctx context.Context, accountID, runID string) error {
	return r.driver.StartDelivery(ctx, accountID, runID)
}

func (r *relay) Wake(ctx context.Context, accountID, runID, stepID string) error {
	return r.driver.Wake(ctx, accountID, runID, stepID)
}

func (r *relay) WakeRun(ctx context.Context, accountID, runID string) error {
	return r.driver.WakeRun(ctx, accountID, runID)
}

// platform is the runner's Platform in the local gateway.
func platform(deps Deps, driver runswire.Driver) runnerwire.Platform {
	return runnerwire.Platform{Driver: driver, Sealer: deps.Sealer, SignalMAC: deps.SignalMAC, Targets: deps.Targets}
}

// Runner is the runner as functions/runner builds it (runnerwire.Runner),
// without a driver: the tests that call it in-process drive it themselves.
func Runner(app *lambdaapp.App, deps Deps) (*runner.Runner, error) {
	return runnerwire.Runner(app.Env, platform(deps, runswire.Driver{}))
}

// Driver is the local gateway's driver of runs: the runner in-process
// (runnerwire.Runner, as functions/runner builds it), following the state
// machine's three states with timers. Set it as Deps.Orchestrator,
// ResumeRuns it at start and Shutdown it at the end.
//
// A workflow step's child is started by the runs' start path on the same
// driver, and a child's end wakes its parent on it (Driver.Wake), as
// the task token does in AWS.
func Driver(app *lambdaapp.App, deps Deps) (*local.Driver, error) {
	late := &relay{}
	r, err := runnerwire.Runner(app.Env, platform(deps, runswire.OnLocalDriver(late)))
	if err != nil {
		return nil, err
	}
	late.driver = local.New(r.Drive, local.Options{Logger: app.Logger})
	return late.driver, nil
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
// hands to the pipeline, made by the same constructor (the feature's wire
// package) from deps instead of the Lambda environment. A route absent here
// answers 501 NOT_IMPLEMENTED; TestEveryBuiltRouteIsWired holds this to
// routes.Route.Built.
func FeatureHandlers(app *lambdaapp.App, deps Deps) (map[*routes.Route]http.Handler, error) {
	env, driver := app.Env, driverOf(deps)
	handlers := map[*routes.Route]http.Handler{
		&routes.ListWorkflows:  workflowswire.ListWorkflows(env),
		&routes.CreateWorkflow: writes.CreateWorkflow(env, writesOf(deps)),
		&routes.GetWorkflow:    workflowswire.GetWorkflow(env),
		&routes.UpdateWorkflow: writes.UpdateWorkflow(env, writesOf(deps)),
		// Its main passes no sealer (it has no KMS grant), and neither
		// does this: the same function.
		&routes.DeleteWorkflow: workflowswire.DeleteWorkflow(env, workflowswire.Writes{Scheduler: deps.Scheduler}),

		&routes.ListAPIKeys:  keyswire.ListAPIKeys(env),
		&routes.CreateAPIKey: keyswire.CreateAPIKey(env),
		&routes.RevokeAPIKey: keyswire.RevokeAPIKey(env),
		&routes.RollAPIKey:   keyswire.RollAPIKey(env),
		&routes.GetOpenAPI:   openapi.Handler(),

		&routes.ListConnections:  connectionswire.ListConnections(env),
		&routes.GetConnection:    connectionswire.GetConnection(env),
		&routes.CreateConnection: connectionswire.CreateConnection(env, deps.Sealer),
		&routes.UpdateConnection: connectionswire.UpdateConnection(env, deps.Sealer),
		&routes.DeleteConnection: connectionswire.DeleteConnection(env),

		&routes.RollWebhookSecret: webhookswire.RollWebhookSecret(env, deps.Sealer),
		&routes.RollNotifySecret:  webhookswire.RollNotifySecret(env, deps.Sealer),
	}
	// One handler for the console's two routes, as its one function has.
	consoleHandler := console.Handler()
	handlers[&routes.GetConsole], handlers[&routes.GetConsoleAsset] = consoleHandler, consoleHandler
	for route, build := range map[*routes.Route]func() (http.Handler, error){
		&routes.RunWorkflow:   func() (http.Handler, error) { return starts.RunWorkflow(env, driver) },
		&routes.ListRuns:      func() (http.Handler, error) { return runswire.ListRuns(env) },
		&routes.GetRun:        func() (http.Handler, error) { return runswire.GetRun(env, deps.SignalMAC) },
		&routes.GetRunStep:    func() (http.Handler, error) { return runswire.GetRunStep(env, deps.SignalMAC) },
		&routes.CancelRun:     func() (http.Handler, error) { return runswire.CancelRun(env, driver) },
		&routes.RetryRun:      func() (http.Handler, error) { return starts.RetryRun(env, driver) },
		&routes.SignalRun:     func() (http.Handler, error) { return runswire.SignalRun(env, driver) },
		&routes.ReceiveSignal: func() (http.Handler, error) { return runswire.ReceiveSignal(env, driver) },
		&routes.ReceiveWebhook: func() (http.Handler, error) {
			return receivewire.ReceiveWebhook(env, deps.Sealer, driver)
		},
	} {
		h, err := build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", route.Function, err)
		}
		handlers[route] = h
	}
	return handlers, nil
}

// Functions returns the Lambda handler of every route's function, by
// function name.
func Functions(app *lambdaapp.App, deps Deps) (map[string]httpapi.LambdaHandler, error) {
	features, err := FeatureHandlers(app, deps)
	if err != nil {
		return nil, err
	}
	functions := map[string]httpapi.LambdaHandler{}
	for _, fn := range routes.Functions() {
		if fn.Route == nil {
			continue
		}
		// A function that serves several routes runs one pipeline, on
		// the route its main starts (fn.Route), as in AWS.
		feature, ok := features[fn.Route]
		if !ok {
			feature = httpapi.NotImplemented
		}
		functions[fn.Name] = app.Route(fn.Route, feature)
	}
	// As its main wires it: the event's header maps are checked for a
	// second signature before the proxy adapter.
	functions[routes.ReceiveWebhook.Function] = receive.OneSignatureEvent(functions[routes.ReceiveWebhook.Function])
	return functions, nil
}

// Authorizer is the authorizer function's handler, as its main builds it.
func Authorizer(app *lambdaapp.App) *authorizer.Authorizer {
	return authorizerwire.Authorizer(app.Env)
}

// Gateway serves every function of app through the local gateway.
func Gateway(app *lambdaapp.App, deps Deps) (*localgateway.Gateway, error) {
	functions, err := Functions(app, deps)
	if err != nil {
		return nil, err
	}
	return localgateway.New(functions, Authorizer(app).Handle, app.Logger)
}
