package kmsmac

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/workflowsapi/workflows/internal/awskms"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// EnvKeyID names the variable holding the signal key's ARN. The stack gives
// it to exactly the functions granted kms:GenerateMac on that key
// (routes.Function.SignalKeyActions).
const EnvKeyID = "SIGNAL_KEY_ID"

// EnvKMSEndpoint is the KMS endpoint the functions use when it is set (moto
// in tests, under sam local); internal/secrets/kmssealer reads the same
// variable.
const EnvKMSEndpoint = "KMS_ENDPOINT"

// FromEnv is the signaltoken.MAC the environment asks for. With
// SIGNAL_KEY_ID set it is KMS GenerateMac under that key, at KMS_ENDPOINT if
// set, else where awskms.Endpoint resolves KMS (which honours
// AWS_ENDPOINT_URL_KMS). Without it, it is the local key under localDir
// (signaltoken.NewLocal; the local gateway passes its data directory); an
// empty localDir is then an error, so a deployed function missing
// SIGNAL_KEY_ID fails at start instead of making tokens under a key on a
// Lambda's disk that the next instance would not share.
func FromEnv(ctx context.Context, localDir string) (signaltoken.MAC, error) {
	keyID := os.Getenv(EnvKeyID)
	if keyID == "" {
		if localDir == "" {
			return nil, errors.New("signaltoken: " + EnvKeyID + " is not set and no local key directory was given")
		}
		return signaltoken.NewLocal(localDir)
	}
	client, err := awskms.FromEnv(ctx, os.Getenv(EnvKMSEndpoint))
	if err != nil {
		return nil, fmt.Errorf("signaltoken: %w", err)
	}
	return NewKMS(client, keyID), nil
}
