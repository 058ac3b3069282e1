// Package workflowstest holds the definitions and edits the workflow tests
// share: the model's and service's (internal/workflows) and the rules'
// (internal/workflows/definition) test the same example from two sides.
package workflowstest

import (
	"testing"

	"github.com/go-json-experiment/json"
)

// KnownConnection is the one connection the tests' account has.
const KnownConnection = "conn_01jc0000000000000000000000"

// Example is the definition of API.md ("Workflows"), with a real-looking
// connection id: steps[0] http with a connection, [1] transform,
// [2] condition, [3] delay, [4] http with a body.
const Example = `{
  "name": "Notify big orders",
  "description": "optional",
  "enabled": true,
  "trigger": {"type": "manual"},
  "steps": [
    {"id": "order", "type": "http",
     "with": {"method": "GET", "url": "https://shop.example/orders/{{ .input.orderId }}",
              "connection": "` + KnownConnection + `"},
     "retry": {"maxAttempts": 3}, "timeoutSeconds": 10},
    {"id": "summary", "type": "transform", "with": {"jq": ".steps.order.output.body | {id, total}"}},
    {"id": "isBig", "type": "condition", "with": {"jq": ".steps.summary.output.total > 100"},
     "else": "end"},
    {"id": "pause", "type": "delay", "with": {"seconds": 30}},
    {"id": "notify", "type": "http",
     "with": {"method": "POST", "url": "https://hooks.example/notify", "body": {"order": "{{ .steps.summary.output.id }}"}}}
  ]
}`

// Edit returns the Example with change applied to it as a JSON tree.
func Edit(t *testing.T, change func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(Example), &d); err != nil {
		t.Fatal(err)
	}
	change(d)
	body, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Step is the i-th step of a definition's JSON tree.
func Step(d map[string]any, i int) map[string]any { return d["steps"].([]any)[i].(map[string]any) }

// With is the i-th step's with.
func With(d map[string]any, i int) map[string]any { return Step(d, i)["with"].(map[string]any) }

// Trigger is the definition's trigger.
func Trigger(d map[string]any) map[string]any { return d["trigger"].(map[string]any) }

// Schedule makes the trigger a schedule one with fields.
func Schedule(fields map[string]any) func(d map[string]any) {
	return func(d map[string]any) {
		fields["type"] = "schedule"
		d["trigger"] = fields
	}
}
