package workflows_test

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
)

// knownConnection is the one connection the fake account has.
const knownConnection = "conn_01jc0000000000000000000000"

// example is the definition of API.md ("Workflows"), with a real-looking
// connection id: steps[0] http with a connection, [1] transform,
// [2] condition, [3] delay, [4] http with a body.
const example = `{
  "name": "Notify big orders",
  "description": "optional",
  "enabled": true,
  "trigger": {"type": "manual"},
  "steps": [
    {"id": "order", "type": "http",
     "with": {"method": "GET", "url": "https://shop.example/orders/{{ .input.orderId }}",
              "connection": "` + knownConnection + `"},
     "retry": {"maxAttempts": 3}, "timeoutSeconds": 10},
    {"id": "summary", "type": "transform", "with": {"jq": ".steps.order.output.body | {id, total}"}},
    {"id": "isBig", "type": "condition", "with": {"jq": ".steps.summary.output.total > 100"},
     "else": "end"},
    {"id": "pause", "type": "delay", "with": {"seconds": 30}},
    {"id": "notify", "type": "http",
     "with": {"method": "POST", "url": "https://hooks.example/notify", "body": {"order": "{{ .steps.summary.output.id }}"}}}
  ]
}`

// exists is the fake account's ConnectionExists.
func exists(id string) (bool, error) { return id == knownConnection, nil }

// edit returns the example with change applied to it as a JSON tree.
func edit(t *testing.T, change func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(example), &d); err != nil {
		t.Fatal(err)
	}
	change(d)
	body, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func step(d map[string]any, i int) map[string]any { return d["steps"].([]any)[i].(map[string]any) }
func with(d map[string]any, i int) map[string]any { return step(d, i)["with"].(map[string]any) }
func trigger(d map[string]any) map[string]any     { return d["trigger"].(map[string]any) }

func schedule(fields map[string]any) func(d map[string]any) {
	return func(d map[string]any) {
		fields["type"] = "schedule"
		d["trigger"] = fields
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
	d, err := workflows.Parse([]byte(example), func(id string) (bool, error) {
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
	d, err := workflows.Parse([]byte(example), exists)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	again, err := workflows.Parse(stored, exists)
	if err != nil {
		t.Fatalf("the stored form is refused: %v\n%s", err, stored)
	}
	if !reflect.DeepEqual(d, again) {
		t.Fatalf("read back differently:\n%+v\n%+v", d, again)
	}
}

func TestEnabledIsTrueWhenLeftOut(t *testing.T) {
	d, err := workflows.Parse(edit(t, func(d map[string]any) { delete(d, "enabled") }), exists)
	if err != nil {
		t.Fatal(err)
	}
	if d.Enabled == nil || !*d.Enabled {
		t.Fatalf("enabled = %v, want true filled in", d.Enabled)
	}
	d, err = workflows.Parse(edit(t, func(d map[string]any) { d["enabled"] = false }), exists)
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
			_, err := workflows.Parse(tt.body, exists)
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

func TestValidVariantsAreAccepted(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"a webhook trigger is accepted", edit(t, func(d map[string]any) { trigger(d)["type"] = "webhook" })},
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
			if _, err := workflows.Parse(tt.body, exists); err != nil {
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
	_, err := workflows.Parse(body, exists)
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
	_, err := workflows.Parse(body, exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps", "steps[7].with.seconds"}) {
		t.Fatalf("fields %q", got)
	}
}

func TestAValueThatCannotBeReadIsReportedOnce(t *testing.T) {
	// with is a string: its members are not also reported as missing.
	_, err := workflows.Parse(edit(t, func(d map[string]any) { step(d, 0)["with"] = "GET" }), exists)
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
	_, err := workflows.Parse(body, exists)
	got := fields(validationError(t, err))
	if len(got) != 12 || got[2] != "steps[2].with.seconds" || got[10] != "steps[10].with.seconds" {
		t.Fatalf("fields %q", got)
	}
}

func TestAConnectionIsLookedUpOncePerID(t *testing.T) {
	calls := 0
	body := edit(t, func(d map[string]any) { with(d, 4)["connection"] = knownConnection })
	_, err := workflows.Parse(body, func(id string) (bool, error) {
		calls++
		return exists(id)
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d lookups, want none and 1", err, calls)
	}
}

func TestAFailedLookupIsNotAValidationError(t *testing.T) {
	unavailable := errors.New("store unavailable")
	_, err := workflows.Parse([]byte(example), func(string) (bool, error) { return false, unavailable })
	if !errors.Is(err, unavailable) {
		t.Fatalf("error %v, want the lookup's own", err)
	}
}

func TestWithoutALookupNoConnectionExists(t *testing.T) {
	_, err := workflows.Parse([]byte(example), nil)
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
	err := d.Validate(exists)
	if got := fields(validationError(t, err)); !reflect.DeepEqual(got, []string{"steps[0].with.jq"}) {
		t.Fatalf("fields %q", got)
	}
	d.Steps[0].With.JQ = ""
	if err := d.Validate(exists); err != nil {
		t.Fatal(err)
	}
	if d.Name != "Built" || !d.IsEnabled() || d.Enabled == nil {
		t.Fatalf("not normalized: %q %v", d.Name, d.Enabled)
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
			_, err := workflows.CompileInputSchema([]byte(tt.schema))
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
		code, err := workflows.CompileJQ(program)
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
	tmpl, err := workflows.CompileTemplate("https://shop.example/orders/{{ .input.orderId }}?x={{.a}}")
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
	if _, err := workflows.CompileTemplate("{{ {a: {b: 1}} }}"); err == nil || !strings.Contains(err.Error(), "} }") {
		t.Fatalf("nested objects: %v, want a hint to close them with } }", err)
	}
	if _, err := workflows.CompileTemplate("{{ {a: {b: 1} } }}"); err != nil {
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
			expression, timezone, err := tt.trigger.SchedulerExpression()
			if err != nil || expression != tt.expression || timezone != tt.timezone {
				t.Fatalf("%q %q %v, want %q %q", expression, timezone, err, tt.expression, tt.timezone)
			}
		})
	}
	t.Run("a manual trigger has no expression", func(t *testing.T) {
		if _, _, err := (workflows.Trigger{Type: "manual"}).SchedulerExpression(); err == nil {
			t.Fatal("no error")
		}
	})
}

// The refusal of a template outside the path says what to write instead,
// and never quotes the URL (it may hold credentials).
func TestAURLTemplateBeforeTheEndOfThePortSaysWhy(t *testing.T) {
	for _, url := range []string{"https://shop.example{{ .input.path }}", "http://{{ .input.h }}:8080/", "https://shop.example:{{ .input.p }}/x"} {
		body := edit(t, func(d map[string]any) { with(d, 0)["url"] = url })
		e := validationError(t, func() error { _, err := workflows.Parse(body, exists); return err }())
		if len(e.Details) != 1 || !strings.Contains(e.Details[0].Message, "only the path, query or fragment") || strings.Contains(e.Details[0].Message, "shop.example") {
			t.Errorf("%s: %+v", url, e.Details)
		}
	}
	body := edit(t, func(d map[string]any) { with(d, 0)["url"] = "https://ada:hunter2@shop.example/" })
	e := validationError(t, func() error { _, err := workflows.Parse(body, exists); return err }())
	if len(e.Details) != 1 || !strings.Contains(e.Details[0].Message, "user name or password") || strings.Contains(e.Details[0].Message, "hunter2") {
		t.Errorf("userinfo: %+v", e.Details)
	}
}
