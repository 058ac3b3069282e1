package engine

import (
	"context"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
)

// conditionKind: a jq program that must be true or false; false jumps to
// the step's else (Result.Jump, which the runner records and follows).
type conditionKind struct{}

func (conditionKind) compile(step workflows.Step) (compiledStep, error) {
	p, err := newProgram(step.With.JQ)
	return compiledStep{program: p}, err
}

func (conditionKind) execute(ctx context.Context, e *Engine, step workflows.Step, cs *compiledStep, rc Context, _ string) (Result, error) {
	v, err := e.runProgram(ctx, cs.program, rc)
	if err != nil {
		return Result{}, err
	}
	b, ok := v.(bool)
	if !ok {
		return Result{}, &StepError{Code: CodeJQ, Message: "the condition must be true or false, not " + typeName(v)}
	}
	if !b {
		return Result{Output: false, Jump: step.Else}, nil
	}
	return Result{Output: true}, nil
}

func (conditionKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
