package secrets

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// KMS is the Sealer in AWS: each secret's data key comes from KMS
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
type Budget struct {
	// Call bounds one call, every attempt and back-off included, on top of
	// the caller's own deadline (the earlier one wins).
	Call time.Duration
	// Attempt bounds one attempt; one that runs out is retried like a
	// dropped connection if Call leaves time for it.
	Attempt time.Duration
	// MaxAttempts bounds the attempts of one call, the first included.
	MaxAttempts int
}

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
	return func(k *KMS) {
		if b.Call > 0 {
			k.budget.Call = b.Call
		}
		if b.Attempt > 0 {
			k.budget.Attempt = b.Attempt
		}
		if b.MaxAttempts > 0 {
			k.budget.MaxAttempts = b.MaxAttempts
		}
	}
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
func (k *KMS) Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) (Sealed, error) {
	return seal(ctx, k, plaintext, encCtx)
}

// Open decrypts what a KMS sealer sealed with the same context: one Decrypt
// call, and none for a value that is malformed or was sealed locally.
func (k *KMS) Open(ctx context.Context, s Sealed, encCtx map[string]string) ([]byte, error) {
	return open(ctx, k, s, encCtx)
}

func (k *KMS) newDataKey(ctx context.Context, encCtx map[string]string) (key, wrapped []byte, keyID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, k.budget.Call)
	defer cancel()
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encCtx,
	}, k.budget.apply)
	if err != nil {
		return nil, nil, "", fmt.Errorf("secrets: KMS GenerateDataKey: %w", err)
	}
	if len(out.Plaintext) != dataKeySize || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, nil, "", fmt.Errorf("secrets: KMS GenerateDataKey returned no %d-byte data key", dataKeySize)
	}
	return out.Plaintext, out.CiphertextBlob, aws.ToString(out.KeyId), nil
}

func (k *KMS) unwrap(ctx context.Context, s Sealed, encCtx map[string]string) ([]byte, error) {
	if s.KeyID == "" || strings.HasPrefix(s.KeyID, localKeyIDPrefix) {
		// Sealed locally (or not by a sealer at all): KMS could not open it.
		return nil, ErrOpen
	}
	ctx, cancel := context.WithTimeout(ctx, k.budget.Call)
	defer cancel()
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    s.WrappedKey,
		EncryptionContext: encCtx,
		// Naming the key makes KMS refuse a blob of any other key, even one
		// this function may also decrypt with (AWS's advice for Decrypt).
		KeyId: aws.String(k.keyID),
	}, k.budget.apply)
	if err != nil {
		if refusesThisBlob(err) {
			// The same ErrOpen as a local sealer gives, so callers test for
			// one error; KMS's own error stays in the chain for the log.
			return nil, fmt.Errorf("%w: %w", ErrOpen, err)
		}
		return nil, fmt.Errorf("secrets: KMS Decrypt: %w", err)
	}
	if len(out.Plaintext) != dataKeySize {
		clear(out.Plaintext)
		return nil, ErrOpen
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

// apply is a per-call option that puts the budget on one KMS call: the
// SDK's standard retryer with MaxAttempts and short back-offs, and a
// deadline per attempt. (The call deadline is the context's.) It mirrors
// store's budget for DynamoDB.
func (b Budget) apply(o *kms.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = b.MaxAttempts
		so.Backoff = retry.BackoffDelayerFunc(fullJitter)
	})
	// Set too, so that AWS_MAX_ATTEMPTS in the environment cannot lift the
	// bound (the SDK would wrap the retryer with it).
	o.RetryMaxAttempts = b.MaxAttempts
	o.APIOptions = append(o.APIOptions, b.addAttemptDeadline)
}

// backoffBase is the first retry's largest back-off; each retry doubles it.
const backoffBase = 50 * time.Millisecond

// fullJitter is the "full jitter" back-off: a random wait of up to
// backoffBase doubled per earlier retry; throttling gets no longer waits,
// since a call's whole budget is two seconds.
func fullJitter(attempt int, _ error) (time.Duration, error) {
	return rand.N(backoffBase << min(max(attempt-1, 0), 10)), nil
}

// addAttemptDeadline puts the attempt deadline around each attempt (inside
// the retry loop).
func (b Budget) addAttemptDeadline(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("AttemptDeadline",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			attemptCtx, cancel := context.WithTimeout(ctx, b.Attempt)
			defer cancel()
			out, md, err := next.HandleFinalize(attemptCtx, in)
			if err != nil && ctx.Err() == nil && errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
				// The SDK reports a cancelled context as not retryable; only
				// this attempt ran out, so it is retried like a timed-out
				// connection.
				err = &attemptTimeoutError{after: b.Attempt, err: err}
			}
			return out, md, err
		}), "Retry", middleware.After)
}

// attemptTimeoutError is an attempt cut by its own deadline while the call
// still had time.
type attemptTimeoutError struct {
	after time.Duration
	err   error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %v: %v", e.after, e.err)
}
func (e *attemptTimeoutError) Unwrap() error { return e.err }

// Timeout reports it as a timeout, as net.Error does.
func (e *attemptTimeoutError) Timeout() bool { return true }

// RetryableError tells the SDK's retryer to retry it.
func (e *attemptTimeoutError) RetryableError() bool { return true }

// CanceledError hides the cancelled context underneath from the retryer's
// "never retry a cancelled call" check, which would otherwise find it first.
func (e *attemptTimeoutError) CanceledError() bool { return false }
