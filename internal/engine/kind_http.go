package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// httpKind: one request, its url, header values and body strings rendered
// from {{ }} templates (http.go sends it under the outbound policy).
type httpKind struct{}

func (httpKind) compile(step workflows.Step) (compiledStep, error) {
	var cs compiledStep
	var err error
	if cs.url, err = jqtemplate.CompileTemplate(step.With.URL); err != nil {
		return cs, fmt.Errorf("url: %w", err)
	}
	for _, name := range sortedKeys(step.With.Headers) {
		t, err := jqtemplate.CompileTemplate(step.With.Headers[name])
		if err != nil {
			return cs, fmt.Errorf("headers.%s: %w", name, err)
		}
		cs.headers = append(cs.headers, compiledHeader{name: name, value: t})
	}
	if len(step.With.Body) > 0 {
		if cs.body, err = compileBody(step.With.Body); err != nil {
			return cs, err
		}
	}
	cs.exprs = templateExprs(cs.url, cs.body, cs.headers)
	return cs, nil
}

func (httpKind) execute(ctx context.Context, e *Engine, step workflows.Step, cs *compiledStep, rc Context, idempotencyKey string) (Result, error) {
	ctx, err := e.evalTemplates(ctx, cs, rc)
	if err != nil {
		return Result{}, err
	}
	return e.executeHTTP(ctx, step, cs, rc, idempotencyKey)
}

// attemptTimeout: the templates' jq bound, then the request's StepTimeout.
func (httpKind) attemptTimeout(e *Engine, step workflows.Step) time.Duration {
	return e.opts.JQTimeout + StepTimeout(step)
}
