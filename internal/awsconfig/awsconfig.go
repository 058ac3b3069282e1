// Package awsconfig loads the AWS SDK configuration every client of the API
// shares (DynamoDB, KMS, Step Functions, EventBridge Scheduler). Against a
// custom endpoint (dynalite, moto, `sam local`) with no credentials or region
// in the environment it uses fixed local ones, which the local engines
// accept, so `make dev` and the tests need no AWS account; against AWS it is
// the SDK's own default chain.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// LocalRegion is the region signed with against a local endpoint when the
// environment names none.
const LocalRegion = "us-east-1"

// Load returns the SDK configuration for a client that will call endpoint
// ("" for AWS itself).
func Load(ctx context.Context, endpoint string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(LocalRegion))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS config: %w", err)
	}
	return cfg, nil
}
