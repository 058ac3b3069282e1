package sfn

import (
	"context"
	"errors"
	"fmt"
	"github.com/workflowsapi/workflows/internal/awsconfig"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// The environment FromEnv reads. The stack gives STATE_MACHINE_ARN to
// exactly the functions whose ServiceActions include a states: action;
// SFN_ENDPOINT is set only in tests and local tools (moto's server).
const (
	EnvStateMachineARN = "STATE_MACHINE_ARN"
	// EnvExpressStateMachineARN is the Express machine's, given with
	// STATE_MACHINE_ARN to the functions that start runs.
	EnvExpressStateMachineARN = "EXPRESS_STATE_MACHINE_ARN"
	EnvEndpoint               = "SFN_ENDPOINT"
)

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
	if express := os.Getenv(EnvExpressStateMachineARN); express != "" {
		if _, err := executionPrefix(express); err != nil {
			return nil, fmt.Errorf("sfn: %s: %w", EnvExpressStateMachineARN, err)
		}
		opts = append([]Option{WithExpress(express)}, opts...)
	}
	return New(client, arn, opts...), nil
}

// NewClient builds a Step Functions client from the environment, at endpoint
// if it is not empty. Against a custom endpoint with no credentials or region
// in the environment it uses fixed local ones, which moto accepts.
func NewClient(ctx context.Context, endpoint string, optFns ...func(*awssfn.Options)) (*awssfn.Client, error) {
	awsCfg, err := awsconfig.Load(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("sfn: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*awssfn.Options){func(o *awssfn.Options) { o.BaseEndpoint = aws.String(endpoint) }}, optFns...)
	}
	return awssfn.NewFromConfig(awsCfg, optFns...), nil
}
