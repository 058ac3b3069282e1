// Package lambdaapp is what every function's main shares: it reads the
// Lambda environment once per process (outside the handler, so a warm Lambda
// reuses its clients), and puts a feature's handler behind the request
// pipeline as a Lambda handler. It links no feature: each main wires its own.
package lambdaapp

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

// App is one process's clients and settings.
type App struct {
	Logger    *slog.Logger
	DB        *dynamodb.Client
	TableName string
	Limits    ratelimit.Config
	// LimiterClock is the limiter's clock; nil means the wall clock. Tests
	// fix it to cross window boundaries without waiting.
	LimiterClock func() time.Time
}

// NewLogger returns the JSON logger every process uses, at the level
// LOG_LEVEL names (debug, info, warn, error), else the one Lambda's advanced
// logging controls set (AWS_LAMBDA_LOG_LEVEL), else info.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: LogLevel()}))
}

// LogLevel reads the log level from the environment; an unknown name is
// info, so a typo never silences errors.
func LogLevel() slog.Level {
	for _, name := range []string{"LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"} {
		var level slog.Level
		if raw := os.Getenv(name); raw != "" && level.UnmarshalText([]byte(strings.ToUpper(raw))) == nil {
			return level
		}
	}
	return slog.LevelInfo
}

// New returns an App on a DynamoDB client and table.
func New(db *dynamodb.Client, table string, limits ratelimit.Config, logger *slog.Logger) *App {
	return &App{Logger: logger, DB: db, TableName: table, Limits: limits}
}

// Load builds the App from the Lambda environment (TABLE_NAME,
// DYNAMODB_ENDPOINT, RATE_LIMIT_*).
func Load(ctx context.Context) (*App, error) {
	cfg, err := store.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	limits, err := ratelimit.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(db, cfg.TableName, limits, NewLogger()), nil
}

// MustLoad is Load for a main: a function that cannot start logs why and
// exits, and Lambda reports the failed init.
func MustLoad() *App {
	app, err := Load(context.Background())
	if err != nil {
		NewLogger().Error("cannot start", "error", err)
		os.Exit(1)
	}
	return app
}

// Pipeline returns the request pipeline's dependencies: the limiter on its
// DynamoDB counters and the lastUsedAt recorder.
func (a *App) Pipeline() httpapi.Deps {
	return httpapi.Deps{
		Limiter: ratelimit.New(pipelinedb.NewRateCounter(a.DB, a.TableName), a.Limits, a.LimiterClock, a.Logger),
		Usage:   pipelinedb.NewKeyUsage(a.DB, a.TableName),
		Logger:  a.Logger,
	}
}

// Route puts feature, the handler of route, behind the pipeline, as the
// Lambda handler of the route's function.
func (a *App) Route(route *routes.Route, feature http.Handler) httpapi.LambdaHandler {
	return httpapi.Lambda(httpapi.Handler(route, feature, a.Pipeline()))
}

// StartRoute runs route's function as a Lambda, with feature as its
// handler. Each of events, if any, wraps the Lambda handler, outermost
// last: a check of the proxy event itself, before the adapter turns it
// into a request (receive.OneSignatureEvent).
func (a *App) StartRoute(route *routes.Route, feature http.Handler, events ...func(httpapi.LambdaHandler) httpapi.LambdaHandler) {
	handler := a.Route(route, feature)
	for _, wrap := range events {
		handler = wrap(handler)
	}
	lambda.Start(handler)
}

// Must is for a main's other start-up steps (a feature's sealer, a client):
// a function that cannot start logs why and exits, as MustLoad does.
func Must[T any](value T, err error) T {
	if err != nil {
		NewLogger().Error("cannot start", "error", err)
		os.Exit(1)
	}
	return value
}
