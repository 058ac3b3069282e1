// Package kmsmac is the signaltoken.MAC in AWS: kms:GenerateMac under the
// API's signal key, and FromEnv, which picks it or the local MAC from the
// environment (and the variables it reads, EnvKeyID and EnvKMSEndpoint,
// which the stack sets).
//
// It is apart from internal/signaltoken because it links the KMS client
// (internal/awskms): the feature packages make and
// check tokens through a signaltoken.MAC and import only internal/signaltoken,
// so a function that never makes a token links no KMS client. Only the mains
// of the functions granted GenerateMac on the signal key
// (routes.Function.SignalKeyActions), the local gateway and infra (for
// EnvKeyID and EnvKMSEndpoint) import this package; functions/links_test.go
// holds every other function to it.
package kmsmac

import (
	"context"
	"fmt"

	"github.com/workflowsapi/workflows/internal/awskms"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// kmsMAC is the signaltoken.MAC in AWS: kms:GenerateMac (HMAC_SHA_256) under
// one KMS HMAC key. The key never leaves KMS, so only a role granted
// GenerateMac on it (the runner and the read routes that show a signalUrl)
// can make a token, and every use is in CloudTrail. It is safe for
// concurrent use.
type kmsMAC struct {
	client *awskms.Client
	keyID  string
}

// NewKMS makes tokens with GenerateMac under the KMS HMAC_256 key keyID (a
// key id, key ARN, alias name or alias ARN), within client's budget
// (awskms.DefaultBudget unless it was given another: 2 s for the whole call
// leaves a 10 s read route time for its limiter, its reads and one
// GenerateMac per waiting step).
func NewKMS(client *awskms.Client, keyID string) signaltoken.MAC {
	return &kmsMAC{client: client, keyID: keyID}
}

// Sum is one GenerateMac call.
func (k *kmsMAC) Sum(ctx context.Context, message []byte) ([]byte, error) {
	mac, err := k.client.GenerateMac(ctx, k.keyID, message)
	if err != nil {
		return nil, fmt.Errorf("signaltoken: %w", err)
	}
	return mac, nil
}
