// Package lambdaenv reads what every function needs from the Lambda
// environment, once per process (outside the handler, so a warm Lambda
// reuses its clients): the logger, the DynamoDB client and the table. It
// links no feature and no request pipeline: the runner, the start check,
// scheduled-run and the authorizer use it alone, and lambdaapp puts the
// route pipeline (limiter, usage, proxy adapter) on top of it for the
// routes.
package lambdaenv

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/store"
)

// Env is one process's logger, DynamoDB client and table: what each
// feature's wire package builds a function from, in Lambda and in the
// local gateway alike.
type Env struct {
	Logger    *slog.Logger
	DB        *dynamodb.Client
	TableName string
}

// New returns an Env on a DynamoDB client and table.
func New(db *dynamodb.Client, table string, logger *slog.Logger) *Env {
	return &Env{Logger: logger, DB: db, TableName: table}
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

// Load builds the Env from the Lambda environment (TABLE_NAME,
// DYNAMODB_ENDPOINT).
func Load(ctx context.Context) (*Env, error) {
	cfg, err := store.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	db, err := store.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(db, cfg.TableName, NewLogger()), nil
}

// MustLoad is Load for a main: a function that cannot start logs why and
// exits, and Lambda reports the failed init.
func MustLoad() *Env { return Must(Load(context.Background())) }

// Must is for a main's start-up steps (a feature's sealer, a client, the
// function itself): a function that cannot start logs why and exits.
func Must[T any](value T, err error) T {
	if err != nil {
		NewLogger().Error("cannot start", "error", err)
		os.Exit(1)
	}
	return value
}
