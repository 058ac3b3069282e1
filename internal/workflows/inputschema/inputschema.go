// Package inputschema compiles a workflow's inputSchema (JSON Schema, no
// remote $ref) and checks a run's input against it. It is apart from
// internal/workflows/definition so that the functions that start runs,
// which check inputs and compile nothing else, link the JSON Schema
// library without gojq, the cron parser and the time zone database.
package inputschema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonfield"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// inputSchemaURL names the input schema while it compiles. The .invalid
// domain can never resolve; nothing is fetched from it in any case (see
// refuseLoading), and it only shows where a relative $ref would point.
const inputSchemaURL = "https://input-schema.invalid/schema.json"

// refuseLoading is the input schema's loader: it loads nothing. The
// library's default loader reads file: URLs, and a schema may only $ref
// within itself, so that compiling a user's schema touches no file and no
// network. The metaschemas of the drafts are built into the library and do
// not go through a loader.
type refuseLoading struct{}

func (refuseLoading) Load(string) (any, error) {
	return nil, errors.New("schemas are not loaded from anywhere")
}

var messages = message.NewPrinter(language.English)

// Compile compiles a workflow's inputSchema as validation does: the run
// start checks inputs with it, so that a schema accepted on write compiles
// the same way later. Formats are annotations, as JSON Schema 2020-12 (the
// draft used when $schema names none) says by default.
func Compile(raw jsontext.Value) (*jsonschema.Schema, error) {
	schema, problems := compile(raw)
	if len(problems) > 0 {
		return nil, domain.Invalid(problems...)
	}
	return schema, nil
}

// Problems are what is wrong with raw as an inputSchema, each under the
// field inputSchema (none: it compiles).
func Problems(raw jsontext.Value) []domain.FieldError {
	_, problems := compile(raw)
	return problems
}

func compile(raw jsontext.Value) (*jsonschema.Schema, []domain.FieldError) {
	const field = "inputSchema"
	// The library's compile time grows with the schema's size, and with the
	// square of its depth (seconds for a 256 KiB schema, hours for one
	// 9000 levels deep): these bounds keep the worst case near a second,
	// far above any schema an input needs.
	if len(raw) > workflows.MaxInputSchemaBytes {
		return nil, []domain.FieldError{{Field: field, Message: fmt.Sprintf("must be at most %d bytes (64 KiB)", workflows.MaxInputSchemaBytes)}}
	}
	if depth(raw) > workflows.MaxInputSchemaDepth {
		return nil, []domain.FieldError{{Field: field, Message: fmt.Sprintf("must nest objects and arrays at most %d deep", workflows.MaxInputSchemaDepth)}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, []domain.FieldError{{Field: field, Message: "is not valid JSON"}}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoading{})
	if err := c.AddResource(inputSchemaURL, doc); err != nil {
		return nil, []domain.FieldError{{Field: field, Message: "is not a valid JSON Schema"}}
	}
	schema, err := c.Compile(inputSchemaURL)
	if err == nil {
		return schema, nil
	}
	var invalid *jsonschema.SchemaValidationError
	var load *jsonschema.LoadURLError
	var cause *jsonschema.ValidationError
	switch {
	case errors.As(err, &load):
		return nil, []domain.FieldError{{Field: field, Message: fmt.Sprintf(
			"must not refer to %q: $ref and $schema may point only inside the schema itself or to a draft's metaschema, never to a file or a URL",
			strings.ReplaceAll(load.URL, inputSchemaURL, ""))}}
	case errors.As(err, &invalid) && errors.As(invalid.Err, &cause) && strings.HasPrefix(invalid.URL, inputSchemaURL):
		var out []domain.FieldError
		for _, leaf := range leaves(cause) {
			out = append(out, domain.FieldError{
				Field:   jsonfield.Tokens(field, leaf.InstanceLocation),
				Message: "is not valid JSON Schema: " + leaf.ErrorKind.LocalizedString(messages),
			})
		}
		return nil, out
	default:
		return nil, []domain.FieldError{{Field: field, Message: "is not a valid JSON Schema: " + strings.ReplaceAll(err.Error(), inputSchemaURL, "")}}
	}
}

// depth is how deep raw, a well-formed value, nests objects and arrays.
func depth(raw jsontext.Value) int {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	deepest := 0
	for {
		if _, err := dec.ReadToken(); err != nil {
			return deepest
		}
		deepest = max(deepest, dec.StackDepth())
	}
}

// leaves are the innermost causes of a metaschema validation error: the
// ones that name a keyword of the user's schema rather than "allOf failed".
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// Check checks a run's input against a workflow's inputSchema (none: any
// input). Each problem is a detail whose field is a path under input
// (input.orderId, input.items[2].sku).
func Check(schemaJSON jsontext.Value, input jsontext.Value) error {
	if len(schemaJSON) == 0 {
		return nil
	}
	schema, err := Compile(schemaJSON)
	if err != nil {
		// Stored definitions were checked when written: a schema that does
		// not compile now is our fault, not the caller's.
		return fmt.Errorf("inputschema: compile the stored input schema: %w", err)
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(input))
	if err != nil {
		return domain.Invalid(domain.FieldError{Field: "input", Message: "is not valid JSON"})
	}
	err = schema.Validate(value)
	if err == nil {
		return nil
	}
	var invalid *jsonschema.ValidationError
	if !errors.As(err, &invalid) {
		return fmt.Errorf("inputschema: validate input: %w", err)
	}
	var details []domain.FieldError
	for _, leaf := range leaves(invalid) {
		if required, ok := leaf.ErrorKind.(*kind.Required); ok {
			for _, name := range required.Missing {
				details = append(details, domain.FieldError{
					Field: jsonfield.Tokens("input", append(slices.Clone(leaf.InstanceLocation), name)), Message: "is required",
				})
			}
			continue
		}
		details = append(details, domain.FieldError{
			Field:   jsonfield.Tokens("input", leaf.InstanceLocation),
			Message: leaf.ErrorKind.LocalizedString(messages),
		})
	}
	if len(details) == 0 {
		details = []domain.FieldError{{Field: "input", Message: "does not match the workflow's inputSchema"}}
	}
	return domain.Invalid(details...)
}
