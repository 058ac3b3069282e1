// Package lambdaapp wires the API's pieces from the environment, once per
// process (outside the handler, so a warm Lambda reuses its clients). The
// mains under functions/ and the local gateway both start here.
package lambdaapp

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
)

// Services are the process-wide dependencies.
type Services struct {
	Logger  *slog.Logger
	Keys    *store.APIKeys
	Limiter *ratelimit.Limiter
}

// NewLogger returns the JSON logger every process uses.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// NewServices builds the services on a DynamoDB client and table.
func NewServices(db *dynamodb.Client, table string, limits ratelimit.Config, logger *slog.Logger) *Services {
	return &Services{
		Logger:  logger,
		Keys:    store.NewAPIKeys(db, table),
		Limiter: ratelimit.New(store.NewRateCounter(db, table), limits, nil, logger),
	}
}

// ServicesFromEnv builds the services from the Lambda environment
// (TABLE_NAME, DYNAMODB_ENDPOINT, RATE_LIMIT_*).
func ServicesFromEnv(ctx context.Context) (*Services, error) {
	logger := NewLogger()
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
	return NewServices(db, cfg.TableName, limits, logger), nil
}

// RouteHandler returns the Lambda handler of the route served by function.
func (s *Services) RouteHandler(function string) (httpapi.LambdaHandler, error) {
	route, ok := routes.ByFunction(function)
	if !ok {
		return nil, fmt.Errorf("lambdaapp: no route is served by function %q", function)
	}
	deps := httpapi.Deps{Keys: s.Keys, Limiter: s.Limiter, Logger: s.Logger}
	return httpapi.Lambda(httpapi.Handler(route, deps)), nil
}

// Authorizer returns the key authorizer.
func (s *Services) Authorizer() *authorizer.Authorizer {
	return authorizer.New(s.Keys, nil, s.Logger)
}

// StartRoute runs the named route function as a Lambda.
func StartRoute(function string) {
	services := mustServices()
	handler, err := services.RouteHandler(function)
	if err != nil {
		fail(err)
	}
	lambda.Start(handler)
}

// StartAuthorizer runs the REQUEST authorizer as a Lambda.
func StartAuthorizer() {
	lambda.Start(mustServices().Authorizer().Handle)
}

func mustServices() *Services {
	services, err := ServicesFromEnv(context.Background())
	if err != nil {
		fail(err)
	}
	return services
}

func fail(err error) {
	NewLogger().Error("cannot start", "error", err)
	os.Exit(1)
}
