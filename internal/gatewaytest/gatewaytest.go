// Package gatewaytest serves the whole API over real HTTP for integration
// and end-to-end tests: the local gateway, the real Lambda handlers and the
// authorizer, on a fresh dynalite table. Every request and response that
// passes through it is held to the OpenAPI document (see contract.go).
package gatewaytest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/local"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/runs"
	schedlocal "github.com/workflowsapi/workflows/internal/schedules/local"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// Env is a running API.
type Env struct {
	// URL is the server's root, e.g. http://127.0.0.1:41234; the API is under
	// URL + "/api/v1".
	URL   string
	Table dynamotest.Table
	Clock *Clock
	// Sealer is the API's own (a local key in a temporary directory): a
	// test opens what the API sealed with it to prove the round trip.
	Sealer secrets.Sealer
	// Driver drives the runs (Options.DriveRuns; nil otherwise), and
	// Second too with Options.DriveRunsTwice.
	Driver *local.Driver
	Second *local.Driver
	// Schedules is the API's scheduler (the local gateway's own): a test
	// fires what is due with Schedules.FireDue at a time of its choosing.
	Schedules *schedlocal.Scheduler
	store     keys.Store
}

// Options change the API under test.
type Options struct {
	// Limits replaces the default rate limits (nil keeps the contract's).
	Limits map[ratelimit.Category]int64
	// Logs receives the JSON logs (discarded if nil).
	Logs io.Writer
	// Orchestrator drives the runs the API starts (nil: none; runs stay
	// queued). The run route tests pass a recorder.
	Orchestrator runs.Orchestrator
	// DriveRuns drives runs as make dev does: the runner in-process under
	// the local driver (Env.Driver), shut down when the test ends. It
	// replaces Orchestrator.
	DriveRuns bool
	// Unchecked serves the gateway as make dev does, without holding every
	// exchange to the OpenAPI document: for the throughput benchmark, in
	// which the check (kin-openapi compiles a JSON Schema for every body
	// it validates) took 39% of the process's CPU from the API it measures.
	Unchecked bool
	// DriveRunsTwice drives every run started with two drivers at once
	// (Env.Driver and Env.Second, each its own runner), as two Express
	// executions of one run would: Express's start is at least once.
	DriveRunsTwice bool
	// RefuseLoopbackTargets runs http steps under the deployed default
	// policy (public addresses only) instead of the tests' loopback mode,
	// to show it refusing loopback targets end to end. A test that sets it
	// must name only loopback addresses, which that policy refuses before
	// anything is sent: no other host may appear in a test.
	RefuseLoopbackTargets bool
}

// MustStart serves the API until the test ends.
func MustStart(tb testing.TB, opts Options) *Env {
	tb.Helper()
	table := dynamotest.MustTable(tb)
	limits := ratelimit.DefaultConfig()
	for c, n := range opts.Limits {
		limits.Limits[c] = n
	}
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	clock := &Clock{}
	app := lambdaapp.New(table.Client, table.Name, limits, slog.New(slog.NewJSONHandler(logs, nil)))
	app.LimiterClock = clock.Now
	sealer, err := secrets.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	signalMAC, err := signaltoken.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	// Whatever the environment says, a test's http steps go to loopback
	// only, and no other host is even looked up.
	targets := engine.OutboundPolicy{Mode: engine.TargetsLoopback}
	if opts.RefuseLoopbackTargets {
		targets = engine.OutboundPolicy{Mode: engine.TargetsPublic}
	}
	deps := localapp.Deps{Sealer: sealer, Orchestrator: opts.Orchestrator, Targets: &targets, SignalMAC: signalMAC}
	var driver, second *local.Driver
	if opts.DriveRuns || opts.DriveRunsTwice {
		if driver, err = localapp.Driver(app, deps); err != nil {
			tb.Fatal(err)
		}
		deps.Orchestrator = driver
	}
	if opts.DriveRunsTwice {
		if second, err = localapp.Driver(app, deps); err != nil {
			tb.Fatal(err)
		}
		deps.Orchestrator = twice{driver, second}
	}
	// Schedules fire only when a test calls FireDue: no timer runs.
	fire, err := localapp.FireScheduled(app, deps)
	if err != nil {
		tb.Fatal(err)
	}
	scheduler := schedlocal.New(fire, app.Logger, nil)
	deps.Scheduler = scheduler
	gateway, err := localapp.Gateway(app, deps)
	if err != nil {
		tb.Fatal(err)
	}
	var handler http.Handler = gateway
	if !opts.Unchecked {
		handler = checkContract(tb, gateway)
	}
	server := httptest.NewServer(handler)
	tb.Cleanup(server.Close)
	for _, d := range []*local.Driver{driver, second} {
		if d != nil {
			// Registered after the server's: cleanups run last first, so
			// the runs stop before the server does.
			tb.Cleanup(func() { _ = d.Shutdown(context.Background()) })
		}
	}
	return &Env{URL: server.URL, Table: table, Clock: clock, Sealer: sealer, Driver: driver, Second: second, Schedules: scheduler, store: keysdb.New(table.Client, table.Name)}
}

// twice starts each run on both drivers (Options.DriveRunsTwice); the rest
// goes to the first.
type twice struct{ first, second *local.Driver }

func (t twice) Start(ctx context.Context, accountID, runID string, machine orchestrator.Machine) error {
	if err := t.first.Start(ctx, accountID, runID, machine); err != nil {
		return err
	}
	return t.second.Start(ctx, accountID, runID, machine)
}

func (t twice) Stop(ctx context.Context, runID string) error {
	return errors.Join(t.first.Stop(ctx, runID), t.second.Stop(ctx, runID))
}

func (t twice) StartDelivery(ctx context.Context, accountID, runID string) error {
	return t.first.StartDelivery(ctx, accountID, runID)
}

// MustKey makes a key the way wfctl does, through the keys service: in
// account, with every scope unless scopes are given. It returns the
// plaintext and the key's id.
func (e *Env) MustKey(tb testing.TB, account string, scopes ...domain.Scope) (plaintext, keyID string) {
	tb.Helper()
	issued := keystest.MustIssue(tb, e.store, account, scopes...)
	return issued.Plaintext, issued.Key.ID
}

// Clock is the rate limiter's clock: the wall clock until Set.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the set time, or the wall clock if none was set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Set fixes the limiter's clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
