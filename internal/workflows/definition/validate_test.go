package definition_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
	"github.com/workflowsapi/workflows/internal/workflows/workflowstest"
)

// The example and its edits, shared with the model's tests.
const (
	knownConnection = workflowstest.KnownConnection
	example         = workflowstest.Example
)

var (
	edit     = workflowstest.Edit
	step     = workflowstest.Step
	with     = workflowstest.With
	trigger  = workflowstest.Trigger
	schedule = workflowstest.Schedule
)

// exists is the fake account's ConnectionExists.
func exists(id string) (bool, error) { return id == knownConnection, nil }

// fanOut is the example with two fan-out steps added after its last,
// then change applied: steps[5], a foreach posting each line of the order
// (its inner http step with the connection), and steps[6], a parallel of an
// http step (audit, with its own retry and timeout) and a transform
// (shape).
func fanOut(t *testing.T, change func(d map[string]any)) []byte {
	t.Helper()
	return edit(t, func(d map[string]any) {
		d["steps"] = append(d["steps"].([]any), foreachStep(), parallelStep())
		change(d)
	})
}

func foreachStep() map[string]any {
	return map[string]any{
		"id": "notifyAll", "type": "foreach",
		"with": map[string]any{
			"items": ".steps.order.output.body.lines", "concurrency": 3,
			"step": map[string]any{"type": "http", "with": map[string]any{
				"method": "POST", "url": "https://hooks.example/lines/{{ .item.id }}",
				"body": map[string]any{"index": "{{ .index }}"}, "connection": knownConnection,
			}},
		},
		"retry": map[string]any{"maxAttempts": 3}, "timeoutSeconds": 10,
	}
}

func parallelStep() map[string]any {
	return map[string]any{
		"id": "fanout", "type": "parallel", "onError": "continue",
		"with": map[string]any{"steps": []any{
			map[string]any{
				"id": "audit", "type": "http",
				"with":  map[string]any{"method": "PUT", "url": "https://audit.example/orders/{{ .input.orderId }}", "connection": knownConnection},
				"retry": map[string]any{"maxAttempts": 2}, "timeoutSeconds": 5,
			},
			map[string]any{"id": "shape", "type": "transform", "with": map[string]any{"jq": ".steps.notifyAll.output | length"}},
		}},
	}
}

// eachStep is the foreach's inner step, branch the parallel's inner step j.
func eachStep(d map[string]any) map[string]any { return with(d, 5)["step"].(map[string]any) }
func branch(d map[string]any, j int) map[string]any {
	return with(d, 6)["steps"].([]any)[j].(map[string]any)
}

// transformSteps are n inner steps for a parallel, b0 to b<n-1>.
func transformSteps(n int) []any {
	var steps []any
	for j := range n {
		steps = append(steps, map[string]any{"id": fmt.Sprintf("b%d", j), "type": "transform", "with": map[string]any{"jq": "."}})
	}
	return steps
}

// childWorkflow is the workflow the example's workflow step runs: an id of
// the form ids.New makes, of no workflow the fake account has (its
// existence is not checked on write).
const childWorkflow = "wf_01m8faf8h74r4czqj1rqt4bf1e"

// subWorkflow is the example with a workflow step added after its last,
// then change applied: steps[5], running childWorkflow at version 3 with
// an input made of the order, going on if the child fails.
func subWorkflow(t *testing.T, change func(d map[string]any)) []byte {
	t.Helper()
	return edit(t, func(d map[string]any) {
		d["steps"] = append(d["steps"].([]any), workflowStep())
		change(d)
	})
}

func workflowStep() map[string]any {
	return map[string]any{
		"id": "child", "type": "workflow", "onError": "continue",
		"with": map[string]any{
			"workflowId": childWorkflow, "input": "{orderId: .input.orderId, total: .steps.summary.output.total}", "version": 3,
		},
	}
}

// validationError asserts err is a VALIDATION_ERROR and returns it.
func validationError(t *testing.T, err error) *domain.Error {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeValidation {
		t.Fatalf("error %v, want a VALIDATION_ERROR", err)
	}
	return e
}

func fields(e *domain.Error) []string {
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Field)
	}
	return out
}

func TestTheExampleOfTheContractIsValid(t *testing.T) {
	var asked []string
	d, err := definition.Parse([]byte(example), func(id string) (bool, error) {
		asked = append(asked, id)
		return exists(id)
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(asked, []string{knownConnection}) {
		t.Fatalf("connections asked for: %v", asked)
	}
	if d.Name != "Notify big orders" || d.Description != "optional" || !d.IsEnabled() || d.Trigger.Type != workflows.TriggerManual {
		t.Fatalf("definition: %+v", d)
	}
	if len(d.Steps) != 5 {
		t.Fatalf("%d steps", len(d.Steps))
	}
	order, isBig, pause, notify := d.Steps[0], d.Steps[2], d.Steps[3], d.Steps[4]
	if order.Type != workflows.StepHTTP || order.With.Method != "GET" || order.With.Connection != knownConnection ||
		order.Retry == nil || order.Retry.MaxAttempts != 3 || order.TimeoutSeconds == nil || *order.TimeoutSeconds != 10 {
		t.Fatalf("steps[0]: %+v", order)
	}
	if isBig.Type != workflows.StepCondition || isBig.Else != workflows.End || isBig.With.JQ == "" {
		t.Fatalf("steps[2]: %+v", isBig)
	}
	if pause.With.Seconds != 30 || string(notify.With.Body) != `{"order":"{{ .steps.summary.output.id }}"}` {
		t.Fatalf("steps[3], steps[4]: %+v %+v", pause, notify)
	}
}

func TestAStoredDefinitionReadsBackAsItself(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []byte
	}{
		{"the example", []byte(example)},
		{"a foreach and a parallel", fanOut(t, func(map[string]any) {})},
		{"a foreach of transforms at the default concurrency", fanOut(t, func(d map[string]any) {
			delete(with(d, 5), "concurrency")
			with(d, 5)["step"] = map[string]any{"type": "transform", "with": map[string]any{"jq": "{n: .item, at: .index}"}}
		})},
		{"a workflow step", subWorkflow(t, func(map[string]any) {})},
		{"a workflow step with only its workflowId", subWorkflow(t, func(d map[string]any) {
			delete(step(d, 5), "onError")
			step(d, 5)["with"] = map[string]any{"workflowId": childWorkflow}
		})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := definition.Parse(tt.body, exists)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			again, err := definition.Parse(stored, exists)
			if err != nil {
				t.Fatalf("the stored form is refused: %v\n%s", err, stored)
			}
			if !reflect.DeepEqual(d, again) {
				t.Fatalf("read back differently:\n%+v\n%+v", d, again)
			}
		})
	}
}

func TestTheFanOutStepsAreRead(t *testing.T) {
	d, err := definition.Parse(fanOut(t, func(map[string]any) {}), exists)
	if err != nil {
		t.Fatal(err)
	}
	each, par := d.Steps[5], d.Steps[6]
	if each.Type != workflows.StepForeach || each.With.Items != ".steps.order.output.body.lines" || each.With.Concurrency != 3 ||
		each.With.Step == nil || each.With.Step.Type != workflows.StepHTTP || each.With.Step.ID != "" ||
		each.With.Step.With.Connection != knownConnection || each.Retry == nil || each.Retry.MaxAttempts != 3 {
		t.Fatalf("steps[5]: %+v", each)
	}
	if par.Type != workflows.StepParallel || !par.Continues() || len(par.With.Steps) != 2 ||
		par.With.Steps[0].ID != "audit" || par.With.Steps[0].Retry == nil || par.With.Steps[0].TimeoutSeconds == nil ||
		par.With.Steps[1].ID != "shape" || par.With.Steps[1].With.JQ == "" {
		t.Fatalf("steps[6]: %+v", par)
	}
}

func TestTheWorkflowStepIsRead(t *testing.T) {
	d, err := definition.Parse(subWorkflow(t, func(map[string]any) {}), exists)
	if err != nil {
		t.Fatal(err)
	}
	child := d.Steps[5]
	if child.Type != workflows.StepWorkflow || child.ID != "child" || !child.Continues() ||
		child.With.WorkflowID != childWorkflow || child.With.Input != "{orderId: .input.orderId, total: .steps.summary.output.total}" ||
		child.With.Version != 3 || child.Retry != nil || child.TimeoutSeconds != nil {
		t.Fatalf("steps[5]: %+v", child)
	}
	d, err = definition.Parse(subWorkflow(t, func(d map[string]any) { step(d, 5)["with"] = map[string]any{"workflowId": childWorkflow} }), exists)
	if err != nil {
		t.Fatal(err)
	}
	if w := d.Steps[5].With; w.WorkflowID != childWorkflow || w.Input != "" || w.Version != 0 {
		t.Fatalf("without input and version: %+v", w)
	}
}

// A workflow step's workflow may be created after it: writing one asks
// for no connection and looks up no workflow.
func TestAWorkflowStepsWorkflowIsNotLookedUp(t *testing.T) {
	body := subWorkflow(t, func(d map[string]any) { d["steps"] = []any{workflowStep()} })
	if _, err := definition.Parse(body, func(id string) (bool, error) {
		t.Errorf("asked for %q", id)
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEnabledIsTrueWhenLeftOut(t *testing.T) {
	d, err := definition.Parse(edit(t, func(d map[string]any) { delete(d, "enabled") }), exists)
	if err != nil {
		t.Fatal(err)
	}
	if d.Enabled == nil || !*d.Enabled {
		t.Fatalf("enabled = %v, want true filled in", d.Enabled)
	}
	d, err = definition.Parse(edit(t, func(d map[string]any) { d["enabled"] = false }), exists)
	if err != nil || d.IsEnabled() {
		t.Fatalf("enabled false: %v, %v", d.Enabled, err)
	}
}

func TestEveryRuleHasItsField(t *testing.T) {
	longName := strings.Repeat("n", workflows.MaxNameLength+1)
	tests := []struct {
		name  string
		body  []byte
		field string
	}{
		// The body as a whole.
		{"a body over 256 KiB is refused", []byte(`{"name":"` + strings.Repeat("a", 256<<10) + `"}`), "body"},
		{"a body that is not JSON is refused", []byte(`{"name":`), "body"},
		{"a body that is an array is refused", []byte(`[]`), "body"},
		{"a body of null is refused", []byte(`null`), "body"},
		{"an unknown field is refused", edit(t, func(d map[string]any) { d["priority"] = 1 }), "priority"},
		{"a field in another case is unknown", edit(t, func(d map[string]any) { d["Name"] = "other" }), "Name"},
		{"a field given twice is refused", []byte(`{"name":"a","name":"b","trigger":{"type":"manual"},"steps":[]}`), "name"},
		{"a field given as null is refused", edit(t, func(d map[string]any) { d["description"] = nil }), "description"},
		{"a field of the wrong type is refused", edit(t, func(d map[string]any) { d["enabled"] = "yes" }), "enabled"},
		// The workflow.
		{"a missing name is refused", edit(t, func(d map[string]any) { delete(d, "name") }), "name"},
		{"a blank name is refused", edit(t, func(d map[string]any) { d["name"] = "   " }), "name"},
		{"a name over 200 characters is refused", edit(t, func(d map[string]any) { d["name"] = longName }), "name"},
		{"a name with a control character is refused", edit(t, func(d map[string]any) { d["name"] = "a\u0007b" }), "name"},
		{"a description over 2000 characters is refused", edit(t, func(d map[string]any) { d["description"] = strings.Repeat("d", 2001) }), "description"},
		{"a workflow timeout of 0 is refused", edit(t, func(d map[string]any) { d["timeoutSeconds"] = 0 }), "timeoutSeconds"},
		{"a workflow timeout over 30 days is refused", edit(t, func(d map[string]any) { d["timeoutSeconds"] = 2_592_001 }), "timeoutSeconds"},
		{"a fractional workflow timeout is refused", edit(t, func(d map[string]any) { d["timeoutSeconds"] = 1.5 }), "timeoutSeconds"},
		{"missing steps are refused", edit(t, func(d map[string]any) { delete(d, "steps") }), "steps"},
		{"no steps are refused", edit(t, func(d map[string]any) { d["steps"] = []any{} }), "steps"},
		{"more than 100 steps are refused", edit(t, func(d map[string]any) {
			var steps []any
			for i := range 101 {
				steps = append(steps, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "delay", "with": map[string]any{"seconds": 1}})
			}
			d["steps"] = steps
		}), "steps"},
		// Steps.
		{"a step that is not an object is refused", edit(t, func(d map[string]any) { d["steps"].([]any)[1] = "summary" }), "steps[1]"},
		{"an unknown field of a step is refused", edit(t, func(d map[string]any) { step(d, 1)["retries"] = 3 }), "steps[1].retries"},
		{"an empty cron on a manual trigger is refused", edit(t, func(d map[string]any) { d["trigger"].(map[string]any)["cron"] = "" }), "trigger.cron"},
		{"an empty cron beside every is refused", edit(t, func(d map[string]any) {
			d["trigger"] = map[string]any{"type": "schedule", "every": "15m", "cron": ""}
		}), "trigger.cron"},
		{"a member of another step type given empty is refused", edit(t, func(d map[string]any) { step(d, 0)["with"].(map[string]any)["jq"] = "" }), "steps[0].with.jq"},
		{"seconds: 0 on a transform step is refused", edit(t, func(d map[string]any) { step(d, 1)["with"].(map[string]any)["seconds"] = 0 }), "steps[1].with.seconds"},
		{"an empty else on a step that is not a condition is refused", edit(t, func(d map[string]any) { step(d, 3)["else"] = "" }), "steps[3].else"},
		{"a step without an id is refused", edit(t, func(d map[string]any) { delete(step(d, 1), "id") }), "steps[1].id"},
		{"a step id used twice is refused", edit(t, func(d map[string]any) { step(d, 1)["id"] = "order" }), "steps[1].id"},
		{"a step id starting with a digit is refused", edit(t, func(d map[string]any) { step(d, 1)["id"] = "1summary" }), "steps[1].id"},
		{"a step id with a dot is refused", edit(t, func(d map[string]any) { step(d, 1)["id"] = "sum.mary" }), "steps[1].id"},
		{"a step id over 64 characters is refused", edit(t, func(d map[string]any) { step(d, 1)["id"] = "s" + strings.Repeat("x", 64) }), "steps[1].id"},
		{"a step called end is refused", edit(t, func(d map[string]any) { step(d, 1)["id"] = "end" }), "steps[1].id"},
		{"a step without a type is refused", edit(t, func(d map[string]any) { delete(step(d, 1), "type") }), "steps[1].type"},
		{"an unknown step type is refused", edit(t, func(d map[string]any) { step(d, 1)["type"] = "lambda" }), "steps[1].type"},
		{"maxAttempts of 0 is refused", edit(t, func(d map[string]any) { step(d, 0)["retry"] = map[string]any{"maxAttempts": 0} }), "steps[0].retry.maxAttempts"},
		{"maxAttempts over 10 is refused", edit(t, func(d map[string]any) { step(d, 0)["retry"] = map[string]any{"maxAttempts": 11} }), "steps[0].retry.maxAttempts"},
		{"a retry without maxAttempts is refused", edit(t, func(d map[string]any) { step(d, 0)["retry"] = map[string]any{} }), "steps[0].retry.maxAttempts"},
		{"an unknown field of retry is refused", edit(t, func(d map[string]any) { step(d, 0)["retry"] = map[string]any{"maxAttempts": 2, "backoff": "1s"} }), "steps[0].retry.backoff"},
		{"a step timeout of 0 is refused", edit(t, func(d map[string]any) { step(d, 0)["timeoutSeconds"] = 0 }), "steps[0].timeoutSeconds"},
		{"a step timeout over 900 seconds is refused", edit(t, func(d map[string]any) { step(d, 0)["timeoutSeconds"] = 901 }), "steps[0].timeoutSeconds"},
		{"a step without with is refused", edit(t, func(d map[string]any) { delete(step(d, 1), "with") }), "steps[1].with.jq"},
		{"a with that is not an object is refused", edit(t, func(d map[string]any) { step(d, 1)["with"] = "." }), "steps[1].with"},
		{"an unknown field of with is refused", edit(t, func(d map[string]any) { with(d, 1)["program"] = "." }), "steps[1].with.program"},
		{"a field of another step type in with is refused", edit(t, func(d map[string]any) { with(d, 0)["jq"] = "." }), "steps[0].with.jq"},
		{"else on a step that is not a condition is refused", edit(t, func(d map[string]any) { step(d, 1)["else"] = "end" }), "steps[1].else"},
		// http.
		{"an http step without a method is refused", edit(t, func(d map[string]any) { delete(with(d, 0), "method") }), "steps[0].with.method"},
		{"an unknown http method is refused", edit(t, func(d map[string]any) { with(d, 0)["method"] = "FETCH" }), "steps[0].with.method"},
		{"a lowercase http method is refused", edit(t, func(d map[string]any) { with(d, 0)["method"] = "get" }), "steps[0].with.method"},
		{"an http step without a url is refused", edit(t, func(d map[string]any) { delete(with(d, 0), "url") }), "steps[0].with.url"},
		{"a url of another scheme is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "ftp://shop.example/orders" }), "steps[0].with.url"},
		{"a file url is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "file:///etc/passwd" }), "steps[0].with.url"},
		{"a relative url is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "/orders/1" }), "steps[0].with.url"},
		{"a url without a host is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https:///orders" }), "steps[0].with.url"},
		{"a url with a port but no host is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http://:8080/orders" }), "steps[0].with.url"},
		{"a url whose scheme is a template is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "{{ .input.url }}" }), "steps[0].with.url"},
		{"a url with a template that does not compile is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://shop.example/{{ .input. }}" }), "steps[0].with.url"},
		{"a url with an unclosed template is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://shop.example/{{ .input.id" }), "steps[0].with.url"},
		{"a url with an empty template is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://shop.example/{{ }}" }), "steps[0].with.url"},
		// A run's input must never choose where a request and its credentials
		// go: templates fill the path, query and fragment only (issue 13).
		{"a template in the host is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http://{{ .input.h }}/orders" }), "steps[0].with.url"},
		{"a template in part of the host is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http://{{ .input.tenant }}.localhost:8080/echo" }), "steps[0].with.url"},
		{"a template in the port is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http://127.0.0.1:{{ .input.p }}/orders" }), "steps[0].with.url"},
		{"a template right after the host is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://shop.example{{ .input.path }}" }), "steps[0].with.url"},
		{"a template right after the port is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http://127.0.0.1:8080{{ .input.path }}" }), "steps[0].with.url"},
		{"a template in the user name is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://{{ .input.u }}@shop.example/" }), "steps[0].with.url"},
		{"a template in the scheme is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "http{{ .input.s }}://shop.example/" }), "steps[0].with.url"},
		{"a template after the scheme's colon is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https:{{ .input.rest }}" }), "steps[0].with.url"},
		{"a user name and password in the url are refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://ada:secret@shop.example/orders" }), "steps[0].with.url"},
		{"a user name in the url is refused", edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://ada@shop.example/orders/{{ .input.id }}" }), "steps[0].with.url"},
		{"headers that are not an object are refused", edit(t, func(d map[string]any) { with(d, 0)["headers"] = []any{"Accept: x"} }), "steps[0].with.headers"},
		{"a header value that is not a string is refused", edit(t, func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"X-Count": 1} }), "steps[0].with.headers.X-Count"},
		{"a header name that is not a token is refused", edit(t, func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"X Count": "1"} }), "steps[0].with.headers.X Count"},
		{"a header value with a line break is refused", edit(t, func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"X-A": "1\r\nX-B: 2"} }), "steps[0].with.headers.X-A"},
		{"a header given twice in two cases is refused", edit(t, func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"Accept": "a", "accept": "b"} }), "steps[0].with.headers.accept"},
		{"a header template that does not compile is refused", edit(t, func(d map[string]any) {
			with(d, 0)["headers"] = map[string]any{"X-Order": "{{ .input | nosuchfunction }}"}
		}), "steps[0].with.headers.X-Order"},
		{"a body template that does not compile is refused", edit(t, func(d map[string]any) { with(d, 4)["body"] = map[string]any{"order": "{{ .steps. }}"} }), "steps[4].with.body.order"},
		{"a template deep in a body is checked where it is", edit(t, func(d map[string]any) {
			with(d, 4)["body"] = map[string]any{"items": []any{map[string]any{"id": "ok"}, map[string]any{"id": "{{ $nosuchvariable }}"}}}
		}), "steps[4].with.body.items[1].id"},
		{"a body given as null is refused", edit(t, func(d map[string]any) { with(d, 4)["body"] = nil }), "steps[4].with.body"},
		{"a connection that is not a connection id is refused", edit(t, func(d map[string]any) { with(d, 0)["connection"] = "key_01jc0000000000000000000000" }), "steps[0].with.connection"},
		{"a connection the account does not have is refused", edit(t, func(d map[string]any) { with(d, 0)["connection"] = "conn_01jc0000000000000000000001" }), "steps[0].with.connection"},
		// transform and condition.
		{"a transform without jq is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = "" }), "steps[1].with.jq"},
		{"a transform whose jq does not compile is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = ".steps | {" }), "steps[1].with.jq"},
		{"jq calling an unknown function is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = "nosuchfunction(.)" }), "steps[1].with.jq"},
		{"jq reading an undefined variable is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = "$nosuchvariable" }), "steps[1].with.jq"},
		{"jq reading further inputs is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = "input" }), "steps[1].with.jq"},
		{"jq importing a module is refused", edit(t, func(d map[string]any) { with(d, 1)["jq"] = `import "m" as m; .` }), "steps[1].with.jq"},
		{"a condition whose jq does not compile is refused", edit(t, func(d map[string]any) { with(d, 2)["jq"] = "> 100" }), "steps[2].with.jq"},
		{"a condition without else is refused", edit(t, func(d map[string]any) { delete(step(d, 2), "else") }), "steps[2].else"},
		{"a condition going back to an earlier step is refused", edit(t, func(d map[string]any) { step(d, 2)["else"] = "order" }), "steps[2].else"},
		{"a condition going to itself is refused", edit(t, func(d map[string]any) { step(d, 2)["else"] = "isBig" }), "steps[2].else"},
		{"a condition going to no step is refused", edit(t, func(d map[string]any) { step(d, 2)["else"] = "nowhere" }), "steps[2].else"},
		// delay.
		{"a delay of 0 seconds is refused", edit(t, func(d map[string]any) { with(d, 3)["seconds"] = 0 }), "steps[3].with.seconds"},
		{"a delay over 30 days is refused", edit(t, func(d map[string]any) { with(d, 3)["seconds"] = 2_592_001 }), "steps[3].with.seconds"},
		{"a delay without seconds is refused", edit(t, func(d map[string]any) { delete(with(d, 3), "seconds") }), "steps[3].with.seconds"},
		// concurrency.
		{"a concurrency limit of 0 is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 0} }), "concurrency.limit"},
		{"a concurrency limit over 1000 is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 1001} }), "concurrency.limit"},
		{"a concurrency without a limit is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"key": ".input.a"} }), "concurrency.limit"},
		{"a concurrency key that does not compile is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 2, "key": ".input |"} }), "concurrency.key"},
		{"an empty concurrency key is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 2, "key": ""} }), "concurrency.key"},
		{"a concurrency member of no meaning is refused", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 2, "queue": "fifo"} }), "concurrency.queue"},
		{"a concurrency that is not an object is refused", edit(t, func(d map[string]any) { d["concurrency"] = 2 }), "concurrency"},
		// notify.
		{"a notify without a url is refused", edit(t, func(d map[string]any) { d["notify"] = map[string]any{"events": []any{"run.failed"}} }), "notify.url"},
		{"a notify to plain http is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "http://hooks.example/runs", "events": []any{"run.failed"}}
		}), "notify.url"},
		{"a notify to a file: URL is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "file:///etc/passwd", "events": []any{"run.failed"}}
		}), "notify.url"},
		{"a notify with credentials in its URL is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://u:p@hooks.example/runs", "events": []any{"run.failed"}}
		}), "notify.url"},
		{"a notify URL with a template is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/{{ .input.a }}", "events": []any{"run.failed"}}
		}), "notify.url"},
		{"a notify without events is refused", edit(t, func(d map[string]any) { d["notify"] = map[string]any{"url": "https://hooks.example/runs"} }), "notify.events"},
		{"a notify with an empty events list is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/runs", "events": []any{}}
		}), "notify.events"},
		{"an unknown notify event is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/runs", "events": []any{"run.failed", "run.started"}}
		}), "notify.events[1]"},
		{"a notify event listed twice is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/runs", "events": []any{"run.failed", "run.failed"}}
		}), "notify.events[1]"},
		{"a notify member of no meaning is refused", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/runs", "events": []any{"run.failed"}, "secret": "x"}
		}), "notify.secret"},
		{"a notify that is not an object is refused", edit(t, func(d map[string]any) { d["notify"] = "https://hooks.example/runs" }), "notify"},
		// wait_for_signal (in place of the delay).
		{"a signal wait under a minute is refused", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"] = "wait_for_signal", map[string]any{"timeoutSeconds": 59}
		}), "steps[3].with.timeoutSeconds"},
		{"a signal wait over 30 days is refused", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"] = "wait_for_signal", map[string]any{"timeoutSeconds": 2_592_001}
		}), "steps[3].with.timeoutSeconds"},
		{"a signal wait without timeoutSeconds is refused", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"] = "wait_for_signal", map[string]any{}
		}), "steps[3].with.timeoutSeconds"},
		{"a signal wait with seconds is refused", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"] = "wait_for_signal", map[string]any{"timeoutSeconds": 60, "seconds": 5}
		}), "steps[3].with.seconds"},
		{"a foreach of a signal wait is refused", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "wait_for_signal", "with": map[string]any{"timeoutSeconds": 60}}
		}), "steps[5].with.step.type"},
		// Members of the fan-outs, as given.
		{"items given empty on a step of another type are refused", edit(t, func(d map[string]any) { with(d, 1)["items"] = "" }), "steps[1].with.items"},
		{"concurrency: 0 on a step of another type is refused", edit(t, func(d map[string]any) { with(d, 0)["concurrency"] = 0 }), "steps[0].with.concurrency"},
		{"steps: [] on a step of another type are refused", edit(t, func(d map[string]any) { with(d, 3)["steps"] = []any{} }), "steps[3].with.steps"},
		{"a step in the with of a step of another type is refused", edit(t, func(d map[string]any) { with(d, 1)["step"] = map[string]any{} }), "steps[1].with.step"},
		{"items that are not a string are refused", fanOut(t, func(d map[string]any) { with(d, 5)["items"] = []any{1, 2} }), "steps[5].with.items"},
		{"a fractional concurrency is refused", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 2.5 }), "steps[5].with.concurrency"},
		{"a foreach's step that is not an object is refused", fanOut(t, func(d map[string]any) { with(d, 5)["step"] = "http" }), "steps[5].with.step"},
		{"a parallel's steps that are not an array are refused", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = map[string]any{} }), "steps[6].with.steps"},
		{"a parallel's step given as null is refused", fanOut(t, func(d map[string]any) { with(d, 6)["steps"].([]any)[1] = nil }), "steps[6].with.steps[1]"},
		{"an unknown field of an inner step is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["retries"] = 2 }), "steps[6].with.steps[0].retries"},
		{"an unknown field of an inner step's with is refused", fanOut(t, func(d map[string]any) { eachStep(d)["with"].(map[string]any)["timeout"] = 1 }), "steps[5].with.step.with.timeout"},
		// foreach.
		{"a foreach without items is refused", fanOut(t, func(d map[string]any) { delete(with(d, 5), "items") }), "steps[5].with.items"},
		{"items that do not compile are refused", fanOut(t, func(d map[string]any) { with(d, 5)["items"] = ".steps[" }), "steps[5].with.items"},
		{"a concurrency of 0 is refused", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 0 }), "steps[5].with.concurrency"},
		{"a concurrency over 20 is refused", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 21 }), "steps[5].with.concurrency"},
		{"a negative concurrency is refused", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = -1 }), "steps[5].with.concurrency"},
		{"a foreach without a step is refused", fanOut(t, func(d map[string]any) { delete(with(d, 5), "step") }), "steps[5].with.step"},
		{"a foreach of a condition is refused", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "condition", "with": map[string]any{"jq": ".item"}}
		}), "steps[5].with.step.type"},
		{"a foreach of a foreach is refused", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "foreach", "with": map[string]any{"items": ".item", "step": eachStep(d)}}
		}), "steps[5].with.step.type"},
		{"a foreach's step without a type is refused", fanOut(t, func(d map[string]any) { delete(eachStep(d), "type") }), "steps[5].with.step.type"},
		{"a foreach's step with an id is refused", fanOut(t, func(d map[string]any) { eachStep(d)["id"] = "line" }), "steps[5].with.step.id"},
		{"a foreach's step with an empty id is refused", fanOut(t, func(d map[string]any) { eachStep(d)["id"] = "" }), "steps[5].with.step.id"},
		{"a foreach's step with a retry is refused", fanOut(t, func(d map[string]any) { eachStep(d)["retry"] = map[string]any{"maxAttempts": 0} }), "steps[5].with.step.retry"},
		{"a foreach's step with a timeout is refused", fanOut(t, func(d map[string]any) { eachStep(d)["timeoutSeconds"] = 5 }), "steps[5].with.step.timeoutSeconds"},
		{"a foreach's step with onError is refused", fanOut(t, func(d map[string]any) { eachStep(d)["onError"] = "continue" }), "steps[5].with.step.onError"},
		{"a foreach's step with an empty onError is refused", fanOut(t, func(d map[string]any) { eachStep(d)["onError"] = "" }), "steps[5].with.step.onError"},
		{"a foreach's step with else is refused", fanOut(t, func(d map[string]any) { eachStep(d)["else"] = "end" }), "steps[5].with.step.else"},
		{"a foreach's http step with a bad url is refused", fanOut(t, func(d map[string]any) { eachStep(d)["with"].(map[string]any)["url"] = "http://{{ .item.host }}/" }), "steps[5].with.step.with.url"},
		{"a foreach's http step with a member of another type is refused", fanOut(t, func(d map[string]any) { eachStep(d)["with"].(map[string]any)["jq"] = "." }), "steps[5].with.step.with.jq"},
		{"a foreach's http step with a connection the account does not have is refused", fanOut(t, func(d map[string]any) {
			eachStep(d)["with"].(map[string]any)["connection"] = "conn_01jc0000000000000000000001"
		}), "steps[5].with.step.with.connection"},
		// parallel.
		{"a parallel without steps is refused", fanOut(t, func(d map[string]any) { delete(with(d, 6), "steps") }), "steps[6].with.steps"},
		{"a parallel of no steps is refused", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = []any{} }), "steps[6].with.steps"},
		{"a parallel of one step is refused", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(1) }), "steps[6].with.steps"},
		{"a parallel of 11 steps is refused", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(11) }), "steps[6].with.steps"},
		{"a retry on a parallel is refused", fanOut(t, func(d map[string]any) { step(d, 6)["retry"] = map[string]any{"maxAttempts": 0} }), "steps[6].retry"},
		{"a timeout on a parallel is refused", fanOut(t, func(d map[string]any) { step(d, 6)["timeoutSeconds"] = 5 }), "steps[6].timeoutSeconds"},
		{"a parallel holding a delay is refused", fanOut(t, func(d map[string]any) {
			branch(d, 1)["type"], branch(d, 1)["with"] = "delay", map[string]any{"seconds": 5}
		}), "steps[6].with.steps[1].type"},
		{"a parallel holding a parallel is refused", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "inner", "type": "parallel", "with": map[string]any{"steps": transformSteps(2)}}
		}), "steps[6].with.steps[1].type"},
		{"a parallel holding a foreach is refused", fanOut(t, func(d map[string]any) {
			f := foreachStep()
			f["id"] = "inner"
			delete(f, "retry")
			delete(f, "timeoutSeconds")
			with(d, 6)["steps"].([]any)[1] = f
		}), "steps[6].with.steps[1].type"},
		{"an inner step without an id is refused", fanOut(t, func(d map[string]any) { delete(branch(d, 0), "id") }), "steps[6].with.steps[0].id"},
		{"an inner step id with a dot is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["id"] = "au.dit" }), "steps[6].with.steps[0].id"},
		{"an inner step called end is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["id"] = "end" }), "steps[6].with.steps[0].id"},
		{"an inner step id of a top-level step is refused", fanOut(t, func(d map[string]any) { branch(d, 1)["id"] = "summary" }), "steps[6].with.steps[1].id"},
		{"an inner step id of its own parallel is refused", fanOut(t, func(d map[string]any) { branch(d, 1)["id"] = "fanout" }), "steps[6].with.steps[1].id"},
		{"an inner step id used twice in a parallel is refused", fanOut(t, func(d map[string]any) { branch(d, 1)["id"] = "audit" }), "steps[6].with.steps[1].id"},
		{"an inner step id of another parallel is refused", fanOut(t, func(d map[string]any) {
			again := parallelStep()
			again["id"] = "again"
			again["with"].(map[string]any)["steps"].([]any)[0].(map[string]any)["id"] = "audit2"
			d["steps"] = append(d["steps"].([]any), again)
		}), "steps[7].with.steps[1].id"},
		{"onError on an inner step is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["onError"] = "continue" }), "steps[6].with.steps[0].onError"},
		{"else on an inner step is refused", fanOut(t, func(d map[string]any) { branch(d, 1)["else"] = "end" }), "steps[6].with.steps[1].else"},
		{"an inner step's maxAttempts of 0 is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["retry"] = map[string]any{"maxAttempts": 0} }), "steps[6].with.steps[0].retry.maxAttempts"},
		{"an inner step's timeout over 900 seconds is refused", fanOut(t, func(d map[string]any) { branch(d, 0)["timeoutSeconds"] = 901 }), "steps[6].with.steps[0].timeoutSeconds"},
		{"an inner transform whose jq does not compile is refused", fanOut(t, func(d map[string]any) { branch(d, 1)["with"] = map[string]any{"jq": "{"} }), "steps[6].with.steps[1].with.jq"},
		{"an inner http step with a connection the account does not have is refused", fanOut(t, func(d map[string]any) {
			branch(d, 0)["with"].(map[string]any)["connection"] = "conn_01jc0000000000000000000001"
		}), "steps[6].with.steps[0].with.connection"},
		{"a condition going into a parallel is refused", fanOut(t, func(d map[string]any) { step(d, 2)["else"] = "shape" }), "steps[2].else"},
		// workflow.
		{"a workflow step without a workflowId is refused", subWorkflow(t, func(d map[string]any) { delete(with(d, 5), "workflowId") }), "steps[5].with.workflowId"},
		{"a workflow step without with is refused", subWorkflow(t, func(d map[string]any) { delete(step(d, 5), "with") }), "steps[5].with.workflowId"},
		{"an empty workflowId is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "" }), "steps[5].with.workflowId"},
		{"a workflowId of another resource is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = knownConnection }), "steps[5].with.workflowId"},
		{"a workflowId that is not a ULID is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "wf_orders" }), "steps[5].with.workflowId"},
		{"a workflowId in capitals is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "wf_01M8FAF8H74R4CZQJ1RQT4BF1E" }), "steps[5].with.workflowId"},
		{"a workflowId beyond a ULID's range is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "wf_81m8faf8h74r4czqj1rqt4bf1e" }), "steps[5].with.workflowId"},
		{"a workflowId that is not a string is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = 1 }), "steps[5].with.workflowId"},
		{"an input that does not compile is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "{orderId: .input." }), "steps[5].with.input"},
		{"an input reading an undefined variable is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "$nosuchvariable" }), "steps[5].with.input"},
		{"an input given empty is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "" }), "steps[5].with.input"},
		{"a blank input is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = " \n" }), "steps[5].with.input"},
		{"an input that is not a string is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = map[string]any{"orderId": 1} }), "steps[5].with.input"},
		{"a version of 0 is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 0 }), "steps[5].with.version"},
		{"a negative version is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = -1 }), "steps[5].with.version"},
		{"a version over the largest int32 is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 2_147_483_648 }), "steps[5].with.version"},
		{"a fractional version is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 1.5 }), "steps[5].with.version"},
		{"a version given as a string is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = "3" }), "steps[5].with.version"},
		{"a retry on a workflow step is refused", subWorkflow(t, func(d map[string]any) { step(d, 5)["retry"] = map[string]any{"maxAttempts": 0} }), "steps[5].retry"},
		{"a timeout on a workflow step is refused", subWorkflow(t, func(d map[string]any) { step(d, 5)["timeoutSeconds"] = 5 }), "steps[5].timeoutSeconds"},
		{"else on a workflow step is refused", subWorkflow(t, func(d map[string]any) { step(d, 5)["else"] = "end" }), "steps[5].else"},
		{"an unknown onError on a workflow step is refused", subWorkflow(t, func(d map[string]any) { step(d, 5)["onError"] = "retry" }), "steps[5].onError"},
		{"a member of another type in a workflow step's with is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["jq"] = "." }), "steps[5].with.jq"},
		{"an unknown member of a workflow step's with is refused", subWorkflow(t, func(d map[string]any) { with(d, 5)["inputs"] = "." }), "steps[5].with.inputs"},
		{"a workflowId on an http step is refused", edit(t, func(d map[string]any) { with(d, 0)["workflowId"] = childWorkflow }), "steps[0].with.workflowId"},
		{"an input given empty on a transform step is refused", edit(t, func(d map[string]any) { with(d, 1)["input"] = "" }), "steps[1].with.input"},
		{"version: 0 on a delay step is refused", edit(t, func(d map[string]any) { with(d, 3)["version"] = 0 }), "steps[3].with.version"},
		{"a foreach of a workflow step is refused", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		}), "steps[5].with.step.type"},
		{"a parallel holding a workflow step is refused", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "child", "type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		}), "steps[6].with.steps[1].type"},
		// inputSchema.
		{"an input schema with a wrongly typed keyword is refused", edit(t, func(d map[string]any) {
			d["inputSchema"] = map[string]any{"type": "object", "properties": map[string]any{"orderId": map[string]any{"type": "strin"}}}
		}), "inputSchema.properties.orderId.type"},
		{"an input schema that is not a schema is refused", edit(t, func(d map[string]any) { d["inputSchema"] = "object" }), "inputSchema"},
		{"an input schema with an invalid pattern is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"pattern": "(?<=x)"} }), "inputSchema.pattern"},
		{"an input schema pointing to a missing definition is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"$ref": "#/$defs/nothing"} }), "inputSchema"},
		{"an input schema with a remote $ref is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"$ref": "https://example.com/x.json"} }), "inputSchema"},
		{"an input schema with a file $ref is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"$ref": "file:///etc/passwd"} }), "inputSchema"},
		{"an input schema with a relative $ref is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"$ref": "other.json"} }), "inputSchema"},
		{"an input schema naming an unknown metaschema is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"$schema": "https://example.com/meta"} }), "inputSchema"},
		{"an input schema over 64 KiB is refused", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"description": strings.Repeat("d", 64<<10)} }), "inputSchema"},
		{"an input schema nested too deep is refused", []byte(strings.Replace(example, `"enabled": true`,
			`"inputSchema": `+strings.Repeat(`{"items":`, 70)+`{}`+strings.Repeat(`}`, 70), 1)), "inputSchema"},
		// trigger.
		{"a missing trigger is refused", edit(t, func(d map[string]any) { delete(d, "trigger") }), "trigger"},
		{"a trigger without a type is refused", edit(t, func(d map[string]any) { d["trigger"] = map[string]any{"cron": "0 9 * * *"} }), "trigger.type"},
		{"an unknown trigger type is refused", edit(t, func(d map[string]any) { trigger(d)["type"] = "email" }), "trigger.type"},
		{"an unknown field of the trigger is refused", edit(t, func(d map[string]any) { trigger(d)["webhook"] = map[string]any{} }), "trigger.webhook"},
		{"a cron on a manual trigger is refused", edit(t, func(d map[string]any) { trigger(d)["cron"] = "0 9 * * *" }), "trigger.cron"},
		{"a schedule with neither cron nor every is refused", edit(t, schedule(map[string]any{})), "trigger.cron"},
		{"a schedule with both cron and every is refused", edit(t, schedule(map[string]any{"cron": "0 9 * * *", "timezone": "UTC", "every": "1h"})), "trigger.every"},
		{"a cron of six fields is refused", edit(t, schedule(map[string]any{"cron": "0 0 9 * * *", "timezone": "UTC"})), "trigger.cron"},
		{"a cron of four fields is refused", edit(t, schedule(map[string]any{"cron": "0 9 * *", "timezone": "UTC"})), "trigger.cron"},
		{"a cron descriptor is refused", edit(t, schedule(map[string]any{"cron": "@every 1s", "timezone": "UTC"})), "trigger.cron"},
		{"a cron with its own time zone is refused", edit(t, schedule(map[string]any{"cron": "TZ=UTC 0 9 * *", "timezone": "UTC"})), "trigger.cron"},
		{"a cron with a value out of range is refused", edit(t, schedule(map[string]any{"cron": "60 9 * * *", "timezone": "UTC"})), "trigger.cron"},
		{"a cron restricting both day of month and day of week is refused", edit(t, schedule(map[string]any{"cron": "0 9 1 * MON", "timezone": "UTC"})), "trigger.cron"},
		{"a cron that never fires is refused", edit(t, schedule(map[string]any{"cron": "0 9 30 2 *", "timezone": "UTC"})), "trigger.cron"},
		{"a cron without a timezone is refused", edit(t, schedule(map[string]any{"cron": "0 9 * * *"})), "trigger.timezone"},
		{"a timezone that is not an IANA name is refused", edit(t, schedule(map[string]any{"cron": "0 9 * * *", "timezone": "Mars/Olympus"})), "trigger.timezone"},
		{"the machine's own time zone is refused", edit(t, schedule(map[string]any{"cron": "0 9 * * *", "timezone": "Local"})), "trigger.timezone"},
		{"every under a minute is refused", edit(t, schedule(map[string]any{"every": "30s"})), "trigger.every"},
		{"every not in whole minutes is refused", edit(t, schedule(map[string]any{"every": "90s"})), "trigger.every"},
		{"every that is not a duration is refused", edit(t, schedule(map[string]any{"every": "1d"})), "trigger.every"},
		{"every over a year is refused", edit(t, schedule(map[string]any{"every": "8761h"})), "trigger.every"},
		{"a timezone with every is refused", edit(t, schedule(map[string]any{"every": "1h", "timezone": "UTC"})), "trigger.timezone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := definition.Parse(tt.body, exists)
			e := validationError(t, err)
			if got := fields(e); len(got) != 1 || got[0] != tt.field {
				t.Fatalf("fields %q, want only %q: %+v", got, tt.field, e.Details)
			}
			if e.Details[0].Message == "" {
				t.Fatal("a detail without a message")
			}
		})
	}
}

// The rules of the fan-outs say why, in the words of the contract: each
// message below is the exact one.
func TestTheFanOutRulesSayWhy(t *testing.T) {
	checkOneProblemEach(t, []oneProblem{
		{"an unknown type names every type", edit(t, func(d map[string]any) { step(d, 1)["type"] = "lambda" }),
			"steps[1].type", "must be http, transform, condition, delay, foreach, parallel, workflow or wait_for_signal"},
		{"a foreach names the types it may hold", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "delay", "with": map[string]any{"seconds": 5}}
		}),
			"steps[5].with.step.type", "must be http or transform inside a foreach"},
		{"a parallel names the types it may hold", fanOut(t, func(d map[string]any) { branch(d, 1)["type"] = "condition" }),
			"steps[6].with.steps[1].type", "must be http or transform inside a parallel"},
		{"a concurrency is a range", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 0 }),
			"steps[5].with.concurrency", "must be an integer from 1 to 20"},
		{"an id of a foreach's step is the foreach's", fanOut(t, func(d map[string]any) { eachStep(d)["id"] = "line" }),
			"steps[5].with.step.id", "is the foreach's: leave it out, each item runs under the foreach step's id"},
		{"a retry of a foreach's step is the foreach's", fanOut(t, func(d map[string]any) { eachStep(d)["retry"] = map[string]any{"maxAttempts": 2} }),
			"steps[5].with.step.retry", "is the foreach's: put retry on the foreach step, it applies to each item"},
		{"a timeout of a foreach's step is the foreach's", fanOut(t, func(d map[string]any) { eachStep(d)["timeoutSeconds"] = 5 }),
			"steps[5].with.step.timeoutSeconds", "is the foreach's: put timeoutSeconds on the foreach step, it applies to each item's attempts"},
		{"onError of a foreach's step is the foreach's", fanOut(t, func(d map[string]any) { eachStep(d)["onError"] = "fail" }),
			"steps[5].with.step.onError", "is the foreach's: put onError on the foreach step, which fails when an item fails"},
		{"too few steps of a parallel", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(1) }),
			"steps[6].with.steps", "must have at least 2 steps: a single step needs no parallel"},
		{"too many steps of a parallel", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(11) }),
			"steps[6].with.steps", "must have at most 10 steps"},
		{"a retry of a parallel is its steps'", fanOut(t, func(d map[string]any) { step(d, 6)["retry"] = map[string]any{"maxAttempts": 2} }),
			"steps[6].retry", "is not for parallel steps: each inner step has its own retry"},
		{"a timeout of a parallel is its steps'", fanOut(t, func(d map[string]any) { step(d, 6)["timeoutSeconds"] = 5 }),
			"steps[6].timeoutSeconds", "is not for parallel steps: each inner step has its own timeoutSeconds"},
		{"onError of a parallel's step is the parallel's", fanOut(t, func(d map[string]any) { branch(d, 1)["onError"] = "continue" }),
			"steps[6].with.steps[1].onError", "is the parallel's: put onError on the parallel step, which fails when one of its steps fails"},
		{"an inner id clashing with a top-level one names the step", fanOut(t, func(d map[string]any) { branch(d, 1)["id"] = "pause" }),
			"steps[6].with.steps[1].id", "is already the id of steps[3]"},
		{"an inner id clashing with an inner one names the step", fanOut(t, func(d map[string]any) { branch(d, 1)["id"] = "audit" }),
			"steps[6].with.steps[1].id", "is already the id of steps[6].with.steps[0]"},
		{"an else into a parallel names the parallel", fanOut(t, func(d map[string]any) { step(d, 2)["else"] = "audit" }),
			"steps[2].else", `names a step inside the parallel fanout; else may name only a top-level step (or "end")`},
	})
}

// The rules of the workflow step say why: each message below is the exact
// one.
func TestTheWorkflowStepRulesSayWhy(t *testing.T) {
	checkOneProblemEach(t, []oneProblem{
		{"a workflowId is required", subWorkflow(t, func(d map[string]any) { delete(with(d, 5), "workflowId") }),
			"steps[5].with.workflowId", "is required"},
		{"a workflowId is a workflow id", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "run_01m8fdx457kqe1e4k47eh6x42b" }),
			"steps[5].with.workflowId", "must be a workflow id (wf_…)"},
		{"an input compiles", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "nosuchfunction(.)" }),
			"steps[5].with.input", "does not compile: function not defined: nosuchfunction/1"},
		{"an input given empty says to leave it out", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "" }),
			"steps[5].with.input", "must not be empty: leave input out for the child's input to be {}"},
		{"a blank input says to leave it out", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "  " }),
			"steps[5].with.input", "must not be empty: leave input out for the child's input to be {}"},
		{"a version is a range", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 0 }),
			"steps[5].with.version", "must be an integer from 1 to 2147483647"},
		{"a retry of a workflow step is the child's", subWorkflow(t, func(d map[string]any) { step(d, 5)["retry"] = map[string]any{"maxAttempts": 2} }),
			"steps[5].retry", "is not for workflow steps: the child run has its own steps and retries"},
		{"a timeout of a workflow step is the child's", subWorkflow(t, func(d map[string]any) { step(d, 5)["timeoutSeconds"] = 5 }),
			"steps[5].timeoutSeconds", "is not for workflow steps: the child's own timeoutSeconds bounds it, and the parent's bounds the wait"},
		{"else is a condition's", subWorkflow(t, func(d map[string]any) { step(d, 5)["else"] = "end" }),
			"steps[5].else", "is only for condition steps"},
		{"a member of another type names the workflow step", subWorkflow(t, func(d map[string]any) { with(d, 5)["seconds"] = 0 }),
			"steps[5].with.seconds", "is not a field of workflow steps"},
		{"a workflowId on an http step names the http step", edit(t, func(d map[string]any) { with(d, 0)["workflowId"] = childWorkflow }),
			"steps[0].with.workflowId", "is not a field of http steps"},
		{"a foreach names the types it may hold", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		}), "steps[5].with.step.type", "must be http or transform inside a foreach"},
		{"a parallel names the types it may hold", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "child", "type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		}), "steps[6].with.steps[1].type", "must be http or transform inside a parallel"},
	})
}

func TestValidVariantsAreAccepted(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"a webhook trigger is accepted", edit(t, func(d map[string]any) { trigger(d)["type"] = "webhook" })},
		{"a concurrency limit is accepted", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 1000} })},
		{"a keyed concurrency limit is accepted", edit(t, func(d map[string]any) { d["concurrency"] = map[string]any{"limit": 1, "key": ".input.customer"} })},
		{"a notify of every event is accepted", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "https://hooks.example/runs?team=a", "events": []any{"run.succeeded", "run.failed", "run.timed_out", "run.cancelled", "run.waiting"}}
		})},
		{"a notify to http on loopback is accepted", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "http://127.0.0.1:8080/hooks", "events": []any{"run.failed"}}
		})},
		{"a notify to http on localhost is accepted", edit(t, func(d map[string]any) {
			d["notify"] = map[string]any{"url": "http://localhost:8080/hooks", "events": []any{"run.failed"}}
		})},
		{"a signal wait of a minute is accepted", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"] = "wait_for_signal", map[string]any{"timeoutSeconds": 60}
		})},
		{"a signal wait of 30 days that may fail and go on is accepted", edit(t, func(d map[string]any) {
			step(d, 3)["type"], step(d, 3)["with"], step(d, 3)["onError"] = "wait_for_signal", map[string]any{"timeoutSeconds": 2_592_000}, "continue"
		})},
		{"a cron schedule with a time zone is accepted", edit(t, schedule(map[string]any{"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}))},
		{"a cron restricting only the day of month is accepted", edit(t, schedule(map[string]any{"cron": "*/15 8-18 1,15 * ?", "timezone": "UTC"}))},
		{"a schedule every 15 minutes is accepted", edit(t, schedule(map[string]any{"every": "15m"}))},
		{"a schedule every minute is accepted", edit(t, schedule(map[string]any{"every": "1m"}))},
		{"templates in the path, query and fragment of a url are accepted", edit(t, func(d map[string]any) {
			with(d, 0)["url"] = "https://shop.example:8443/o/{{ .input.id }}?q={{ .input.q | @uri }}&r={{ .input.r }}#{{ .input.f }}"
		})},
		{"a template right after a host that ends with ? or # is accepted", edit(t, func(d map[string]any) {
			with(d, 0)["url"] = "https://shop.example?q={{ .input.q }}"
		})},
		{"an IPv6 host with a port before a templated path is accepted", edit(t, func(d map[string]any) {
			with(d, 0)["url"] = "http://[::1]:8080/{{ .input.id }}"
		})},
		{"templated header values are accepted", edit(t, func(d map[string]any) {
			with(d, 0)["headers"] = map[string]any{"X-Order": "order {{ .input.orderId }}", "Accept": "application/json"}
		})},
		{"a body of any JSON is accepted", edit(t, func(d map[string]any) {
			with(d, 4)["body"] = []any{nil, 1.5, true, "{{ .input }}", map[string]any{"{{ not a template }}": "key names are sent as written"}}
		})},
		{"an empty object body is accepted", edit(t, func(d map[string]any) { with(d, 4)["body"] = map[string]any{} })},
		{"a condition going to a later step is accepted", edit(t, func(d map[string]any) { step(d, 2)["else"] = "notify" })},
		{"limits at their edges are accepted", edit(t, func(d map[string]any) {
			d["name"] = strings.Repeat("n", 200)
			d["description"] = strings.Repeat("d", 2000)
			d["timeoutSeconds"] = 2_592_000
			step(d, 0)["id"] = "o" + strings.Repeat("_", 63)
			step(d, 0)["retry"] = map[string]any{"maxAttempts": 10}
			step(d, 0)["timeoutSeconds"] = 900
			with(d, 3)["seconds"] = 2_592_000
		})},
		{"an input schema with local references is accepted", edit(t, func(d map[string]any) {
			d["inputSchema"] = map[string]any{
				"type": "object", "required": []any{"orderId"},
				"properties": map[string]any{"orderId": map[string]any{"$ref": "#/$defs/id"}},
				"$defs":      map[string]any{"id": map[string]any{"type": "string", "pattern": "^[0-9]+$"}},
			}
		})},
		{"an input schema of an older draft is accepted", edit(t, func(d map[string]any) {
			d["inputSchema"] = map[string]any{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "definitions": map[string]any{}}
		})},
		{"an input schema with nulls inside is accepted", edit(t, func(d map[string]any) { d["inputSchema"] = map[string]any{"enum": []any{nil, "a"}} })},
		{"a foreach and a parallel are accepted", fanOut(t, func(map[string]any) {})},
		{"a foreach at the default concurrency is accepted", fanOut(t, func(d map[string]any) { delete(with(d, 5), "concurrency") })},
		{"concurrency at its edges is accepted", fanOut(t, func(d map[string]any) {
			with(d, 5)["concurrency"] = 20
			again := foreachStep()
			again["id"], again["with"].(map[string]any)["concurrency"] = "again", 1
			d["steps"] = append(d["steps"].([]any), again)
		})},
		{"a foreach of a transform without retry or timeout is accepted", fanOut(t, func(d map[string]any) {
			delete(step(d, 5), "retry")
			delete(step(d, 5), "timeoutSeconds")
			with(d, 5)["step"] = map[string]any{"type": "transform", "with": map[string]any{"jq": "{line: .item, at: .index}"}}
		})},
		{"onError on a foreach is accepted", fanOut(t, func(d map[string]any) { step(d, 5)["onError"] = "continue" })},
		{"a parallel of 10 steps is accepted", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(10) })},
		{"a parallel of two http steps is accepted", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "ping", "type": "http", "with": map[string]any{"method": "HEAD", "url": "https://status.example/"}}
		})},
		{"a condition going to a fan-out is accepted", fanOut(t, func(d map[string]any) { step(d, 2)["else"] = "fanout" })},
		{"a workflow step is accepted", subWorkflow(t, func(map[string]any) {})},
		{"a workflow step with only its workflowId is accepted", subWorkflow(t, func(d map[string]any) {
			delete(step(d, 5), "onError")
			step(d, 5)["with"] = map[string]any{"workflowId": childWorkflow}
		})},
		{"a workflow step's version at its edges is accepted", subWorkflow(t, func(d map[string]any) {
			with(d, 5)["version"] = workflows.MaxWorkflowStepVersion
			again := workflowStep()
			again["id"], again["with"].(map[string]any)["version"] = "again", 1
			d["steps"] = append(d["steps"].([]any), again)
		})},
		{"a workflow step failing the run on error is accepted", subWorkflow(t, func(d map[string]any) { step(d, 5)["onError"] = "fail" })},
		{"a condition going to a workflow step is accepted", subWorkflow(t, func(d map[string]any) { step(d, 2)["else"] = "child" })},
		{"an input of a literal is accepted", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = `{"mode": "full"}` })},
		{"100 steps are accepted", edit(t, func(d map[string]any) {
			var steps []any
			for i := range 100 {
				steps = append(steps, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "delay", "with": map[string]any{"seconds": 1}})
			}
			d["steps"] = steps
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := definition.Parse(tt.body, exists); err != nil {
				t.Fatalf("refused: %v (%+v)", err, err.(*domain.Error).Details)
			}
		})
	}
}

func TestEveryProblemIsReportedTogether(t *testing.T) {
	body := edit(t, func(d map[string]any) {
		d["name"] = ""
		d["colour"] = "blue"
		trigger(d)["type"] = "email"
		step(d, 1)["id"] = "order"
		with(d, 1)["jq"] = ".steps | {"
		step(d, 2)["else"] = "order"
		with(d, 3)["seconds"] = 0
		with(d, 3)["unit"] = "s"
		with(d, 4)["url"] = "ftp://hooks.example"
		with(d, 0)["connection"] = "conn_01jc0000000000000000000001"
		with(d, 0)["method"] = 5
	})
	_, err := definition.Parse(body, exists)
	e := validationError(t, err)
	want := []string{
		"colour", "name", "steps[0].with.connection", "steps[0].with.method", "steps[1].id", "steps[1].with.jq",
		"steps[2].else", "steps[3].with.seconds", "steps[3].with.unit", "steps[4].with.url", "trigger.type",
	}
	if got := fields(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields\n%q\nwant\n%q", got, want)
	}
}

func TestTooManyStepsStillHaveTheirOwnProblemsTold(t *testing.T) {
	body := edit(t, func(d map[string]any) {
		var steps []any
		for i := range 101 {
			steps = append(steps, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "delay", "with": map[string]any{"seconds": 1}})
		}
		steps[7].(map[string]any)["with"] = map[string]any{"seconds": 0}
		d["steps"] = steps
	})
	_, err := definition.Parse(body, exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps", "steps[7].with.seconds"}) {
		t.Fatalf("fields %q", got)
	}
}

// A fan-out inside a fan-out is refused by its type, and what it holds is
// not read: a body of foreach steps nested 4000 deep (within 256 KiB) took
// 25 s to read when every level was read again by the one above.
func TestStepsNestedInAFanOutAreNotRead(t *testing.T) {
	const depth = 4000
	body := `{"name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","type":"foreach","with":{"items":".","step":` +
		strings.Repeat(`{"type":"foreach","with":{"items":".","step":`, depth) +
		`{"type":"transform","with":{"jq":"."},"unread":1}` + strings.Repeat(`}}`, depth) + `}}]}`
	_, err := definition.Parse([]byte(body), exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[0].with.step.type"}) {
		t.Fatalf("fields %q", got)
	}
}

func TestAValueThatCannotBeReadIsReportedOnce(t *testing.T) {
	// with is a string: its members are not also reported as missing.
	_, err := definition.Parse(edit(t, func(d map[string]any) { step(d, 0)["with"] = "GET" }), exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[0].with"}) {
		t.Fatalf("fields %q", got)
	}
}

func TestStepsAreOrderedByIndexNotByText(t *testing.T) {
	body := edit(t, func(d map[string]any) {
		var steps []any
		for i := range 12 {
			steps = append(steps, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "delay", "with": map[string]any{"seconds": 0}})
		}
		d["steps"] = steps
	})
	_, err := definition.Parse(body, exists)
	got := fields(validationError(t, err))
	if len(got) != 12 || got[2] != "steps[2].with.seconds" || got[10] != "steps[10].with.seconds" {
		t.Fatalf("fields %q", got)
	}
}

func TestAConnectionIsLookedUpOncePerID(t *testing.T) {
	calls := 0
	body := edit(t, func(d map[string]any) { with(d, 4)["connection"] = knownConnection })
	_, err := definition.Parse(body, func(id string) (bool, error) {
		calls++
		return exists(id)
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d lookups, want none and 1", err, calls)
	}
}

func TestAFailedLookupIsNotAValidationError(t *testing.T) {
	unavailable := errors.New("store unavailable")
	_, err := definition.Parse([]byte(example), func(string) (bool, error) { return false, unavailable })
	if !errors.Is(err, unavailable) {
		t.Fatalf("error %v, want the lookup's own", err)
	}
}

func TestWithoutALookupNoConnectionExists(t *testing.T) {
	_, err := definition.Parse([]byte(example), nil)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[0].with.connection"}) {
		t.Fatalf("fields %q", got)
	}
}

func TestValidateHoldsADefinitionBuiltInGo(t *testing.T) {
	d := workflows.Definition{
		Name:    "  Built  ",
		Trigger: workflows.Trigger{Type: workflows.TriggerManual},
		Steps: []workflows.Step{
			{ID: "fetch", Type: workflows.StepHTTP, With: workflows.With{Method: "GET", URL: "https://a.example", JQ: "."}},
		},
	}
	err := definition.Validate(&d, exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[0].with.jq"}) {
		t.Fatalf("fields %q", got)
	}
	d.Steps[0].With.JQ = ""
	if err := definition.Validate(&d, exists); err != nil {
		t.Fatal(err)
	}
	if d.Name != "Built" || !d.IsEnabled() || d.Enabled == nil {
		t.Fatalf("not normalized: %q %v", d.Name, d.Enabled)
	}
}

// Validate holds a fan-out built in Go by values (no member is given
// empty there): the members its type does not use, and those a foreach's
// inner step must leave to the foreach.
func TestValidateHoldsAFanOutBuiltInGo(t *testing.T) {
	attempts := 2
	d := workflows.Definition{
		Name:    "Built",
		Trigger: workflows.Trigger{Type: workflows.TriggerManual},
		Steps: []workflows.Step{
			{ID: "each", Type: workflows.StepForeach, With: workflows.With{
				Items: ".input.lines", Concurrency: 2, JQ: ".",
				Step: &workflows.Step{ID: "line", Type: workflows.StepTransform, With: workflows.With{JQ: ".item"}, TimeoutSeconds: &attempts},
			}},
			{ID: "both", Type: workflows.StepParallel, With: workflows.With{Steps: []workflows.Step{
				{ID: "a", Type: workflows.StepTransform, With: workflows.With{JQ: ".", Seconds: 1}},
				{ID: "b", Type: workflows.StepHTTP, With: workflows.With{Method: "GET", URL: "https://a.example", Connection: knownConnection}, Retry: &workflows.Retry{MaxAttempts: attempts}},
			}, Items: "."}},
		},
	}
	want := []string{"steps[0].with.jq", "steps[0].with.step.id", "steps[0].with.step.timeoutSeconds", "steps[1].with.items", "steps[1].with.steps[0].with.seconds"}
	if got := fields(validationError(t, definition.Validate(&d, exists))); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields\n%q\nwant\n%q", got, want)
	}
	d.Steps[0].With.JQ, d.Steps[0].With.Step.ID, d.Steps[0].With.Step.TimeoutSeconds = "", "", nil
	d.Steps[1].With.Items, d.Steps[1].With.Steps[0].With.Seconds = "", 0
	if err := definition.Validate(&d, exists); err != nil {
		t.Fatal(err)
	}
}

// Validate holds a workflow step built in Go by values: the members its
// type does not use, a blank input, a version out of range and the retry
// and timeout it cannot have.
func TestValidateHoldsAWorkflowStepBuiltInGo(t *testing.T) {
	timeout := 5
	d := workflows.Definition{
		Name:    "Built",
		Trigger: workflows.Trigger{Type: workflows.TriggerManual},
		Steps: []workflows.Step{
			{ID: "child", Type: workflows.StepWorkflow, With: workflows.With{WorkflowID: "wf_x", Input: " ", Version: -1, JQ: "."},
				Retry: &workflows.Retry{MaxAttempts: 2}, TimeoutSeconds: &timeout},
			{ID: "shape", Type: workflows.StepTransform, With: workflows.With{JQ: ".", WorkflowID: childWorkflow, Input: ".", Version: 1}},
		},
	}
	want := []string{
		"steps[0].retry", "steps[0].timeoutSeconds", "steps[0].with.input", "steps[0].with.jq", "steps[0].with.version", "steps[0].with.workflowId",
		"steps[1].with.input", "steps[1].with.version", "steps[1].with.workflowId",
	}
	if got := fields(validationError(t, definition.Validate(&d, exists))); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields\n%q\nwant\n%q", got, want)
	}
	d.Steps[0].With = workflows.With{WorkflowID: childWorkflow, Input: ".input", Version: 2}
	d.Steps[0].Retry, d.Steps[0].TimeoutSeconds = nil, nil
	d.Steps[1].With = workflows.With{JQ: "."}
	if err := definition.Validate(&d, exists); err != nil {
		t.Fatal(err)
	}
}

func TestTheConnectionsOfInnerStepsAreLookedUp(t *testing.T) {
	var asked []string
	_, err := definition.Parse(fanOut(t, func(d map[string]any) {
		eachStep(d)["with"].(map[string]any)["connection"] = "conn_01jc0000000000000000000002"
		branch(d, 0)["with"].(map[string]any)["connection"] = "conn_01jc0000000000000000000003"
	}), func(id string) (bool, error) {
		asked = append(asked, id)
		return exists(id)
	})
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[5].with.step.with.connection", "steps[6].with.steps[0].with.connection"}) {
		t.Fatalf("fields %q", got)
	}
	if want := []string{knownConnection, "conn_01jc0000000000000000000002", "conn_01jc0000000000000000000003"}; !reflect.DeepEqual(asked, want) {
		t.Fatalf("asked for %q, want %q", asked, want)
	}
}

func TestStepTypes(t *testing.T) {
	for _, known := range definition.StepTypes() {
		if !definition.Known(known) {
			t.Errorf("%s is listed but not known", known)
		}
	}
	if got := definition.StepTypes(); !reflect.DeepEqual(got, []workflows.StepType{
		workflows.StepHTTP, workflows.StepTransform, workflows.StepCondition, workflows.StepDelay,
		workflows.StepForeach, workflows.StepParallel, workflows.StepWorkflow, workflows.StepWaitForSignal,
	}) {
		t.Errorf("step types %q", got)
	}
	for _, unknown := range []workflows.StepType{"", "lambda", "HTTP", "Workflow"} {
		if definition.Known(unknown) {
			t.Errorf("%q is known", unknown)
		}
	}
	if got := definition.InnerStepTypes(); !reflect.DeepEqual(got, []workflows.StepType{workflows.StepHTTP, workflows.StepTransform}) {
		t.Errorf("inner step types %q", got)
	}
}

// TestInputSchemaLoadsNothing proves the $ref of an input schema reaches no
// server and no file: each target below would compile if it were loaded.
func TestInputSchemaLoadsNothing(t *testing.T) {
	var hits atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type": "string"}`))
	}))
	defer server.Close()
	file := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(file, []byte(`{"type": "string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, schema string }{
		{"a $ref to a server is not fetched", `{"$ref": "` + server.URL + `/schema.json"}`},
		{"a $schema on a server is not fetched", `{"$schema": "` + server.URL + `/meta.json"}`},
		{"a $ref to a file is not read", `{"$ref": "file://` + file + `"}`},
		{"a $ref to /etc/passwd is not read", `{"$ref": "file:///etc/passwd"}`},
		{"a relative $ref under a remote $id is not fetched", `{"$id": "` + server.URL + `/root.json", "$ref": "schema.json"}`},
		{"a $ref to example.com is not fetched", `{"$ref": "https://example.com/x.json"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inputschema.Compile([]byte(tt.schema))
			if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"inputSchema"}) {
				t.Fatalf("fields %q", got)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the server was asked %d times", n)
			}
		})
	}
}

func TestJQCannotReadTheEnvironment(t *testing.T) {
	t.Setenv("WORKFLOWS_TEST_SECRET", "s3cret")
	for _, program := range []string{"$ENV", "env"} {
		code, err := jqtemplate.CompileJQ(program)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := code.Run(nil).Next()
		if env, ok := v.(map[string]any); !ok || len(env) != 0 {
			t.Fatalf("%s = %v, want an empty object", program, v)
		}
	}
}

func TestCompileTemplate(t *testing.T) {
	tmpl, err := jqtemplate.CompileTemplate("https://shop.example/orders/{{ .input.orderId }}?x={{.a}}")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range tmpl.Parts {
		if p.Code != nil {
			parts = append(parts, "expr:"+p.Expr)
		} else {
			parts = append(parts, "text:"+p.Text)
		}
	}
	want := []string{"text:https://shop.example/orders/", "expr: .input.orderId ", "text:?x=", "expr:.a"}
	if !reflect.DeepEqual(parts, want) {
		t.Fatalf("parts %q, want %q", parts, want)
	}
	v, _ := tmpl.Parts[1].Code.Run(map[string]any{"input": map[string]any{"orderId": "42"}}).Next()
	if v != "42" {
		t.Fatalf("the expression gives %v", v)
	}
	if _, err := jqtemplate.CompileTemplate("{{ {a: {b: 1}} }}"); err == nil || !strings.Contains(err.Error(), "} }") {
		t.Fatalf("nested objects: %v, want a hint to close them with } }", err)
	}
	if _, err := jqtemplate.CompileTemplate("{{ {a: {b: 1} } }}"); err != nil {
		t.Fatalf("nested objects closed apart: %v", err)
	}
}

func TestSchedulerExpression(t *testing.T) {
	tests := []struct {
		name       string
		trigger    workflows.Trigger
		expression string
		timezone   string
	}{
		{"weekdays become day names and day of month becomes ?", workflows.Trigger{Type: "schedule", Cron: "0 9 * * MON-FRI", Timezone: "Europe/Berlin"}, "cron(0 9 ? * MON-FRI *)", "Europe/Berlin"},
		{"Sunday 0 is SUN", workflows.Trigger{Type: "schedule", Cron: "30 6 * * 0,6", Timezone: "UTC"}, "cron(30 6 ? * SUN,SAT *)", "UTC"},
		{"every day keeps * and day of week becomes ?", workflows.Trigger{Type: "schedule", Cron: "0 0 * * *", Timezone: "UTC"}, "cron(0 0 * * ? *)", "UTC"},
		{"steps are written out", workflows.Trigger{Type: "schedule", Cron: "*/15 8-18 1,15 */6 ?", Timezone: "UTC"}, "cron(0,15,30,45 8-18 1,15 1,7 ? *)", "UTC"},
		{"whole minutes are a rate in minutes", workflows.Trigger{Type: "schedule", Every: "15m"}, "rate(15 minutes)", ""},
		{"one minute is singular", workflows.Trigger{Type: "schedule", Every: "1m"}, "rate(1 minute)", ""},
		{"whole hours are a rate in hours", workflows.Trigger{Type: "schedule", Every: "2h"}, "rate(2 hours)", ""},
		{"whole days are a rate in days", workflows.Trigger{Type: "schedule", Every: "24h"}, "rate(1 day)", ""},
		{"an hour and a half is 90 minutes", workflows.Trigger{Type: "schedule", Every: "1h30m"}, "rate(90 minutes)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expression, timezone, err := definition.SchedulerExpression(tt.trigger)
			if err != nil || expression != tt.expression || timezone != tt.timezone {
				t.Fatalf("%q %q %v, want %q %q", expression, timezone, err, tt.expression, tt.timezone)
			}
		})
	}
	t.Run("a manual trigger has no expression", func(t *testing.T) {
		if _, _, err := definition.SchedulerExpression(workflows.Trigger{Type: "manual"}); err == nil {
			t.Fatal("no error")
		}
	})
}

// The refusal of a template outside the path says what to write instead,
// and never quotes the URL (it may hold credentials).
func TestAURLTemplateBeforeTheEndOfThePortSaysWhy(t *testing.T) {
	for _, url := range []string{"https://shop.example{{ .input.path }}", "http://{{ .input.h }}:8080/", "https://shop.example:{{ .input.p }}/x"} {
		body := edit(t, func(d map[string]any) { with(d, 0)["url"] = url })
		e := validationError(t, func() error { _, err := definition.Parse(body, exists); return err }())
		if len(e.Details) != 1 || !strings.Contains(e.Details[0].Message, "only the path, query or fragment") || strings.Contains(e.Details[0].Message, "shop.example") {
			t.Errorf("%s: %+v", url, e.Details)
		}
	}
	body := edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://ada:hunter2@shop.example/" })
	e := validationError(t, func() error { _, err := definition.Parse(body, exists); return err }())
	if len(e.Details) != 1 || !strings.Contains(e.Details[0].Message, "user name or password") || strings.Contains(e.Details[0].Message, "hunter2") {
		t.Errorf("userinfo: %+v", e.Details)
	}
}

// oneProblem is a definition refused for exactly one problem, at field,
// with message.
type oneProblem struct {
	name    string
	body    []byte
	field   string
	message string
}

func checkOneProblemEach(t *testing.T, tests []oneProblem) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := definition.Parse(tt.body, exists)
			e := validationError(t, err)
			want := []domain.FieldError{{Field: tt.field, Message: tt.message}}
			if !reflect.DeepEqual(e.Details, want) {
				t.Fatalf("details %+v\nwant %+v", e.Details, want)
			}
		})
	}
}
