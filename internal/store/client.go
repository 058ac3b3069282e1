// Package store is what every DynamoDB adapter shares: the client, the
// table's definition and indexes, and every key builder beside its access
// patterns (keys.go). It imports no feature. Each feature's adapter is its
// own small package on top (store/keysdb, ...), and the shared request
// pipeline's writes (rate counters, lastUsedAt) are in store/pipelinedb, so
// linking the store never links another feature.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/awsconfig"
)

// Local defaults: what `make dev` runs, and what wfctl talks to when no
// DynamoDB setting is in its environment.
const (
	LocalEndpoint  = "http://localhost:8000"
	LocalTableName = "workflows-local"
)

// Config says which DynamoDB to talk to.
type Config struct {
	// Endpoint overrides the DynamoDB endpoint (dynalite, sam local). Empty
	// means the SDK's own resolution, which honours AWS_ENDPOINT_URL_DYNAMODB.
	Endpoint  string
	TableName string
	// Budget bounds every call; zero fields take DefaultBudget's. Only tests
	// set it (to make a hung call end in milliseconds, or to give a
	// deliberately overloaded local engine more room).
	Budget Budget
}

// Budget bounds the time and the attempts of every DynamoDB call.
type Budget = awsbudget.Budget

// DefaultBudget is every client's unless Config says otherwise. It is sized
// for the Lambda timeouts: one call gives up after 4 s, inside the
// authorizer's 5 s, so the authorizer can still answer 503 when DynamoDB
// hangs, and a route function (10 s) can make its limiter call and a failing
// call of its own and still answer. DynamoDB answers in milliseconds, so 2 s
// per attempt only ever cuts a connection that hangs; the local engine
// under a test's deliberate burst of hundreds of concurrent calls, on a
// loaded two-core machine, has been seen to take 1.5 s. Three attempts with
// back-offs of at most 50 and 100 ms replace the SDK's default for DynamoDB
// (four attempts, and back-offs of up to 1, 2 and 4 s on throttling) which
// could keep one call waiting for up to 7 s.
var DefaultBudget = Budget{Call: 4 * time.Second, Attempt: 2 * time.Second, MaxAttempts: 3}

// SetupBudget is for the one call sequence that is not a request: making
// or checking the table when a local gateway or `wfctl setup` starts
// (EnsureTable). Nobody waits on it but the person starting the program, and
// a local engine busy with other work (a test suite's hundreds of calls at
// once, on two cores) has been seen to take over 4 s to answer a
// CreateTable, which failed the local gateway's start under the deployed
// budget.
var SetupBudget = Budget{Call: 20 * time.Second, Attempt: 10 * time.Second, MaxAttempts: 3}

// ConfigFromEnv reads DYNAMODB_ENDPOINT and TABLE_NAME, the environment the
// Lambdas get. TABLE_NAME is required.
func ConfigFromEnv() (Config, error) {
	cfg := Config{Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: os.Getenv("TABLE_NAME")}
	if cfg.TableName == "" {
		return Config{}, errors.New("store: TABLE_NAME is not set")
	}
	return cfg, nil
}

// ConfigFromEnvOrLocal is ConfigFromEnv for operator tools: with none of
// DYNAMODB_ENDPOINT, AWS_ENDPOINT_URL_DYNAMODB and TABLE_NAME set, it means the
// local engine that `make dev` starts.
func ConfigFromEnvOrLocal() Config {
	cfg := Config{Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), TableName: os.Getenv("TABLE_NAME")}
	if cfg.Endpoint == "" && cfg.TableName == "" && os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		cfg.Endpoint = LocalEndpoint
	}
	if cfg.TableName == "" {
		cfg.TableName = LocalTableName
	}
	return cfg
}

// NewClient builds a DynamoDB client for cfg, with cfg's Budget on every
// call. optFns are applied last (tests use them to count calls). Against a
// custom endpoint with no credentials in the environment it signs with fixed
// local credentials, which the local engines accept, so `make dev` needs no
// AWS account.
func NewClient(ctx context.Context, cfg Config, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	awsCfg, err := awsconfig.Load(ctx, cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	opts := []func(*dynamodb.Options){withBudget(cfg.Budget.Or(DefaultBudget)), keepConnections}
	if cfg.Endpoint != "" {
		opts = append(opts, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	return dynamodb.NewFromConfig(awsCfg, append(opts, optFns...)...), nil
}

// idleConnections is how many idle connections to DynamoDB a client keeps.
// The SDK's HTTP client keeps 10 per host, so more calls at once than that
// (a fan-out step's items, the local gateway's concurrent requests) close
// their connections after each call and open new ones: a TLS handshake to
// DynamoDB in AWS, and locally a connection accepted by dynalite for every
// call beyond the tenth (docs/performance.md, issue 17).
const idleConnections = 100

// keepConnections gives a client's HTTP transport idleConnections per host.
func keepConnections(o *dynamodb.Options) {
	o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = idleConnections
		t.MaxIdleConnsPerHost = idleConnections
	})
}

// withBudget sets b on a client's options.
func withBudget(b Budget) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.Retryer = b.Retryer()
		o.RetryMaxAttempts = b.MaxAttempts
		o.APIOptions = append(o.APIOptions, b.Deadlines)
	}
}

// throttleCodes are DynamoDB's answers to too much traffic: on an item or
// partition (ProvisionedThroughputExceededException, ThrottlingException) or
// on the account (RequestLimitExceeded).
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
}

// IsThrottled reports whether DynamoDB refused a call because of too much
// traffic.
func IsThrottled(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()]
}

// NoThrottleRetries is a per-call option: a throttled call is not retried, it
// fails at once with the throttling error. For a write whose item is hot
// because a caller is hammering it (a rate counter), each retry would only
// add to the load, and the caller is better told to wait.
func NoThrottleRetries(o *dynamodb.Options) {
	if o.Retryer != nil {
		o.Retryer = throttleIsFinal{o.Retryer}
	}
}

type throttleIsFinal struct{ aws.Retryer }

func (r throttleIsFinal) IsErrorRetryable(err error) bool {
	return !IsThrottled(err) && r.Retryer.IsErrorRetryable(err)
}

// GetAttemptToken keeps the wrapped retryer's attempt accounting.
func (r throttleIsFinal) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.Retryer.GetInitialToken(), nil
}
