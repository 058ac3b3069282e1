// Package lambdaapp is the route pipeline every route's function shares: on
// the process's Env (lambdaenv) it adds the rate limits, and puts a
// feature's handler behind the request pipeline (limiter, lastUsedAt,
// envelope, proxy adapter) as a Lambda handler. It links no feature: each
// feature's wire package builds the handler, and the main hands it here.
package lambdaapp

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

// App is one process's Env and the pipeline's settings.
type App struct {
	*lambdaenv.Env
	Limits ratelimit.Config
	// LimiterClock is the limiter's clock; nil means the wall clock. Tests
	// fix it to cross window boundaries without waiting.
	LimiterClock func() time.Time
}

// New returns an App on a DynamoDB client and table.
func New(db *dynamodb.Client, table string, limits ratelimit.Config, logger *slog.Logger) *App {
	return &App{Env: lambdaenv.New(db, table, logger), Limits: limits}
}

// Load builds the App from the Lambda environment (lambdaenv.Load's, and
// RATE_LIMIT_*).
func Load(ctx context.Context) (*App, error) {
	limits, err := ratelimit.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	env, err := lambdaenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &App{Env: env, Limits: limits}, nil
}

// MustLoad is Load for a main: a function that cannot start logs why and
// exits, and Lambda reports the failed init.
func MustLoad() *App { return lambdaenv.Must(Load(context.Background())) }

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
