// Package kmssealer is the secrets.Sealer in AWS: envelope encryption whose
// data keys come from KMS (GenerateDataKey, Decrypt), and FromEnv, which
// picks it or the local sealer from the environment.
//
// It is apart from internal/secrets because it links the KMS client
// (internal/awskms): the feature packages take a
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

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/awskms"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// KMS is the secrets.Sealer in AWS: each secret's data key comes from KMS
// GenerateDataKey under one KMS key, with the encryption context, and is
// unwrapped by KMS Decrypt with the same context. So the key never leaves
// KMS, every unwrap is in CloudTrail with its context, and only functions
// granted kms:Decrypt on the key can open anything. It is safe for
// concurrent use.
type KMS struct {
	client *awskms.Client
	keyID  string
	budget Budget
}

// Budget bounds the time and the attempts of every KMS call.
type Budget = awsbudget.Budget

// DefaultBudget is awskms.DefaultBudget: 2 s a call, 1 s an attempt, three
// attempts with short back-offs, to fit a 10 s route function.
var DefaultBudget = awskms.DefaultBudget

// KMSOption changes a KMS sealer.
type KMSOption func(*KMS)

// WithBudget replaces DefaultBudget; zero fields keep its values. Tests use
// it to see a hung KMS fail in milliseconds.
func WithBudget(b Budget) KMSOption {
	return func(k *KMS) { k.budget = b.Or(DefaultBudget) }
}

// NewKMS seals under the KMS key keyID (a key id, key ARN, alias name or
// alias ARN). The sealer sets its own Budget on every call, whatever budget
// client was built with.
func NewKMS(client *awskms.Client, keyID string, opts ...KMSOption) *KMS {
	k := &KMS{client: client, keyID: keyID, budget: DefaultBudget}
	for _, o := range opts {
		o(k)
	}
	k.client = client.WithBudget(k.budget)
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
	out, err := k.client.GenerateDataKey(ctx, k.keyID, encCtx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("secrets: %w", err)
	}
	if len(out.Plaintext) != secrets.DataKeySize || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, "", fmt.Errorf("secrets: KMS GenerateDataKey returned no %d-byte data key", secrets.DataKeySize)
	}
	return out.Plaintext, out.CiphertextBlob, out.KeyID, nil
}

// Unwrap is one Decrypt call naming the sealer's key, bound to the context;
// none for a value sealed locally.
func (k *kmsWrapper) Unwrap(ctx context.Context, s secrets.Sealed, encCtx map[string]string) ([]byte, error) {
	if s.KeyID == "" || strings.HasPrefix(s.KeyID, secrets.LocalKeyIDPrefix) {
		// Sealed locally (or not by a sealer at all): KMS could not open it.
		return nil, secrets.ErrOpen
	}
	// Naming the key makes KMS refuse a blob of any other key, even one
	// this function may also decrypt with (AWS's advice for Decrypt).
	plaintext, err := k.client.Decrypt(ctx, k.keyID, s.WrappedKey, encCtx)
	if err != nil {
		if refusesThisBlob(err) {
			// The same ErrOpen as a local sealer gives, so callers test for
			// one error; KMS's own error stays in the chain for the log.
			return nil, fmt.Errorf("%w: %w", secrets.ErrOpen, err)
		}
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if len(plaintext) != secrets.DataKeySize {
		clear(plaintext)
		return nil, secrets.ErrOpen
	}
	return plaintext, nil
}

// refusesThisBlob reports whether KMS refused to unwrap this particular
// blob, for good: a wrong context or a changed blob (InvalidCiphertext), a
// blob of another key than the one named (IncorrectKey), or a blob naming a
// key this caller may not use (AccessDenied; moto's answer for a blob of
// another key too). Retrying cannot help with any of them, unlike a timeout,
// throttling or a 5xx, which stay errors of their own.
func refusesThisBlob(err error) bool {
	var refusal *awskms.Error
	if !errors.As(err, &refusal) {
		return false
	}
	switch refusal.Code {
	case "InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException":
		return true
	}
	return false
}
