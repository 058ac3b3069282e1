package engine

import (
	"context"
	"errors"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
)

// waitForSignalKind: nothing to execute. The runner moves the step itself
// (it records the wait, parks the run and reads the signal from the
// store), so Execute is never asked to; if it is, it says so rather than
// succeed.
type waitForSignalKind struct{}

func (waitForSignalKind) compile(workflows.Step) (compiledStep, error) { return compiledStep{}, nil }

var errSignalNotExecuted = errors.New("engine: a wait_for_signal step is not executed: the runner waits for its signal")

func (waitForSignalKind) execute(context.Context, *Engine, workflows.Step, *compiledStep, Context, string) (Result, error) {
	return Result{}, errSignalNotExecuted
}

func (waitForSignalKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
