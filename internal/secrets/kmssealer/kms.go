// Package kmssealer is the secrets.Sealer in AWS: envelope encryption whose
// data keys come from KMS (GenerateDataKey, Decrypt), and FromEnv, which
// picks it or the local sealer from the environment.
//
// It is apart from internal/secrets because it links the KMS client
// (github.com/aws/aws-sdk-go-v2/service/kms): the feature packages take a
// secrets.Sealer and import only internal/secrets, so a function that never
// seals or opens a secret (a read route) links no KMS client. Only the mains
// of the functions granted KMS actions on the key
// (routes.Function.KeyActions) and the local gateway import this package;
// functions/links_test.go holds every other function to it.
package kmssealer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// KMS is the secrets.Sealer in AWS: each secret's data key comes from KMS
// GenerateDataKey under one KMS key, with the encryption context, and is
// unwrapped by KMS Decrypt with the same context. So the key never leaves
// KMS, every unwrap is in CloudTrail with its context, and only functions
// granted kms:Decrypt on the key can open anything. It is safe for
// concurrent use.
type KMS struct {
	client *kms.Client
	keyID  string
	budget Budget
}

// Budget bounds the time and the attempts of every KMS call.
type Budget = awsbudget.Budget

// DefaultBudget is in the spirit of store.DefaultBudget, for KMS: KMS
// answers in milliseconds (tens with a cold TLS handshake), so 1 s per
// attempt only ever cuts a connection that hangs, and one call gives up after
// 2 s. A 10 s route function can then make its limiter call (4 s at worst),
// one KMS call and its own DynamoDB write and still answer. Three attempts
// with back-offs of at most 50 and 100 ms replace the SDK's default (three
// attempts with back-offs of up to 20 s), which could hold a call past the
// Lambda's timeout; the third attempt only happens when the first two failed
// fast (a refused connection, a 5xx, throttling).
var DefaultBudget = Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

// KMSOption changes a KMS sealer.
type KMSOption func(*KMS)

// WithBudget replaces DefaultBudget; zero fields keep its values. Tests use
// it to see a hung KMS fail in milliseconds.
func WithBudget(b Budget) KMSOption {
	return func(k *KMS) { k.budget = b.Or(DefaultBudget) }
}

// NewKMS seals under the KMS key keyID (a key id, key ARN, alias name or
// alias ARN). The sealer sets its own Budget on every call, whatever retry
// settings client was built with.
func NewKMS(client *kms.Client, keyID string, opts ...KMSOption) *KMS {
	k := &KMS{client: client, keyID: keyID, budget: DefaultBudget}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Seal encrypts plaintext under a fresh data key from KMS: one
// GenerateDataKey call.
func (k *KMS) Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) (secrets.Sealed, error) {
	return secrets.SealWith(ctx, (*kmsWrapper)(k), plaintext, encCtx)
}

// Open decrypts what a KMS sealer sealed with the same context: one Decrypt
// call, and none for a value that is malformed or was sealed locally.
func (k *KMS) Open(ctx context.Context, s secrets.Sealed, encCtx map[string]string) ([]byte, error) {
	return secrets.OpenWith(ctx, (*kmsWrapper)(k), s, encCtx)
}

// kmsWrapper is KMS as the secrets.KeyWrapper of its envelope: NewDataKey
// and Unwrap hand out raw data keys, so they are methods of this unexported
// type and not of KMS.
type kmsWrapper KMS

// NewDataKey is one GenerateDataKey call under the sealer's key, bound to
// the context.
func (k *kmsWrapper) NewDataKey(ctx context.Context, encCtx map[string]string) (key, wrapped []byte, keyID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, k.budget.Call)
	defer cancel()
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encCtx,
	}, withBudget(k.budget))
	if err != nil {
		return nil, nil, "", fmt.Errorf("secrets: KMS GenerateDataKey: %w", err)
	}
	if len(out.Plaintext) != secrets.DataKeySize || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, "", fmt.Errorf("secrets: KMS GenerateDataKey returned no %d-byte data key", secrets.DataKeySize)
	}
	return out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), nil
}

// Unwrap is one Decrypt call naming the sealer's key, bound to the context;
// none for a value sealed locally.
func (k *kmsWrapper) Unwrap(ctx context.Context, s secrets.Sealed, encCtx map[string]string) ([]byte, error) {
	if s.KeyID == "" || strings.HasPrefix(s.KeyID, secrets.LocalKeyIDPrefix) {
		// Sealed locally (or not by a sealer at all): KMS could not open it.
		return nil, secrets.ErrOpen
	}
	ctx, cancel := context.WithTimeout(ctx, k.budget.Call)
	defer cancel()
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    s.WrappedKey,
		EncryptionContext: encCtx,
		// Naming the key makes KMS refuse a blob of any other key, even one
		// this function may also decrypt with (AWS's advice for Decrypt).
		KeyId: aws.String(k.keyID),
	}, withBudget(k.budget))
	if err != nil {
		if refusesThisBlob(err) {
			// The same ErrOpen as a local sealer gives, so callers test for
			// one error; KMS's own error stays in the chain for the log.
			return nil, fmt.Errorf("%w: %w", secrets.ErrOpen, err)
		}
		return nil, fmt.Errorf("secrets: KMS Decrypt: %w", err)
	}
	if len(out.Plaintext) != secrets.DataKeySize {
		clear(out.Plaintext)
		return nil, secrets.ErrOpen
	}
	return out.Plaintext, nil
}

// refusesThisBlob reports whether KMS refused to unwrap this particular
// blob, for good: a wrong context or a changed blob (InvalidCiphertext), a
// blob of another key than the one named (IncorrectKey), or a blob naming a
// key this caller may not use (AccessDenied; moto's answer for a blob of
// another key too). Retrying cannot help with any of them, unlike a timeout,
// throttling or a 5xx, which stay errors of their own.
func refusesThisBlob(err error) bool {
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	var apiErr smithy.APIError
	return errors.As(err, &invalid) || errors.As(err, &incorrect) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException")
}

// withBudget is a per-call option that puts b on one KMS call: the bounded
// retryer and the call and attempt deadlines, whatever the client was built
// with.
func withBudget(b Budget) func(*kms.Options) {
	return func(o *kms.Options) {
		o.Retryer = b.Retryer()
		o.RetryMaxAttempts = b.MaxAttempts
		o.APIOptions = append(o.APIOptions, b.Deadlines)
	}
}
