// Package kmsmac is the signaltoken.MAC in AWS: kms:GenerateMac under the
// API's signal key, and FromEnv, which picks it or the local MAC from the
// environment (and the variables it reads, EnvKeyID and EnvKMSEndpoint,
// which the stack sets).
//
// It is apart from internal/signaltoken because it links the KMS client
// (github.com/aws/aws-sdk-go-v2/service/kms): the feature packages make and
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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// kmsMAC is the signaltoken.MAC in AWS: kms:GenerateMac (HMAC_SHA_256) under
// one KMS HMAC key. The key never leaves KMS, so only a role granted
// GenerateMac on it (the runner and the read routes that show a signalUrl)
// can make a token, and every use is in CloudTrail. It is safe for
// concurrent use.
type kmsMAC struct {
	client *kms.Client
	keyID  string
	budget awsbudget.Budget
}

// DefaultBudget is the KMS sealer's budget (kmssealer.DefaultBudget), for the
// same reasons: a KMS call answers in milliseconds, so 1 s per attempt only
// cuts a hung connection, and 2 s for the whole call leaves a 10 s read route
// time for its limiter, its reads and one GenerateMac per waiting step.
var DefaultBudget = awsbudget.Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

// NewKMS makes tokens with GenerateMac under the KMS HMAC_256 key keyID (a
// key id, key ARN, alias name or alias ARN). The MAC sets DefaultBudget on
// every call, whatever retry settings client was built with.
func NewKMS(client *kms.Client, keyID string) signaltoken.MAC {
	return &kmsMAC{client: client, keyID: keyID, budget: DefaultBudget}
}

// Sum is one GenerateMac call.
func (k *kmsMAC) Sum(ctx context.Context, message []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.budget.Call)
	defer cancel()
	out, err := k.client.GenerateMac(ctx, &kms.GenerateMacInput{
		KeyId:        aws.String(k.keyID),
		MacAlgorithm: types.MacAlgorithmSpecHmacSha256,
		Message:      message,
	}, func(o *kms.Options) {
		o.Retryer = k.budget.Retryer()
		o.RetryMaxAttempts = k.budget.MaxAttempts
		o.APIOptions = append(o.APIOptions, k.budget.Deadlines)
	})
	if err != nil {
		return nil, fmt.Errorf("signaltoken: KMS GenerateMac: %w", err)
	}
	return out.Mac, nil
}
