// Package defaultchain gives a tool run by a person the SDK's whole default
// configuration chain (shared config and credentials files, AWS_PROFILE,
// SSO, web identity, IMDS) in place of awsconfig's environment-only one. A
// tool imports it for its effect:
//
//	import _ "github.com/workflowsapi/workflows/internal/awsconfig/defaultchain"
//
// No Lambda function imports it (functions/links_test.go holds them to
// that): the chain is about 1.9 MiB of code a function never runs.
package defaultchain

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/workflowsapi/workflows/internal/awsconfig"
)

func init() { awsconfig.UseLoader(Load) }

// Load is config.LoadDefaultConfig, with the local credentials and region
// against a custom endpoint when the environment names none (as
// awsconfig.FromEnvironment has them).
func Load(ctx context.Context, endpoint string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if endpoint != "" {
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(awsconfig.LocalRegion))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS config: %w", err)
	}
	return cfg, nil
}
