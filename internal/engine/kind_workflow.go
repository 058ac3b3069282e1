package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/jsondepth"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Child is what a workflow step asks for: a child run of WorkflowID (at
// Version, 0 for its current one) with Input. The runner starts it through
// the runs' start path and waits for it; the engine only renders the input.
type Child struct {
	WorkflowID string
	Version    int
	Input      jsontext.Value
}

// workflowKind: a sub-workflow. The step's own execution renders the
// child's input (its input program over the run's context, {} without
// one); the child itself is the runner's to start and wait for.
type workflowKind struct{}

func (workflowKind) compile(step workflows.Step) (compiledStep, error) {
	if step.With.Input == "" {
		return compiledStep{}, nil
	}
	p, err := newProgram(step.With.Input)
	if err != nil {
		return compiledStep{}, fmt.Errorf("input: %w", err)
	}
	return compiledStep{program: p}, nil
}

func (workflowKind) execute(ctx context.Context, e *Engine, step workflows.Step, cs *compiledStep, rc Context, _ string) (Result, error) {
	child := &Child{WorkflowID: step.With.WorkflowID, Version: step.With.Version, Input: jsontext.Value("{}")}
	if cs.program != nil {
		v, err := e.runProgram(ctx, cs.program, rc)
		if err != nil {
			return Result{}, err
		}
		if jsondepth.Exceeds(v, jsondepth.MaxDepth) {
			return Result{}, tooDeep("the child's input")
		}
		if err := e.checkSize(v); err != nil {
			return Result{}, err
		}
		// marshalValue is encoding/json's, which writes what gojq answers
		// (json.Number, *big.Int) as numbers.
		b, err := marshalValue(v)
		if err != nil {
			return Result{}, err
		}
		child.Input = b
	}
	return Result{Child: child}, nil
}

func (workflowKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
