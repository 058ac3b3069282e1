package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
)

// CodeTooManyItems: a foreach's items program gave more than
// workflows.MaxForeachItems items.
const CodeTooManyItems = "TOO_MANY_ITEMS"

// foreachKind: the items program gives the array to go over; the runner
// runs the inner step once per item (ExecuteItem), so the step's own
// execution only plans: it answers the items.
type foreachKind struct{}

func (foreachKind) compile(step workflows.Step) (compiledStep, error) {
	p, err := newProgram(step.With.Items)
	if err != nil {
		return compiledStep{}, fmt.Errorf("items: %w", err)
	}
	if step.With.Step == nil {
		return compiledStep{}, fmt.Errorf("no inner step")
	}
	inner, err := compileStep(InnerStep(step, 0))
	if err != nil {
		return compiledStep{}, fmt.Errorf("step: %w", err)
	}
	return compiledStep{program: p, inner: []compiledStep{inner}, everyItem: true}, nil
}

func (foreachKind) execute(ctx context.Context, e *Engine, _ workflows.Step, cs *compiledStep, rc Context, _ string) (Result, error) {
	v, err := e.runProgram(ctx, cs.program, rc)
	if err != nil {
		return Result{}, err
	}
	items, ok := v.([]any)
	if !ok {
		return Result{}, &StepError{Code: CodeJQ, Message: "items must give an array, not " + typeName(v)}
	}
	if len(items) > workflows.MaxForeachItems {
		return Result{}, &StepError{Code: CodeTooManyItems, Message: fmt.Sprintf("items gave %d items, over the limit of %d", len(items), workflows.MaxForeachItems)}
	}
	// The items are stored with the step (the runner holds them to the
	// step output limit), so that every item, on every resume, is the one
	// it was.
	if err := e.checkSize(items); err != nil {
		return Result{}, err
	}
	return Result{FanOut: &FanOut{Count: len(items), Items: items}}, nil
}

func (foreachKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}

// parallelKind: the inner steps run at once, each an item (ExecuteItem);
// the step's own execution answers their ids.
type parallelKind struct{}

func (parallelKind) compile(step workflows.Step) (compiledStep, error) {
	cs := compiledStep{}
	for i, inner := range step.With.Steps {
		c, err := compileStep(inner)
		if err != nil {
			return cs, fmt.Errorf("steps[%d] (%s): %w", i, inner.ID, err)
		}
		cs.inner = append(cs.inner, c)
	}
	return cs, nil
}

func (parallelKind) execute(_ context.Context, _ *Engine, step workflows.Step, _ *compiledStep, _ Context, _ string) (Result, error) {
	ids := make([]string, len(step.With.Steps))
	for i, inner := range step.With.Steps {
		ids[i] = inner.ID
	}
	return Result{FanOut: &FanOut{Count: len(ids), IDs: ids}}, nil
}

func (parallelKind) attemptTimeout(e *Engine, _ workflows.Step) time.Duration {
	return e.opts.JQTimeout
}
