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
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Local defaults: what `make dev` runs, and what wfctl talks to when no
// DynamoDB setting is in its environment.
const (
	LocalEndpoint  = "http://localhost:8000"
	LocalTableName = "workflows-local"
	localRegion    = "us-east-1"
)

// Config says which DynamoDB to talk to.
type Config struct {
	// Endpoint overrides the DynamoDB endpoint (dynalite, sam local). Empty
	// means the SDK's own resolution, which honours AWS_ENDPOINT_URL_DYNAMODB.
	Endpoint  string
	TableName string
}

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

// NewClient builds a DynamoDB client for cfg. optFns are applied last (tests
// use them to count calls). Against a custom endpoint with no credentials in
// the environment it signs with fixed local credentials, which the local
// engines accept, so `make dev` needs no AWS account.
func NewClient(ctx context.Context, cfg Config, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if cfg.Endpoint != "" {
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			loadOpts = append(loadOpts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			loadOpts = append(loadOpts, config.WithRegion(localRegion))
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("store: load AWS config: %w", err)
	}
	opts := []func(*dynamodb.Options){}
	if cfg.Endpoint != "" {
		opts = append(opts, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	return dynamodb.NewFromConfig(awsCfg, append(opts, optFns...)...), nil
}
