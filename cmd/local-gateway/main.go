// Command local-gateway serves the API on one machine, as API Gateway and
// Lambda would (see package localgateway). `make dev` runs it against
// dynalite. Environment: PORT (3000), HOST (127.0.0.1), DYNAMODB_ENDPOINT (the
// local engine), TABLE_NAME (workflows-local), DATA_DIR (.data: the local
// key-wrapping key), KMS_KEY_ID (seal with KMS instead), RATE_LIMIT_*,
// HTTP_STEP_TARGETS and ALLOW_PRIVATE_TARGETS (where http steps may go).
// Runs are driven in process (internal/orchestrator/local) and every
// unfinished run is resumed at start.
package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	schedlocal "github.com/workflowsapi/workflows/internal/schedules/local"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
	"github.com/workflowsapi/workflows/internal/signaltoken/kmsmac"
	"github.com/workflowsapi/workflows/internal/store"
)

func main() {
	logger := lambdaenv.NewLogger()
	if err := run(); err != nil {
		logger.Error("local gateway stopped", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := lambdaenv.NewLogger()
	localapp.TuneGC()

	cfg := store.ConfigFromEnvOrLocal()
	limits, err := ratelimit.ConfigFromEnv()
	if err != nil {
		return err
	}
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return err
	}
	// One command should be enough for a new user: make the table if needed,
	// with a client of its own that waits as long as a busy engine needs.
	setupCfg := cfg
	setupCfg.Budget = store.SetupBudget
	setupDB, err := store.NewClient(ctx, setupCfg)
	if err != nil {
		return err
	}
	if _, err := store.EnsureTable(ctx, setupDB, cfg.TableName); err != nil {
		return err
	}
	// Credentials and webhook secrets are sealed with a key-wrapping key
	// kept beside the data (made on first start, mode 0600), or with KMS
	// when KMS_KEY_ID is set.
	sealer, err := kmssealer.FromEnv(ctx, dataDir(os.Getenv))
	if err != nil {
		return err
	}
	// wait_for_signal steps' tokens are HMACs under a signal key kept
	// beside the data too (or KMS's, when SIGNAL_KEY_ID is set): a token
	// shown before a restart still signals after it.
	signalMAC, err := kmsmac.FromEnv(ctx, dataDir(os.Getenv))
	if err != nil {
		return err
	}
	app := lambdaapp.New(db, cfg.TableName, limits, logger)
	// Runs are driven in process by the runner under the local driver (Step
	// Functions' part in AWS). Every run left unfinished by the last stop
	// (or crash) is picked up again: nothing is lost across a restart.
	driver, err := localapp.Driver(app, localapp.Deps{Sealer: sealer, SignalMAC: signalMAC})
	if err != nil {
		return err
	}
	defer func() {
		// In-flight steps get a few seconds to finish; one cut off is
		// retried at the next start.
		grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = driver.Shutdown(grace)
	}()
	// Schedules fire in process, as EventBridge Scheduler fires them in AWS:
	// each firing starts its run as the scheduled-run function would.
	fire, err := localapp.FireScheduled(app, localapp.Deps{Sealer: sealer, Orchestrator: driver})
	if err != nil {
		return err
	}
	scheduler := schedlocal.New(fire, logger, nil)
	gateway, err := localapp.Gateway(app, localapp.Deps{Sealer: sealer, Orchestrator: driver, Scheduler: scheduler, SignalMAC: signalMAC})
	if err != nil {
		return err
	}
	resumed, err := localapp.ResumeRuns(ctx, app, driver)
	if err != nil {
		return err
	}
	if resumed > 0 {
		logger.Info("resumed unfinished runs", "runs", resumed)
	}
	// The scheduler starts empty: load every schedule workflow stored.
	synced, err := localapp.SyncSchedules(ctx, app, localapp.Deps{Scheduler: scheduler})
	if err != nil {
		return err
	}
	for _, failed := range synced.Failed {
		logger.Error("schedule not loaded", "error", failed)
	}
	logger.Info("schedules loaded", "schedules", synced.Put)
	go scheduler.Run(ctx)
	host, port := listenAddress(os.Getenv)
	server := &http.Server{
		Addr:    net.JoinHostPort(host, port),
		Handler: gateway,
		// A slow or stalled client cannot hold a connection open for ever:
		// headers within 10 s, the whole request (256 KiB at most is read)
		// within 30 s, and the answer within the functions' own bound.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	origin := "http://" + net.JoinHostPort(displayHost(host), port)
	logger.Info("Workflows API listening", "url", origin+routes.BasePath, "console", origin+routes.ConsolePath, "dynamodb", cfg.Endpoint, "table", cfg.TableName)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// dataDir is where local state other than the engine's lives: DATA_DIR, or
// .data under the working directory (make dev runs from the repository).
func dataDir(getenv func(string) string) string {
	if dir := getenv("DATA_DIR"); dir != "" {
		return dir
	}
	return ".data"
}

// displayHost is how the listening address is shown: the loopback address as
// localhost, the name the authentication page's examples use.
func displayHost(host string) string {
	if host == "127.0.0.1" || host == "::1" {
		return "localhost"
	}
	return host
}

// listenAddress reads HOST and PORT. Loopback unless told otherwise: a
// development server with a table of keys is not for the network the
// laptop is on.
func listenAddress(getenv func(string) string) (host, port string) {
	host, port = getenv("HOST"), getenv("PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3000"
	}
	return host, port
}
