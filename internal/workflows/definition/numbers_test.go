package definition_test

import (
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// integralExample is the example with every kind of integer a definition
// has, each written as a client that computes in floats sends it (Python's
// json.dumps(60.0) is 60.0): the workflow's timeout and concurrency limit,
// a step's retry and timeout, a delay's seconds, a foreach's concurrency, a
// workflow step's version and a wait_for_signal's timeout. The last http
// step's body holds 60.0 too, which is any JSON and must stay as written.
func integralExample(t *testing.T) string {
	t.Helper()
	body := strings.Replace(example, `"enabled": true,`, `"enabled": true, "timeoutSeconds": 60.0, "concurrency": {"limit": 2.0},`, 1)
	for old, replacement := range map[string]string{
		`"retry": {"maxAttempts": 3}, "timeoutSeconds": 10}`: `"retry": {"maxAttempts": 3e0}, "timeoutSeconds": 1E1}`,
		`"with": {"seconds": 30}`:                            `"with": {"seconds": 30.000}`,
		`"body": {"order": "{{ .steps.summary.output.id }}"}}}`: `"body": {"order": "{{ .steps.summary.output.id }}", "n": 60.0}}},
    {"id": "each", "type": "foreach", "with": {"items": ".input.lines", "concurrency": 0.3e1, "step": {"type": "transform", "with": {"jq": "."}}}},
    {"id": "child", "type": "workflow", "with": {"workflowId": "` + childWorkflow + `", "version": 2e0}},
    {"id": "approve", "type": "wait_for_signal", "with": {"timeoutSeconds": 6e1}}`,
	} {
		if !strings.Contains(body, old) {
			t.Fatalf("the example no longer holds %s", old)
		}
		body = strings.Replace(body, old, replacement, 1)
	}
	return body
}

// TestIntegersMayBeWrittenAsIntegralNumbers: 60.0, 3e0, 1E1 and 30.000
// are the integers 60, 3, 10 and 30 wherever a definition has an integer,
// and are stored as such; a step's body keeps its numbers as written.
func TestIntegersMayBeWrittenAsIntegralNumbers(t *testing.T) {
	d, err := definition.Parse([]byte(integralExample(t)), exists)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	order, pause, notify := d.Steps[0], d.Steps[3], d.Steps[4]
	each, child, approve := d.Steps[5], d.Steps[6], d.Steps[7]
	switch {
	case d.TimeoutSeconds == nil || *d.TimeoutSeconds != 60:
		t.Errorf("timeoutSeconds read as %v", d.TimeoutSeconds)
	case d.Concurrency == nil || d.Concurrency.Limit != 2:
		t.Errorf("concurrency read as %+v", d.Concurrency)
	case order.Retry == nil || order.Retry.MaxAttempts != 3 || order.TimeoutSeconds == nil || *order.TimeoutSeconds != 10:
		t.Errorf("steps[0] read as %+v", order)
	case pause.With.Seconds != 30 || each.With.Concurrency != 3 || child.With.Version != 2 || approve.With.TimeoutSeconds != 60:
		t.Errorf("seconds %d, concurrency %d, version %d, signal timeout %d", pause.With.Seconds, each.With.Concurrency, child.With.Version, approve.With.TimeoutSeconds)
	case string(notify.With.Body) != `{"order":"{{ .steps.summary.output.id }}","n":60.0}`:
		t.Errorf("a step's body rewritten: %s", notify.With.Body)
	}
	stored, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"timeoutSeconds":60,`, `"limit":2`, `"maxAttempts":3}`, `"timeoutSeconds":10`, `"seconds":30`, `"concurrency":3`, `"version":2`} {
		if !strings.Contains(string(stored), want) {
			t.Errorf("stored form lacks %s:\n%s", want, stored)
		}
	}
}

// TestNumbersThatAreNotIntegersAreStillRefused: a fraction, a number too
// large for any field and one beyond a field's range are refused as they
// were, with the messages they had.
func TestNumbersThatAreNotIntegersAreStillRefused(t *testing.T) {
	integral := integralExample(t)
	cases := []struct{ old, replacement, field, message string }{
		{`"timeoutSeconds": 60.0`, `"timeoutSeconds": 60.5`, "timeoutSeconds", "must be an integer"},
		{`"timeoutSeconds": 60.0`, `"timeoutSeconds": 1e400`, "timeoutSeconds", "must be an integer"},
		{`"timeoutSeconds": 60.0`, `"timeoutSeconds": 2.592001e6`, "timeoutSeconds", "must be an integer from 1 to 2592000"},
		{`"maxAttempts": 3e0`, `"maxAttempts": -0.5`, "steps[0].retry.maxAttempts", "must be an integer"},
		{`"maxAttempts": 3e0`, `"maxAttempts": 0.0`, "steps[0].retry.maxAttempts", "must be an integer from 1 to"},
		{`"seconds": 30.000`, `"seconds": 30.001`, "steps[3].with.seconds", "must be an integer"},
		{`"version": 2e0`, `"version": 3e9`, "steps[6].with.version", "must be an integer from 1 to 2147483647"},
		{`"version": 2e0`, `"version": 1e20`, "steps[6].with.version", "must be an integer"},
		{`"concurrency": 0.3e1`, `"concurrency": 0.0`, "steps[5].with.concurrency", "must be an integer from 1 to"},
	}
	for _, c := range cases {
		body := strings.Replace(integral, c.old, c.replacement, 1)
		_, err := definition.Parse([]byte(body), exists)
		e := validationError(t, err)
		if len(e.Details) != 1 || e.Details[0].Field != c.field || !strings.HasPrefix(e.Details[0].Message, c.message) {
			t.Errorf("%s: %+v, want one detail on %s saying %q", c.replacement, e.Details, c.field, c.message)
		}
	}
}

// TestABodyOfOnlyWhitespaceIsRefused: no body at all is read as {} (and
// refused for what {} lacks), but a body of only whitespace is not JSON and
// is refused as such, on body alone.
func TestABodyOfOnlyWhitespaceIsRefused(t *testing.T) {
	for _, body := range []string{" ", "  \n", "\r\n\t"} {
		_, err := definition.Parse([]byte(body), exists)
		e := validationError(t, err)
		if len(e.Details) != 1 || e.Details[0].Field != "body" || !strings.Contains(e.Details[0].Message, "only whitespace is not JSON") {
			t.Errorf("body %q: %+v, want one detail on body", body, e.Details)
		}
	}
	_, err := definition.Parse(nil, exists)
	e := validationError(t, err)
	if got := fields(e); len(got) == 0 || strings.Contains(strings.Join(got, " "), "body") {
		t.Errorf("no body: refused on %v, want the fields {} lacks", got)
	}
}
