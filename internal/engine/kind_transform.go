package engine

import (
	"context"
	"time"

	"github.com/workflowsapi/workflows/internal/jsondepth"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// transformKind: a jq program over the run's context; its value is the
// output.
type transformKind struct{}

func (transformKind) compile(step workflows.Step) (compiledStep, error) {
	p, err := newProgram(step.With.JQ)
	return compiledStep{program: p}, err
}

func (transformKind) execute(ctx context.Context, e *Engine, _ workflows.Step, cs *compiledStep, rc Context, _ string) (Result, error) {
	v, err := e.runProgram(ctx, cs.program, rc)
	if err != nil {
		return Result{}, err
	}
	// Depth first: the size check encodes the value.
	if jsondepth.Exceeds(v, jsondepth.MaxDepth) {
		return Result{}, tooDeep("the step's output")
	}
	if err := e.checkSize(v); err != nil {
		return Result{}, err
	}
	return Result{Output: v}, nil
}

func (transformKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
