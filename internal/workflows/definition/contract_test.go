package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"

	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/openapi"
)

// schemaObject is a JSON Schema object of the contract, as encoding/json
// reads it.
type schemaObject = map[string]any

// contractSchemas are the contract's components.schemas.
func contractSchemas(t *testing.T) schemaObject {
	t.Helper()
	var doc schemaObject
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc["components"].(schemaObject)["schemas"].(schemaObject)
}

// resolve follows a $ref to a component schema, if s is one.
func resolve(t *testing.T, schemas, s schemaObject) schemaObject {
	t.Helper()
	ref, isRef := s["$ref"].(string)
	if !isRef {
		return s
	}
	target, found := schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(schemaObject)
	if !found {
		t.Fatalf("$ref %s names no schema", ref)
	}
	return target
}

// shapes are the step shapes of a oneOf, by their type's const, in order.
func shapes(t *testing.T, schemas, oneOf schemaObject) ([]workflows.StepType, map[workflows.StepType]schemaObject) {
	t.Helper()
	var order []workflows.StepType
	byType := map[workflows.StepType]schemaObject{}
	for _, item := range resolve(t, schemas, oneOf)["oneOf"].([]any) {
		shape := resolve(t, schemas, item.(schemaObject))
		stepType := workflows.StepType(shape["properties"].(schemaObject)["type"].(schemaObject)["const"].(string))
		order = append(order, stepType)
		byType[stepType] = shape
	}
	return order, byType
}

func properties(t *testing.T, schemas, s schemaObject) schemaObject {
	t.Helper()
	return resolve(t, schemas, s)["properties"].(schemaObject)
}

func names(members schemaObject) []string {
	var out []string
	for name := range members {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func sorted(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
}

// The contract (openapi.yaml's WorkflowStep) and validation must tell the
// same story: the same types, each with the members of `with` its kind
// uses, the fan-outs holding the inner types with the members each may
// have, within the same bounds.
func TestTheContractDescribesEveryStepKind(t *testing.T) {
	schemas := contractSchemas(t)
	order, byType := shapes(t, schemas, schemas["WorkflowStep"].(schemaObject))
	if !slices.Equal(order, StepTypes()) {
		t.Fatalf("the contract's step types %q, validation's %q", order, StepTypes())
	}
	for _, k := range stepKinds {
		with := properties(t, schemas, byType[k.stepType])["with"].(schemaObject)
		if got, want := names(properties(t, schemas, with)), sorted(k.kind.withMembers()); !slices.Equal(got, want) {
			t.Errorf("%s: the contract's with has %q, validation's %q", k.stepType, got, want)
		}
	}

	t.Run("a foreach holds an inner step without the members the foreach holds for it", func(t *testing.T) {
		with := properties(t, schemas, properties(t, schemas, byType[workflows.StepForeach])["with"].(schemaObject))
		concurrency := with["concurrency"].(schemaObject)
		if concurrency["minimum"] != 1.0 || concurrency["maximum"] != float64(workflows.MaxForeachConcurrency) || concurrency["default"] != float64(workflows.DefaultForeachConcurrency) {
			t.Errorf("concurrency %v", concurrency)
		}
		innerOrder, inner := shapes(t, schemas, with["step"].(schemaObject))
		if !slices.Equal(innerOrder, innerStepTypes) {
			t.Fatalf("inner types %q, want %q", innerOrder, innerStepTypes)
		}
		for stepType, shape := range inner {
			if got := names(properties(t, schemas, shape)); !slices.Equal(got, []string{"type", "with"}) {
				t.Errorf("%s inside a foreach has %q, want only type and with", stepType, got)
			}
		}
	})
	t.Run("a parallel holds inner steps with their ids and attempts, and has no attempts of its own", func(t *testing.T) {
		members := properties(t, schemas, byType[workflows.StepParallel])
		if _, has := members["retry"]; has {
			t.Error("a parallel has a retry")
		}
		if _, has := members["timeoutSeconds"]; has {
			t.Error("a parallel has a timeoutSeconds")
		}
		steps := properties(t, schemas, members["with"].(schemaObject))["steps"].(schemaObject)
		if steps["minItems"] != float64(workflows.MinParallelSteps) || steps["maxItems"] != float64(workflows.MaxParallelSteps) {
			t.Errorf("steps %v", steps)
		}
		innerOrder, inner := shapes(t, schemas, steps["items"].(schemaObject))
		if !slices.Equal(innerOrder, innerStepTypes) {
			t.Fatalf("inner types %q, want %q", innerOrder, innerStepTypes)
		}
		for stepType, shape := range inner {
			if got := names(properties(t, schemas, shape)); !slices.Equal(got, []string{"id", "retry", "timeoutSeconds", "type", "with"}) {
				t.Errorf("%s inside a parallel has %q", stepType, got)
			}
		}
	})
	t.Run("a workflow step names a workflow id, has no attempts of its own and tells the depth", func(t *testing.T) {
		shape := byType[workflows.StepWorkflow]
		if got := names(properties(t, schemas, shape)); !slices.Equal(got, []string{"id", "onError", "type", "with"}) {
			t.Errorf("a workflow step has %q, want id, onError, type and with", got)
		}
		with := resolve(t, schemas, properties(t, schemas, shape)["with"].(schemaObject))
		if required, _ := with["required"].([]any); len(required) != 1 || required[0] != "workflowId" {
			t.Errorf("with requires %v, want only workflowId", with["required"])
		}
		if with["additionalProperties"] != false {
			t.Error("with allows other members")
		}
		members := with["properties"].(schemaObject)
		id := resolve(t, schemas, members["workflowId"].(schemaObject))
		pattern := regexp.MustCompile(id["pattern"].(string))
		for _, made := range []string{ids.New(ids.PrefixWorkflow, time.Now()), ids.New(ids.PrefixWorkflow, time.UnixMilli(0))} {
			if !isWorkflowID(made) || !pattern.MatchString(made) {
				t.Errorf("%s: validation %v, the contract's pattern %v", made, isWorkflowID(made), pattern.MatchString(made))
			}
		}
		for _, other := range []string{"wf_01M8FAF8H74R4CZQJ1RQT4BF1E", "conn_01m8faf8h74r4czqj1rqt4bf1e", "wf_01m8faf8h74r4czqj1rqt4bf1", "wf_01m8faf8h74r4czqj1rqt4bf1u"} {
			if isWorkflowID(other) || pattern.MatchString(other) {
				t.Errorf("%s: validation %v, the contract's pattern %v, want both to refuse it", other, isWorkflowID(other), pattern.MatchString(other))
			}
		}
		if input := members["input"].(schemaObject); input["type"] != "string" || input["minLength"] != 1.0 {
			t.Errorf("input %v", input)
		}
		if version := members["version"].(schemaObject); version["type"] != "integer" || version["minimum"] != 1.0 || version["maximum"] != float64(workflows.MaxWorkflowStepVersion) {
			t.Errorf("version %v", version)
		}
		if description, _ := shape["description"].(string); !strings.Contains(description, fmt.Sprintf("Depth is at most %d", workflows.MaxWorkflowDepth)) {
			t.Errorf("the description does not tell the depth of %d: %q", workflows.MaxWorkflowDepth, description)
		}
	})
}
