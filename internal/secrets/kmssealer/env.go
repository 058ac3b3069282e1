package kmssealer

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/workflowsapi/workflows/internal/awsconfig"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// FromEnv is the secrets.Sealer the environment asks for. With KMS_KEY_ID
// set (what the stack gives the functions that seal or open) it is KMS under
// that key, at KMS_ENDPOINT if set (moto in tests), else wherever the SDK
// resolves KMS, which honours AWS_ENDPOINT_URL_KMS. Without it, it is the
// local key under localDir (secrets.NewLocal; the local gateway passes
// .data/); an empty localDir is then an error, so a deployed function missing
// KMS_KEY_ID fails at start instead of sealing with a key on a Lambda's disk.
func FromEnv(ctx context.Context, localDir string) (secrets.Sealer, error) {
	keyID := os.Getenv("KMS_KEY_ID")
	if keyID == "" {
		if localDir == "" {
			return nil, errors.New("secrets: KMS_KEY_ID is not set and no local key directory was given")
		}
		return secrets.NewLocal(localDir)
	}
	client, err := NewKMSClient(ctx, os.Getenv("KMS_ENDPOINT"))
	if err != nil {
		return nil, err
	}
	return NewKMS(client, keyID), nil
}

// NewKMSClient builds a KMS client from the environment, at endpoint if it is
// not empty. Against a custom endpoint with no credentials or region in the
// environment it uses fixed local ones, which moto accepts.
func NewKMSClient(ctx context.Context, endpoint string, optFns ...func(*kms.Options)) (*kms.Client, error) {
	awsCfg, err := awsconfig.Load(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*kms.Options){func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint) }}, optFns...)
	}
	return kms.NewFromConfig(awsCfg, optFns...), nil
}
