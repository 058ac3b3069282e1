// Package awsconfig builds the AWS SDK configuration every client of the API
// shares (DynamoDB, KMS, Step Functions, EventBridge Scheduler).
//
// A function reads it from the environment Lambda gives it: the region in
// AWS_REGION and the execution role's credentials in AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. It does not link the SDK's
// config package, whose shared-file, SSO, STS web-identity, IMDS and process
// credential providers a Lambda never uses: they are about 1.9 MiB of every
// bootstrap and part of its start (docs/performance.md, issue 17).
//
// Against a custom endpoint (dynalite, moto, `sam local`) with no
// credentials or region in the environment it uses fixed local ones, which
// the local engines accept, so `make dev` and the tests need no AWS account.
//
// A tool run by a person (wfctl) may need the whole default chain (a
// profile, SSO): it imports awsconfig/defaultchain, which puts that chain in
// place of the environment's.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// LocalRegion is the region signed with against a local endpoint when the
// environment names none.
const LocalRegion = "us-east-1"

// Loader builds the configuration for a client that will call endpoint (""
// for AWS itself).
type Loader func(ctx context.Context, endpoint string) (aws.Config, error)

// loader is FromEnvironment unless a tool's import of awsconfig/defaultchain
// replaced it (UseLoader).
var loader Loader = FromEnvironment

// UseLoader makes Load use l. It is for awsconfig/defaultchain's init: a
// binary either links the default chain or does not, for its whole life.
func UseLoader(l Loader) { loader = l }

// Load returns the SDK configuration for a client that will call endpoint
// ("" for AWS itself).
func Load(ctx context.Context, endpoint string) (aws.Config, error) {
	return loader(ctx, endpoint)
}

// ErrNoCredentials is FromEnvironment's answer, against AWS itself, for an
// environment without credentials: a Lambda always has them, and a person's
// tool that needs a profile imports awsconfig/defaultchain.
var ErrNoCredentials = errors.New("awsconfig: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (a Lambda function has them; a tool that reads a profile links awsconfig/defaultchain)")

// FromEnvironment is the configuration of the environment variables alone,
// as the SDK's own environment provider reads them: the region from
// AWS_REGION (else AWS_DEFAULT_REGION), static credentials from
// AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY), AWS_SECRET_ACCESS_KEY (or
// AWS_SECRET_KEY) and AWS_SESSION_TOKEN. Lambda's credentials last as long
// as the execution environment, so they are read once. Against a custom
// endpoint, a missing region or missing credentials are the local ones.
func FromEnvironment(_ context.Context, endpoint string) (aws.Config, error) {
	region := firstSet("AWS_REGION", "AWS_DEFAULT_REGION")
	id, secret := firstSet("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), firstSet("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	token := os.Getenv("AWS_SESSION_TOKEN")
	if endpoint != "" {
		if region == "" {
			region = LocalRegion
		}
		if id == "" || secret == "" {
			id, secret, token = "local", "local", ""
		}
	}
	if id == "" || secret == "" {
		return aws.Config{}, ErrNoCredentials
	}
	if region == "" {
		return aws.Config{}, fmt.Errorf("awsconfig: AWS_REGION is not set")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, token)),
		// The SDK's endpoint variables, as its own environment source
		// reads them: a client sent elsewhere by AWS_ENDPOINT_URL_<SERVICE>
		// (the tests' moto, a local engine) must never fall back to AWS.
		ConfigSources: []any{endpointURLs{}},
	}
	if base := os.Getenv("AWS_ENDPOINT_URL"); base != "" && os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") != "true" {
		cfg.BaseEndpoint = aws.String(base)
	}
	return cfg, nil
}

// endpointURLs is the part of the SDK's environment config source that
// service clients ask for their base endpoint (the interfaces of
// aws-sdk-go-v2/internal/configsources, met by method set): each client
// looks up AWS_ENDPOINT_URL_<its SDK id, upper case, spaces as _>
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SFN),
// unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
type endpointURLs struct{}

// GetServiceBaseEndpoint is AWS_ENDPOINT_URL_<sdkID>, if set.
func (endpointURLs) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := os.Getenv(name); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetIgnoreConfiguredEndpoints is AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (endpointURLs) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	v := os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	return v == "true", v != "", nil
}

func firstSet(names ...string) string {
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return ""
}
