package kmssealer

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/workflowsapi/workflows/internal/awskms"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// FromEnv is the secrets.Sealer the environment asks for. With KMS_KEY_ID
// set (what the stack gives the functions that seal or open) it is KMS under
// that key, at KMS_ENDPOINT if set (moto in tests), else where awskms.Endpoint
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
	client, err := awskms.FromEnv(ctx, os.Getenv("KMS_ENDPOINT"))
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return NewKMS(client, keyID), nil
}
