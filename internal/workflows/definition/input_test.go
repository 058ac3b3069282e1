package definition_test

import (
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

func TestCheckInputNamesFieldsUnderInput(t *testing.T) {
	schema := jsontext.Value(`{"type":"object","required":["order"],"properties":{"order":{"type":"object","required":["id"],"properties":{"items":{"type":"array","items":{"type":"integer"}}}}}}`)
	for input, want := range map[string]string{
		`{}`:                                 "input.order",
		`{"order":{}}`:                       "input.order.id",
		`{"order":{"id":1,"items":[1,"x"]}}`: "input.order.items[1]",
		`[]`:                                 "input",
	} {
		err := definition.CheckInput(schema, jsontext.Value(input))
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) != 1 || e.Details[0].Field != want {
			t.Errorf("input %s: %#v, want one detail on %s", input, err, want)
		}
	}
	if err := definition.CheckInput(schema, jsontext.Value(`{"order":{"id":1,"items":[1]}}`)); err != nil {
		t.Errorf("valid input refused: %v", err)
	}
	if err := definition.CheckInput(nil, jsontext.Value(`"anything"`)); err != nil {
		t.Errorf("no schema refused: %v", err)
	}
}
