// Package awsbudget bounds every AWS SDK call in time and attempts, the same
// way for every service the functions call (DynamoDB in internal/store, KMS
// in internal/secrets, Step Functions in internal/orchestrator/sfn,
// EventBridge Scheduler in internal/schedules): the SDK's standard retryer with a few attempts and
// short back-offs, a deadline around the whole call and one around each
// attempt. Each service picks its own numbers (store.DefaultBudget,
// kmssealer.DefaultBudget) to fit its Lambda's timeout.
package awsbudget

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// Budget bounds the time and the attempts of every call of one client.
type Budget struct {
	// Call bounds one call, every attempt and back-off included; it applies
	// on top of the caller's own deadline (the earlier one wins).
	Call time.Duration
	// Attempt bounds one attempt. An attempt that runs out is retried like
	// a dropped connection, if Call leaves time for it.
	Attempt time.Duration
	// MaxAttempts bounds the attempts of one call, the first included.
	MaxAttempts int
}

// Or fills b's zero fields from defaults.
func (b Budget) Or(defaults Budget) Budget {
	if b.Call <= 0 {
		b.Call = defaults.Call
	}
	if b.Attempt <= 0 {
		b.Attempt = defaults.Attempt
	}
	if b.MaxAttempts <= 0 {
		b.MaxAttempts = defaults.MaxAttempts
	}
	return b
}

// backoffBase is the first retry's largest back-off; each retry doubles it.
const backoffBase = 50 * time.Millisecond

// Retryer is the SDK's standard retryer with b.MaxAttempts and "full
// jitter" back-offs of at most 50 ms, then 100 ms, and so on. Throttling gets
// no longer waits than other errors (the SDK's defaults start those at 1 s
// and reach 20 s): a call's whole budget is a few seconds. Set it with the
// service's RetryMaxAttempts = b.MaxAttempts too, so that AWS_MAX_ATTEMPTS in
// the environment cannot lift the bound.
func (b Budget) Retryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = b.MaxAttempts
		so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return rand.N(backoffBase << min(max(attempt-1, 0), 10)), nil
		})
	})
}

// Deadlines is an API option that puts the call deadline around the whole
// call (outside the retry loop) and the attempt deadline around each attempt
// (inside it).
func (b Budget) Deadlines(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CallDeadline",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			// The outputs of the calls budgeted here are read in full before
			// the call returns, so cancelling on return cuts nothing short.
			ctx, cancel := context.WithTimeout(ctx, b.Call)
			defer cancel()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
	if err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("AttemptDeadline",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			attemptCtx, cancel := context.WithTimeout(ctx, b.Attempt)
			defer cancel()
			out, md, err := next.HandleFinalize(attemptCtx, in)
			return out, md, b.attemptError(ctx, attemptCtx, err)
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

// Timeout reports it as a timeout, as net.Error does, for callers that tell
// timeouts apart.
func (e *attemptTimeoutError) Timeout() bool { return true }

// RetryableError tells the SDK's retryer to retry it.
func (e *attemptTimeoutError) RetryableError() bool { return true }

// CanceledError hides the cancelled context underneath from the retryer's
// "never retry a cancelled call" check, which would otherwise find it first.
func (e *attemptTimeoutError) CanceledError() bool { return false }

// Run is the budget around a call made without the SDK's middleware stack
// (internal/awskms): attempt runs under the call's deadline, each try under
// the attempt's, and a failed try is retried when the standard retryer
// Retryer builds says it may be (a refused or reset connection, an attempt
// that timed out, a 5xx, throttling), after its back-off, until MaxAttempts.
// The error returned is the last try's.
func (b Budget) Run(ctx context.Context, attempt func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.Call)
	defer cancel()
	retryer := b.Retryer()
	for try := 1; ; try++ {
		err := b.try(ctx, attempt)
		if err == nil || try >= b.MaxAttempts || ctx.Err() != nil || !retryer.IsErrorRetryable(err) {
			return err
		}
		delay, delayErr := retryer.RetryDelay(try, err)
		if delayErr != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// try is one attempt under the attempt's deadline; an attempt cut by that
// deadline (not the call's) is an attemptTimeoutError, which retries.
func (b Budget) try(ctx context.Context, attempt func(ctx context.Context) error) error {
	attemptCtx, cancel := context.WithTimeout(ctx, b.Attempt)
	defer cancel()
	return b.attemptError(ctx, attemptCtx, attempt(attemptCtx))
}

// attemptError is err, from an attempt made under attemptCtx within the
// call's ctx, as an attemptTimeoutError when the attempt's own deadline (not
// the call's) cut it. The SDK reports a cancelled context as not retryable;
// only this attempt ran out, so it is retried like a timed-out connection.
func (b Budget) attemptError(ctx, attemptCtx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
		return &attemptTimeoutError{after: b.Attempt, err: err}
	}
	return err
}
