package definition

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonfield"
)

// CheckInput checks a run's input against a workflow's inputSchema (none:
// any input). Each problem is a detail whose field is a path under input
// (input.orderId, input.items[2].sku).
func CheckInput(schemaJSON jsontext.Value, input jsontext.Value) error {
	if len(schemaJSON) == 0 {
		return nil
	}
	schema, err := CompileInputSchema(schemaJSON)
	if err != nil {
		// Stored definitions were checked when written: a schema that does
		// not compile now is our fault, not the caller's.
		return fmt.Errorf("definition: compile the stored input schema: %w", err)
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
		return fmt.Errorf("definition: validate input: %w", err)
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
