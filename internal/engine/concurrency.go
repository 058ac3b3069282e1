package engine

import (
	"context"
	"errors"
)

// CodeConcurrencyKey: a workflow's concurrency.key failed on a run's input
// (a jq error, no value, a value too large).
const CodeConcurrencyKey = "CONCURRENCY_KEY_ERROR"

// ConcurrencyKey is the value of the workflow's concurrency.key over rc (the
// run's context before any step: its input), as JSON text: runs whose
// values are equal share one limit. "" when the workflow has no key (one
// limit over all its runs). A key that fails is a *StepError with
// CodeConcurrencyKey, which the runner records as the run's failure.
func (e *Engine) ConcurrencyKey(ctx context.Context, c *Compiled, rc Context) (string, error) {
	if c.concurrencyKey == nil {
		return "", nil
	}
	v, err := e.runProgram(ctx, c.concurrencyKey, rc)
	if err != nil {
		var stepErr *StepError
		if errors.As(err, &stepErr) {
			return "", &StepError{Code: CodeConcurrencyKey, Message: "concurrency.key: " + stepErr.Message}
		}
		return "", err
	}
	b, err := marshalValue(v)
	if err != nil {
		return "", &StepError{Code: CodeConcurrencyKey, Message: "concurrency.key gave a value that is not JSON"}
	}
	const maxKeyBytes = 1 << 10
	if len(b) > maxKeyBytes {
		return "", &StepError{Code: CodeConcurrencyKey, Message: "concurrency.key gave a value over 1 KiB: a key is an id, such as a customer's"}
	}
	return string(b), nil
}
