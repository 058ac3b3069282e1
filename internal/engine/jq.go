package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/itchyny/gojq"

	"github.com/workflowsapi/workflows/internal/jqsandbox"
	"github.com/workflowsapi/workflows/internal/jsondepth"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// program is one jq program of a step: its source, which a sandbox worker
// compiles (with jqtemplate.CompileJQ, as validation did), its code, and
// whether it may run in this process (jqsandbox.InProcess: a path over the
// context, which cannot allocate or run long).
type program struct {
	src       string
	code      *gojq.Code
	inProcess bool
}

func newProgram(src string) (*program, error) {
	code, err := jqtemplate.CompileJQ(src)
	if err != nil {
		return nil, err
	}
	return &program{src: src, code: code, inProcess: jqsandbox.InProcess(src)}, nil
}

// maxTemplateValueBytes bounds what the template expressions of one http
// step may produce together, as JSON: a bound on what a worker hands back,
// above the request's own bounds (REQUEST_TOO_LARGE), which are checked on
// the rendered request.
const maxTemplateValueBytes = 1 << 20

// runProgram runs p over rc within the jq deadline and returns its first
// value: in this process if p is a path, else in a sandbox worker, killed
// at the deadline. A program that fails, produces no value, runs past the
// deadline or out of the worker's memory fails the step with JQ_ERROR, which
// another attempt would not change.
func (e *Engine) runProgram(ctx context.Context, p *program, rc Context) (any, error) {
	if p.inProcess {
		jqCtx, cancel := context.WithTimeout(ctx, e.opts.JQTimeout)
		defer cancel()
		return firstValue(jqCtx, ctx, p.code, rc)
	}
	values, err := e.opts.Sandbox.Eval(ctx, e.opts.JQTimeout, []string{p.src}, map[string]any(rc), e.opts.MaxOutputBytes)
	if err != nil {
		return nil, e.sandboxError(err, "the step's output", e.opts.MaxOutputBytes)
	}
	return values[0], nil
}

// templateValues are the values of an http step's template expressions for
// one attempt, evaluated together before the request is rendered
// (evalTemplates). They travel to the renderers in the context, so that
// each renderer asks firstValue for an expression's value as it would
// evaluate it, and finds it here.
type templateValues struct {
	values map[*gojq.Code]any
	// err is the first failure in render order; no expression from it on
	// has a value.
	err error
}

type templateValuesKey struct{}

// templateExprs lists the expressions of an http step's templates in the
// order buildRequest renders them: the url, the body's values in order, the
// headers by name.
func templateExprs(url *jqtemplate.Template, body *bodyNode, headers []compiledHeader) []*program {
	var exprs []*program
	add := func(t *jqtemplate.Template) {
		if t == nil {
			return
		}
		for _, part := range t.Parts {
			if part.Code != nil {
				exprs = append(exprs, &program{src: part.Expr, code: part.Code, inProcess: jqsandbox.InProcess(part.Expr)})
			}
		}
	}
	add(url)
	// The body's tree, depth first, without recursion: a definition's body
	// is bounded by the request size only.
	stack := []*bodyNode{body}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil {
			continue
		}
		add(n.template)
		for i := len(n.values) - 1; i >= 0; i-- {
			stack = append(stack, n.values[i])
		}
	}
	for _, h := range headers {
		add(h.value)
	}
	return exprs
}

// evalTemplates evaluates every template expression of an http step within
// one jq deadline: those that are paths in this process, all the others in
// one sandbox request. It returns ctx carrying the values for the
// renderers. A step failure is not returned here but kept for the
// expression it belongs to, so the request fails where rendering reaches
// it, as it did when each expression was evaluated as it was rendered; the
// error returned is the caller's ctx ending or the engine's own trouble.
func (e *Engine) evalTemplates(ctx context.Context, cs *compiledStep, rc Context) (context.Context, error) {
	n := len(cs.exprs)
	values := make([]any, n)
	errs := make([]error, n)
	evaluated := make([]bool, n)
	var batch []string
	var at []int // batch index -> expression index
	jqCtx, cancel := context.WithTimeout(ctx, e.opts.JQTimeout)
	defer cancel()
	for i, p := range cs.exprs {
		if !p.inProcess {
			batch, at = append(batch, p.src), append(at, i)
			continue
		}
		v, err := firstValue(jqCtx, ctx, p.code, rc)
		if err != nil && ctx.Err() != nil {
			return ctx, ctx.Err()
		}
		values[i], errs[i], evaluated[i] = v, err, true
	}
	if len(batch) > 0 {
		out, err := e.opts.Sandbox.Eval(ctx, e.opts.JQTimeout, batch, map[string]any(rc), maxTemplateValueBytes)
		var se *jqsandbox.Error
		switch {
		case err == nil:
			for j, v := range out {
				values[at[j]], evaluated[at[j]] = v, true
			}
		case errors.As(err, &se):
			// The values of those before the failing one came back with
			// the error; a worker that died names none (index 0).
			for j, v := range out {
				values[at[j]], evaluated[at[j]] = v, true
			}
			j := min(max(se.Index, len(out)), len(at)-1)
			errs[at[j]], evaluated[at[j]] = e.sandboxError(err, "", maxTemplateValueBytes), true
		default:
			return ctx, err
		}
	}
	tv := &templateValues{values: make(map[*gojq.Code]any, n)}
	for i, p := range cs.exprs {
		if errs[i] != nil {
			tv.err = errs[i]
			break
		}
		if !evaluated[i] {
			break // after a failure in the batch: never reached
		}
		tv.values[p.code] = values[i]
	}
	return context.WithValue(ctx, templateValuesKey{}, tv), nil
}

// firstValue is the first value of code over rc. For an http step, whose
// expressions were evaluated together (evalTemplates), it is the value
// found in jqCtx; otherwise, which only a program InProcess allows (and
// tests of the renderers), code runs here within jqCtx (the jq deadline,
// below the caller's ctx).
func firstValue(jqCtx, ctx context.Context, code *gojq.Code, rc Context) (any, error) {
	if tv, ok := jqCtx.Value(templateValuesKey{}).(*templateValues); ok {
		if v, ok := tv.values[code]; ok {
			return v, nil
		}
		if tv.err != nil {
			return nil, tv.err
		}
		// Never run an expression that was not listed (templateExprs)
		// here, out of the sandbox's bounds.
		return nil, errors.New("engine: a template expression was not evaluated with the others")
	}
	// gojq switches on map[string]any, which the named type Context is not.
	iter := code.RunWithContext(jqCtx, map[string]any(rc))
	v, ok := iter.Next()
	if !ok {
		return nil, &StepError{Code: CodeJQ, Message: "the expression produced no value"}
	}
	if err, isErr := v.(error); isErr {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller gave up: not the program's fault
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &StepError{Code: CodeJQ, Message: "the expression ran past its time limit"}
		}
		return nil, &StepError{Code: CodeJQ, Message: "the expression failed: " + shorten(jqsandbox.ErrorText(err))}
	}
	return v, nil
}

// sandboxError is the step failure of an evaluation in a worker. what and
// limit name the output a KindTooLarge was held to ("" for template
// values). The caller's ctx ending and the pool's own trouble are returned
// as they are: neither is the program's fault.
func (e *Engine) sandboxError(err error, what string, limit int) error {
	var se *jqsandbox.Error
	if !errors.As(err, &se) {
		return err
	}
	jq := func(format string, args ...any) *StepError {
		return &StepError{Code: CodeJQ, Message: fmt.Sprintf(format, args...)}
	}
	switch se.Kind {
	case jqsandbox.KindFailed:
		return jq("the expression failed: %s", shorten(se.Message))
	case jqsandbox.KindNoValue:
		return jq("the expression produced no value")
	case jqsandbox.KindNotJSON:
		return jq("the expression produced a value JSON cannot hold (NaN or an infinity)")
	case jqsandbox.KindTooDeep:
		return tooDeep("the expression's value")
	case jqsandbox.KindTooLarge:
		if what != "" {
			return tooLarge(what, 0, limit)
		}
		return jq("the template expressions' values are over %s together", sizeText(limit))
	case jqsandbox.KindOutOfMemory:
		return jq("the expression used more than %d MiB of memory", e.opts.Sandbox.MemoryMiB())
	case jqsandbox.KindStackOverflow:
		return jq("the expression nested too deeply (a value or a recursion): it ran out of stack")
	case jqsandbox.KindTimeout:
		return jq("the expression ran past its time limit of %s", e.opts.JQTimeout)
	}
	return jq("the expression's evaluation stopped unexpectedly")
}

func tooDeep(what string) *StepError {
	return &StepError{Code: CodeOutputTooDeep, Message: fmt.Sprintf("%s nests deeper than %d levels", what, jsondepth.MaxDepth)}
}

// checkSize fails a step whose output, as JSON, is over MaxOutputBytes.
func (e *Engine) checkSize(v any) error {
	out, err := marshalValue(v)
	if err != nil {
		return err
	}
	if len(out) > e.opts.MaxOutputBytes {
		return tooLarge("the step's output", len(out), e.opts.MaxOutputBytes)
	}
	return nil
}

func tooLarge(what string, size, limit int) *StepError {
	return &StepError{Code: CodeOutputTooLarge, Message: fmt.Sprintf("%s is over %d bytes (%s)", what, limit, sizeText(limit))}
}

func sizeText(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d bytes", n)
}

// marshalValue writes a jq value as compact JSON, with <, > and & as they
// are (they go into request bodies, not HTML). NaN and infinities, which JSON
// cannot hold, fail the step.
func marshalValue(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &StepError{Code: CodeJQ, Message: "the expression produced a value JSON cannot hold (NaN or an infinity)"}
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// renderString renders a template into a string. Each expression's first
// value goes in as jq's string interpolation "\(…)" puts it: a string as
// it is, anything else (number, boolean, null, array, object) as its
// compact JSON, so null renders as "null". Nothing is escaped here: this is
// how headers and body strings are filled in. A url is rendered by
// renderURL (url.go), which percent-encodes each value where it lands.
func renderString(jqCtx, ctx context.Context, t *jqtemplate.Template, rc Context) (string, error) {
	var b strings.Builder
	for _, part := range t.Parts {
		if part.Code == nil {
			b.WriteString(part.Text)
			continue
		}
		v, err := firstValue(jqCtx, ctx, part.Code, rc)
		if err != nil {
			return "", err
		}
		if s, ok := v.(string); ok {
			b.WriteString(s)
			continue
		}
		out, err := marshalValue(v)
		if err != nil {
			return "", err
		}
		b.Write(out)
	}
	return b.String(), nil
}

// wholeExpression is the template's one expression when the template is
// nothing else ("{{ .input.items }}"), nil otherwise. In a body, such a
// string is replaced by the expression's value with its JSON type (a number
// stays a number, an object an object); inside a longer string values are
// rendered as renderString says.
func wholeExpression(t *jqtemplate.Template) *gojq.Code {
	if len(t.Parts) == 1 && t.Parts[0].Code != nil {
		return t.Parts[0].Code
	}
	return nil
}

// bodyNode is an http step's body, compiled: a JSON value whose string
// values holding {{ }} are templates. Member names are sent as written;
// values without templates are sent as their JSON text, numbers as written.
type bodyNode struct {
	raw      jsontext.Value       // a value without templates
	template *jqtemplate.Template // a string with templates
	names    []string             // an object with templates inside: names and values
	values   []*bodyNode          // (an array: values only)
	isObject bool
}

func compileBody(body jsontext.Value) (*bodyNode, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	return compileBodyValue(dec)
}

func compileBodyValue(dec *jsontext.Decoder) (*bodyNode, error) {
	switch dec.PeekKind() {
	case '{', '[':
		// Decoded, not searched as bytes: "\u007b{" is a "{{" too, as
		// validation reads it.
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		node, err := compileComposite(raw)
		if err != nil {
			return nil, err
		}
		for _, child := range node.values {
			if child.raw == nil {
				return node, nil
			}
		}
		return &bodyNode{raw: raw.Clone()}, nil // nothing to fill in: sent as written
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if !strings.Contains(s, "{{") {
			return &bodyNode{raw: raw.Clone()}, nil
		}
		t, err := jqtemplate.CompileTemplate(s)
		if err != nil {
			return nil, err
		}
		return &bodyNode{template: t}, nil
	default:
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return &bodyNode{raw: raw.Clone()}, nil
	}
}

func compileComposite(raw jsontext.Value) (*bodyNode, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	open, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	node := &bodyNode{isObject: open.Kind() == '{'}
	for dec.PeekKind() != '}' && dec.PeekKind() != ']' {
		if node.isObject {
			name, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			node.names = append(node.names, name.String())
		}
		child, err := compileBodyValue(dec)
		if err != nil {
			return nil, err
		}
		node.values = append(node.values, child)
	}
	return node, nil
}

// render writes the body with its templates filled in.
func (n *bodyNode) render(jqCtx, ctx context.Context, rc Context, b *bytes.Buffer) error {
	switch {
	case n.raw != nil:
		b.Write(n.raw)
	case n.template != nil:
		var out []byte
		var err error
		if code := wholeExpression(n.template); code != nil {
			var v any
			if v, err = firstValue(jqCtx, ctx, code, rc); err == nil {
				out, err = marshalValue(v)
			}
		} else {
			var s string
			if s, err = renderString(jqCtx, ctx, n.template, rc); err == nil {
				out, err = marshalValue(s)
			}
		}
		if err != nil {
			return err
		}
		b.Write(out)
	default:
		open, closing := byte('['), byte(']')
		if n.isObject {
			open, closing = '{', '}'
		}
		b.WriteByte(open)
		for i, child := range n.values {
			if i > 0 {
				b.WriteByte(',')
			}
			if n.isObject {
				name, _ := marshalValue(n.names[i]) // a string always marshals
				b.Write(name)
				b.WriteByte(':')
			}
			if err := child.render(jqCtx, ctx, rc, b); err != nil {
				return err
			}
		}
		b.WriteByte(closing)
	}
	return nil
}

// typeName names a jq value's JSON type for a message.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int, float64, *big.Int, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shorten keeps a message short when it quotes what a program said.
func shorten(s string) string {
	const limit = 200
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit]) + "…"
}
