package awsconfig_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/workflowsapi/workflows/internal/awsconfig"
)

// clearEnv unsets every variable FromEnvironment reads, for the test.
func clearEnv(t *testing.T) {
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY",
		"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(name, "")
	}
}

func TestFromEnvironmentReadsLambdasVariables(t *testing.T) {
	clearEnv(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_DEFAULT_REGION", "us-west-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	cfg, err := awsconfig.FromEnvironment(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q, want AWS_REGION's over AWS_DEFAULT_REGION's", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials %q/%q/%q, want the environment's", creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	}
}

func TestFromEnvironmentTakesTheOlderNames(t *testing.T) {
	clearEnv(t)
	t.Setenv("AWS_DEFAULT_REGION", "us-west-2")
	t.Setenv("AWS_ACCESS_KEY", "AKIAOLD")
	t.Setenv("AWS_SECRET_KEY", "old")
	cfg, err := awsconfig.FromEnvironment(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	if cfg.Region != "us-west-2" || creds.AccessKeyID != "AKIAOLD" || creds.SecretAccessKey != "old" {
		t.Errorf("region %q, key %q/%q; want AWS_DEFAULT_REGION's and AWS_ACCESS_KEY's", cfg.Region, creds.AccessKeyID, creds.SecretAccessKey)
	}
}

func TestFromEnvironmentAgainstALocalEndpointFallsBackToLocalOnes(t *testing.T) {
	clearEnv(t)
	cfg, err := awsconfig.FromEnvironment(context.Background(), "http://127.0.0.1:8000")
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	if cfg.Region != awsconfig.LocalRegion || creds.AccessKeyID != "local" || creds.SessionToken != "" {
		t.Errorf("region %q, key %q; want the local ones", cfg.Region, creds.AccessKeyID)
	}
	// Half a pair is no pair: the local one, not a key without its secret.
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	cfg, _ = awsconfig.FromEnvironment(context.Background(), "http://127.0.0.1:8000")
	if creds, _ := cfg.Credentials.Retrieve(context.Background()); creds.AccessKeyID != "local" {
		t.Errorf("key %q with no secret set, want the local pair", creds.AccessKeyID)
	}
}

func TestFromEnvironmentAgainstAWSNeedsCredentialsAndARegion(t *testing.T) {
	clearEnv(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	if _, err := awsconfig.FromEnvironment(context.Background(), ""); !errors.Is(err, awsconfig.ErrNoCredentials) {
		t.Errorf("no credentials: %v, want ErrNoCredentials", err)
	}
	clearEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	if _, err := awsconfig.FromEnvironment(context.Background(), ""); err == nil {
		t.Error("no region: no error")
	}
}

func TestLoadIsTheEnvironmentsUnlessAToolReplacesIt(t *testing.T) {
	clearEnv(t)
	if _, err := awsconfig.Load(context.Background(), ""); !errors.Is(err, awsconfig.ErrNoCredentials) {
		t.Errorf("Load without defaultchain linked: %v, want FromEnvironment's ErrNoCredentials", err)
	}
}

// A client pointed elsewhere by the SDK's own endpoint variables goes there,
// as the default chain sends it: a test's moto or a local engine must
// never be swapped for AWS itself (a lookup of kms.us-east-1.amazonaws.com
// is traffic off the machine).
func TestFromEnvironmentHonoursTheSDKsEndpointVariables(t *testing.T) {
	clearEnv(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4566")
	endpoints := func() (kmsEndpoint, dynamoEndpoint string) {
		t.Helper()
		cfg, err := awsconfig.FromEnvironment(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(kms.NewFromConfig(cfg).Options().BaseEndpoint), aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint)
	}
	if k, d := endpoints(); k != "http://127.0.0.1:4566" || d != "" {
		t.Errorf("KMS at %q, DynamoDB at %q; want AWS_ENDPOINT_URL_KMS's for KMS only", k, d)
	}
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
	if k, _ := endpoints(); k != "" {
		t.Errorf("with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, KMS at %q, want the default", k)
	}
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4567")
	if k, d := endpoints(); k != "http://127.0.0.1:4566" || d != "http://127.0.0.1:4567" {
		t.Errorf("KMS at %q, DynamoDB at %q; want KMS's own and AWS_ENDPOINT_URL for the rest", k, d)
	}
}
