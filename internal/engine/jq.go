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

	"github.com/workflowsapi/workflows/internal/workflows"
)

// runProgram runs code over rc with the jq deadline and returns its first
// value. A program that fails, produces no value or runs past the deadline
// fails the step with JQ_ERROR, which another attempt would not change.
func (e *Engine) runProgram(ctx context.Context, code *gojq.Code, rc Context) (any, error) {
	jqCtx, cancel := context.WithTimeout(ctx, e.opts.JQTimeout)
	defer cancel()
	return firstValue(jqCtx, ctx, code, rc)
}

// firstValue runs code within jqCtx (the jq deadline, below the caller's
// ctx) and returns its first value.
func firstValue(jqCtx, ctx context.Context, code *gojq.Code, rc Context) (any, error) {
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
		return nil, &StepError{Code: CodeJQ, Message: "the expression failed: " + shorten(jqErrorText(err))}
	}
	return v, nil
}

// jqErrorText is what gojq says, including a halt_error's value.
func jqErrorText(err error) string {
	var halt *gojq.HaltError
	if errors.As(err, &halt) {
		if s, ok := halt.Value().(string); ok {
			return s
		}
	}
	return err.Error()
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
// compact JSON, so null renders as "null". Nothing is escaped: a value put
// in a URL's path or query should be escaped by the expression itself
// (`{{ .input.q | @uri }}`).
func renderString(jqCtx, ctx context.Context, t *workflows.Template, rc Context) (string, error) {
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
func wholeExpression(t *workflows.Template) *gojq.Code {
	if len(t.Parts) == 1 && t.Parts[0].Code != nil {
		return t.Parts[0].Code
	}
	return nil
}

// bodyNode is an http step's body, compiled: a JSON value whose string
// values holding {{ }} are templates. Member names are sent as written;
// values without templates are sent as their JSON text, numbers as written.
type bodyNode struct {
	raw      jsontext.Value      // a value without templates
	template *workflows.Template // a string with templates
	names    []string            // an object with templates inside: names and values
	values   []*bodyNode         // (an array: values only)
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
		t, err := workflows.CompileTemplate(s)
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
