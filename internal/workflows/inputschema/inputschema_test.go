package inputschema_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
)

func TestCheckInputNamesFieldsUnderInput(t *testing.T) {
	schema := jsontext.Value(`{"type":"object","required":["order"],"properties":{"order":{"type":"object","required":["id"],"properties":{"items":{"type":"array","items":{"type":"integer"}}}}}}`)
	for input, want := range map[string]string{
		`{}`:                                 "input.order",
		`{"order":{}}`:                       "input.order.id",
		`{"order":{"id":1,"items":[1,"x"]}}`: "input.order.items[1]",
		`[]`:                                 "input",
	} {
		err := inputschema.Check(schema, jsontext.Value(input))
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) != 1 || e.Details[0].Field != want {
			t.Errorf("input %s: %#v, want one detail on %s", input, err, want)
		}
	}
	if err := inputschema.Check(schema, jsontext.Value(`{"order":{"id":1,"items":[1]}}`)); err != nil {
		t.Errorf("valid input refused: %v", err)
	}
	if err := inputschema.Check(nil, jsontext.Value(`"anything"`)); err != nil {
		t.Errorf("no schema refused: %v", err)
	}
}

// The JSON Schema library compiles its drafts on the first schema that needs
// them (third_party/jsonschema, README.workflows.md), not at start. In a
// process of its own, so that nothing has compiled a schema before, 16
// goroutines compile schemas at once, valid and invalid: each gets its own
// right answer, and none waits forever.
func TestTheFirstSchemasCompileAtOnceInAFreshProcess(t *testing.T) {
	if os.Getenv("DEFINITION_FIRST_COMPILE") == "1" {
		var wg sync.WaitGroup
		failures := make(chan string, 16)
		for i := range 16 {
			wg.Go(func() {
				valid := i%2 == 0
				schema := `{"type": "object", "required": ["id"]}`
				if !valid {
					schema = `{"type": 5}` // refused by the draft's metaschema
				}
				_, err := inputschema.Compile(jsontext.Value(schema))
				if (err == nil) != valid {
					failures <- fmt.Sprintf("schema %s: error %v", schema, err)
				}
			})
		}
		wg.Wait()
		close(failures)
		for f := range failures {
			t.Error(f)
		}
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestTheFirstSchemasCompileAtOnceInAFreshProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEFINITION_FIRST_COMPILE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the fresh process: %v\n%s", err, out)
	}
}
