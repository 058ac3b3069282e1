package engine

import (
	"context"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
)

// delayKind: the run waits (Result.Wait); nothing sleeps here.
type delayKind struct{}

func (delayKind) compile(workflows.Step) (compiledStep, error) { return compiledStep{}, nil }

func (delayKind) execute(_ context.Context, _ *Engine, step workflows.Step, _ *compiledStep, _ Context, _ string) (Result, error) {
	return Result{Wait: time.Duration(step.With.Seconds) * time.Second}, nil
}

func (delayKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
