package sfn

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// The environment FromEnv reads. The stack gives STATE_MACHINE_ARN to
// exactly the functions whose ServiceActions include a states: action;
// SFN_ENDPOINT is set only in tests and local tools (moto's server).
const (
	EnvStateMachineARN = "STATE_MACHINE_ARN"
	EnvEndpoint        = "SFN_ENDPOINT"
)

// localRegion and the fixed credentials below are what a local Step
// Functions endpoint (moto) is signed with when the environment has none,
// as secrets.NewKMSClient does for KMS.
const localRegion = "us-east-1"

// FromEnv is the Orchestrator of STATE_MACHINE_ARN, at SFN_ENDPOINT if set,
// else wherever the SDK resolves Step Functions (which honours
// AWS_ENDPOINT_URL_SFN). It fails when STATE_MACHINE_ARN is unset or is no
// state machine ARN, so a function deployed without it fails at start-up,
// not at its first run.
func FromEnv(ctx context.Context, opts ...Option) (*Orchestrator, error) {
	arn := os.Getenv(EnvStateMachineARN)
	if arn == "" {
		return nil, errors.New("sfn: " + EnvStateMachineARN + " is not set")
	}
	if _, err := executionPrefix(arn); err != nil {
		return nil, fmt.Errorf("sfn: %s: %w", EnvStateMachineARN, err)
	}
	client, err := NewClient(ctx, os.Getenv(EnvEndpoint))
	if err != nil {
		return nil, err
	}
	return New(client, arn, opts...), nil
}

// NewClient builds a Step Functions client from the environment, at endpoint
// if it is not empty. Against a custom endpoint with no credentials or region
// in the environment it uses fixed local ones, which moto accepts.
func NewClient(ctx context.Context, endpoint string, optFns ...func(*awssfn.Options)) (*awssfn.Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if endpoint != "" {
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			loadOpts = append(loadOpts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			loadOpts = append(loadOpts, config.WithRegion(localRegion))
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("sfn: load AWS config: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*awssfn.Options){func(o *awssfn.Options) { o.BaseEndpoint = aws.String(endpoint) }}, optFns...)
	}
	return awssfn.NewFromConfig(awsCfg, optFns...), nil
}
