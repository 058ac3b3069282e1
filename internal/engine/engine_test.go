package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// compile parses a definition as the API does (every connection exists) and
// compiles it.
func compile(t *testing.T, source string) *Compiled {
	t.Helper()
	def, err := definition.Parse([]byte(source), func(string) (bool, error) { return true, nil })
	if err != nil {
		t.Fatalf("the definition does not parse: %v", err)
	}
	c, err := Compile(def)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// oneStep is a workflow of the one step given (as JSON).
func oneStep(t *testing.T, step string) *Compiled {
	t.Helper()
	return compile(t, `{"name": "w", "trigger": {"type": "manual"}, "steps": [`+step+`]}`)
}

// testEngine is an engine in the loopback mode whose DNS fails the test: no
// test looks anything up.
func testEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	if opts.Policy == (OutboundPolicy{}) {
		opts.Policy = OutboundPolicy{Mode: TargetsLoopback}
	}
	if opts.lookup == nil {
		opts.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
			t.Errorf("DNS lookup of %q", host)
			return nil, errors.New("no DNS in tests")
		}
	}
	return New(opts)
}

// refuseDial fails the test if anything is dialled.
func refuseDial(t *testing.T) dialFunc {
	return func(_ context.Context, _, address string) (net.Conn, error) {
		t.Errorf("dialled %s", address)
		return nil, errors.New("no dialling here")
	}
}

func runContext(input any) Context {
	return Context{
		"input":    input,
		"steps":    map[string]any{"first": map[string]any{"output": map[string]any{"id": json.Number("12345678901234567890"), "total": 150.5}, "status": "succeeded"}},
		"run":      map[string]any{"id": "run_1"},
		"workflow": map[string]any{"id": "wf_1"},
	}
}

func stepError(t *testing.T, err error) *StepError {
	t.Helper()
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("want a *StepError, got %v", err)
	}
	return se
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	out, err := marshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestTransformRunsOverTheContext(t *testing.T) {
	c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": "{id: .steps.first.output.id, big: (.steps.first.output.total > 100), who: .input.name}"}}`)
	res, err := testEngine(t, Options{}).Execute(context.Background(), c, 0, runContext(map[string]any{"name": "ada"}), "k")
	if err != nil {
		t.Fatal(err)
	}
	// The 20-digit id is exact: json.Number goes through gojq unrounded.
	if got, want := asJSON(t, res.Output), `{"big":true,"id":12345678901234567890,"who":"ada"}`; got != want {
		t.Errorf("output %s, want %s", got, want)
	}
	if res.Jump != "" || res.Wait != 0 {
		t.Errorf("a transform neither jumps nor waits: %+v", res)
	}
}

func TestTransformFailuresAreJQErrors(t *testing.T) {
	for name, program := range map[string]string{
		"an error":          `error("boom")`,
		"no value":          `empty`,
		"a type error":      `.input + 1`,
		"NaN":               `nan`,
		"halt_error":        `"stop" | halt_error`,
		"a missing context": `.steps.nothing.output | keys`,
	} {
		t.Run(name, func(t *testing.T) {
			c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": `+quote(program)+`}}`)
			_, err := testEngine(t, Options{}).Execute(context.Background(), c, 0, runContext("text"), "k")
			se := stepError(t, err)
			if se.Code != CodeJQ || se.Retryable {
				t.Errorf("got %+v, want a JQ_ERROR that is not retryable", se)
			}
		})
	}
}

func quote(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

func TestTransformOutputIsCapped(t *testing.T) {
	c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": "\"x\" * .input"}}`)
	e := testEngine(t, Options{})
	// A JSON string of n x's is n+2 bytes.
	if _, err := e.Execute(context.Background(), c, 0, runContext(262144-2), "k"); err != nil {
		t.Fatalf("an output of exactly 256 KiB: %v", err)
	}
	_, err := e.Execute(context.Background(), c, 0, runContext(262144-1), "k")
	if se := stepError(t, err); se.Code != CodeOutputTooLarge || se.Retryable {
		t.Errorf("one byte over: got %+v", se)
	}
}

func TestJQStopsAtItsDeadline(t *testing.T) {
	for _, program := range []string{`def f: f; f`, `reduce range(1e15) as $x (0; . + 1)`, `[limit(1e15; repeat(1))] | length`, `last(range(1e15))`} {
		t.Run(program, func(t *testing.T) {
			c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": `+quote(program)+`}}`)
			_, err := testEngine(t, Options{JQTimeout: 20 * time.Millisecond}).Execute(context.Background(), c, 0, runContext(nil), "k")
			se := stepError(t, err)
			if se.Code != CodeJQ || !strings.Contains(se.Message, "time limit") {
				t.Errorf("got %+v, want the time limit", se)
			}
		})
	}
}

func TestCallerCancellationIsNotAStepFailure(t *testing.T) {
	c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": "def f: f; f"}}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := testEngine(t, Options{}).Execute(ctx, c, 0, runContext(nil), "k")
	var se *StepError
	if errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled (not a step failure)", err)
	}
}

func TestCondition(t *testing.T) {
	c := compile(t, `{"name": "w", "trigger": {"type": "manual"}, "steps": [
		{"id": "isBig", "type": "condition", "with": {"jq": ".input > 100"}, "else": "small"},
		{"id": "big", "type": "transform", "with": {"jq": "1"}},
		{"id": "small", "type": "transform", "with": {"jq": "2"}},
		{"id": "check", "type": "condition", "with": {"jq": ".input"}, "else": "end"}]}`)
	e := testEngine(t, Options{})
	res, err := e.Execute(context.Background(), c, 0, runContext(150), "k")
	if err != nil || res.Jump != "" || res.Output != true {
		t.Errorf("true: %+v, %v; want no jump", res, err)
	}
	res, err = e.Execute(context.Background(), c, 0, runContext(50), "k")
	if err != nil || res.Jump != "small" || res.Output != false {
		t.Errorf("false: %+v, %v; want a jump to small", res, err)
	}
	res, err = e.Execute(context.Background(), c, 3, runContext(false), "k")
	if err != nil || res.Jump != workflows.End {
		t.Errorf("false with else end: %+v, %v", res, err)
	}
	for _, notBoolean := range []any{"yes", nil, 1.0, []any{}} {
		_, err := e.Execute(context.Background(), c, 3, runContext(notBoolean), "k")
		if se := stepError(t, err); se.Code != CodeJQ || !strings.Contains(se.Message, "must be true or false") {
			t.Errorf("%v: got %+v", notBoolean, se)
		}
	}
}

func TestDelayWaitsWithoutSleeping(t *testing.T) {
	c := oneStep(t, `{"id": "pause", "type": "delay", "with": {"seconds": 2592000}}`)
	res, err := testEngine(t, Options{}).Execute(context.Background(), c, 0, runContext(nil), "k")
	if err != nil || res.Wait != 30*24*time.Hour || res.Output != nil {
		t.Errorf("got %+v, %v; want a wait of 30 days", res, err)
	}
}

func TestExecuteRefusesAStepOutOfRange(t *testing.T) {
	c := oneStep(t, `{"id": "pause", "type": "delay", "with": {"seconds": 1}}`)
	for _, index := range []int{-1, 1} {
		_, err := testEngine(t, Options{}).Execute(context.Background(), c, index, runContext(nil), "k")
		var se *StepError
		if err == nil || errors.As(err, &se) {
			t.Errorf("step %d: got %v, want the engine's own error", index, err)
		}
	}
}

func TestTemplatesRenderAsJQInterpolationDoes(t *testing.T) {
	rc := runContext(map[string]any{"s": "a b", "n": 3.0, "t": true, "o": map[string]any{"k": "v<&>"}, "l": []any{1.0, "x"}})
	for template, want := range map[string]string{
		"plain":                            "plain",
		"{{ .input.s }}":                   "a b",
		"id={{ .input.n }}":                "id=3",
		"{{ .input.t }}/{{ .input.none }}": "true/null",
		"o={{ .input.o }}":                 `o={"k":"v<&>"}`,
		"{{ .input.l }}":                   `[1,"x"]`,
		"q={{ .input.s | @uri }}":          "q=a%20b",
		"{{ .steps.first.output.id }}":     "12345678901234567890",
		"{{ .input.s, .input.n }}":         "a b", // the first value
	} {
		tmpl, err := jqtemplate.CompileTemplate(template)
		if err != nil {
			t.Fatalf("%s: %v", template, err)
		}
		got, err := renderString(context.Background(), context.Background(), tmpl, rc)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", template, got, err, want)
		}
	}
}

func TestBodyTemplatesKeepTypesWhenWhole(t *testing.T) {
	body := `{"z": 1.50, "count": "{{ .input.n }}", "items": "{{ .input.l }}", "label": "n={{ .input.n }}",
		"nested": [{"flag": "{{ .input.t }}"}, "{{ .input.none }}", " {{ .input.n }}"], "a": {"plain": 1e3}, "{{ name }}": "kept"}`
	node, err := compileBody([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := node.render(context.Background(), context.Background(), runContext(map[string]any{"n": 3.0, "t": true, "l": []any{1.0, "x"}}), &b); err != nil {
		t.Fatal(err)
	}
	// Member order and numbers as written; names are never templates.
	want := `{"z":1.50,"count":3,"items":[1,"x"],"label":"n=3","nested":[{"flag":true},null," 3"],"a":{"plain": 1e3},"{{ name }}":"kept"}`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
	if !json.Valid(b.Bytes()) {
		t.Error("the body is not JSON")
	}
}

func TestCompileRefusesWhatDoesNotCompile(t *testing.T) {
	def := workflows.Definition{Steps: []workflows.Step{{ID: "s", Type: workflows.StepTransform, With: workflows.With{JQ: "{"}}}}
	if _, err := Compile(def); err == nil || !strings.Contains(err.Error(), "steps[0]") {
		t.Errorf("got %v, want an error naming steps[0]", err)
	}
}

// TestJQIsBoundedInTimeAndMemory runs the programs of issue 13 as
// transforms: each fails the step with a clear, non-retryable error (the
// bound it met, never a worker's trace), and a plain transform works right
// after each. The elapsed time is only held to a loose upper bound (twice
// the deadline, and a worker's start on a busy machine).
func TestJQIsBoundedInTimeAndMemory(t *testing.T) {
	e := testEngine(t, Options{})
	bounds := []string{"used more than 128 MiB of memory", "ran past its time limit of 1s"}
	for _, c := range []struct {
		program string
		code    string   // "": either of JQ_ERROR and OUTPUT_TOO_DEEP, as the message says
		message []string // one of them
	}{
		{`"x" * 1000000000`, CodeJQ, bounds[:1]},
		{`[range(1e7)] | tostring`, CodeJQ, bounds},
		// 100 MB built and copied: past the memory bound in well under the
		// deadline on a quiet machine, but on a loaded one (CI runs the
		// browser tests beside this) the deadline can come first, and is
		// as clear a bound.
		{`"x" * 100000000`, CodeJQ, bounds},
		{`[range(1e6)] | map(tostring) | join("")`, CodeJQ, bounds},
		{`reduce range(40) as $i (2; .*.)`, CodeJQ, bounds},
		{`setpath([100000000]; 1)`, CodeJQ, []string{"cannot be applied"}}, // over the context, an object
		{`null | setpath([100000000]; 1)`, CodeJQ, bounds[:1]},
		// Built in about half the deadline: on a busy machine, the deadline
		// may come first, and is as clear a bound.
		{`reduce range(1000000) as $i (null; [.])`, "", []string{"nests deeper than 64 levels", bounds[1]}},
		{`reduce range(10001) as $i (null; [.])`, CodeOutputTooDeep, []string{"nests deeper than 64 levels"}},
		{`reduce range(1000000) as $i (null; [.]) | tojson`, CodeJQ, []string{"ran out of stack", bounds[0], bounds[1]}},
	} {
		t.Run(c.program, func(t *testing.T) {
			step := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": `+quote(c.program)+`}}`)
			start := time.Now()
			_, err := e.Execute(context.Background(), step, 0, runContext(nil), "k")
			elapsed := time.Since(start)
			se := stepError(t, err)
			if (c.code != "" && se.Code != c.code) || se.Retryable || !containsAny(se.Message, c.message) {
				t.Errorf("got %+v, want a %s saying one of %q", se, c.code, c.message)
			}
			if strings.Contains(se.Message, "goroutine") || strings.Contains(se.Message, "runtime") {
				t.Errorf("the message shows the worker's insides: %q", se.Message)
			}
			if elapsed > 2*DefaultJQTimeout+time.Second {
				t.Errorf("failed after %v", elapsed)
			}
			plain := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": "{id: .steps.first.output.id, n: (.input + 1)}"}}`)
			res, err := e.Execute(context.Background(), plain, 0, runContext(json.Number("41")), "k")
			if err != nil || asJSON(t, res.Output) != `{"id":12345678901234567890,"n":42}` {
				t.Fatalf("a plain transform right after: %v, %v", res.Output, err)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestPathsRunInProcess: a program or template that is only a path over
// the context runs here; anything else goes to a worker.
func TestPathsRunInProcess(t *testing.T) {
	for src, want := range map[string]bool{
		".input.x": true, ".steps.a.output.body.id": true, `.input["a b"]?`: true,
		`"x" * 3`: false, "[range(3)]": false, ".a | tostring": false, "reduce range(3) as $i (0; . + $i)": false, "def f: .; f": false,
	} {
		c := oneStep(t, `{"id": "s", "type": "transform", "with": {"jq": `+quote(src)+`}}`)
		if got := c.steps[0].program.inProcess; got != want {
			t.Errorf("%s: in-process %v, want %v", src, got, want)
		}
	}
	c := oneStep(t, `{"id": "s", "type": "http", "with": {"method": "POST", "url": "http://127.0.0.1:1/{{ .input.id }}/{{ .input.id | tostring }}",
		"headers": {"X-A": "{{ .run.id }}"}, "body": {"a": "{{ .input }}", "b": ["{{ [.input] }}"]}}}`)
	var got []string
	for _, p := range c.steps[0].exprs {
		got = append(got, fmt.Sprintf("%s=%v", strings.TrimSpace(p.src), p.inProcess))
	}
	if want := "[.input.id=true .input.id | tostring=false .input=true [.input]=false .run.id=true]"; fmt.Sprint(got) != want {
		t.Errorf("an http step's expressions, in render order: %v, want %s", got, want)
	}
}

// TestHTTPTemplatesRunTogether: an http step's expressions, paths and
// sandboxed ones mixed, render as before (one worker request for all), and
// a failure in any of them fails the step with its own message.
func TestHTTPTemplatesRunTogether(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	})
	c := oneStep(t, `{"id": "s", "type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/o/{{ .input.id }}/{{ .input.id * 2 }}",
		"headers": {"X-Sum": "{{ [.input.n, 1] | add }}", "X-Run": "{{ .run.id }}"},
		"body": {"big": "{{ .steps.first.output.id }}", "text": "n={{ .input.n + 1 }}", "list": "{{ [range(3)] }}"}}}`)
	e := testEngine(t, Options{})
	if _, err := e.Execute(context.Background(), c, 0, runContext(map[string]any{"id": json.Number("7"), "n": json.Number("2")}), "k"); err != nil {
		t.Fatal(err)
	}
	got := tg.received()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	if got[0].uri != "/o/7/14" || got[0].header.Get("X-Sum") != "3" || got[0].header.Get("X-Run") != "run_1" ||
		got[0].body != `{"big":12345678901234567890,"text":"n=3","list":[0,1,2]}` {
		t.Errorf("sent %s %v %s", got[0].uri, got[0].header, got[0].body)
	}

	for _, c := range []struct{ step, message string }{
		{`"headers": {"X-A": "{{ error(\"in a header\") }}"}`, "in a header"},
		{`"body": {"a": "{{ \"x\" * 1000000000 }}"}`, "used more than 128 MiB"},
		{`"body": {"a": "{{ def f: f; f }}"}`, "time limit of 1s"},
		{`"body": {"a": "{{ reduce range(100) as $i (null; [.]) }}"}`, "nests deeper than 64"},
	} {
		step := oneStep(t, `{"id": "s", "type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/x/{{ .input.id | tostring }}", `+c.step+`}}`)
		_, err := e.Execute(context.Background(), step, 0, runContext(map[string]any{"id": 1}), "k")
		if se := stepError(t, err); !strings.Contains(se.Message, c.message) || se.Retryable {
			t.Errorf("%s: got %+v, want %q", c.step, se, c.message)
		}
	}
	if n := len(tg.received()); n != 1 {
		t.Errorf("a step whose templates failed sent a request (%d in all)", n)
	}
}

// TestHTTPOutputDepthIsChecked: a JSON response body deeper than the limit
// fails the step (OUTPUT_TOO_DEEP) rather than being stored.
func TestHTTPOutputDepthIsChecked(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n := 63 // with the output's {"body": …} around it, 64
		if r.URL.Path == "/deep" {
			n = 64
		}
		_, _ = w.Write([]byte(strings.Repeat("[", n) + strings.Repeat("]", n)))
	})
	e := testEngine(t, Options{})
	for path, wantErr := range map[string]bool{"/ok": false, "/deep": true} {
		c := oneStep(t, `{"id": "s", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+path+`"}}`)
		_, err := e.Execute(context.Background(), c, 0, runContext(nil), "k")
		if !wantErr && err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if wantErr {
			if se := stepError(t, err); se.Code != CodeOutputTooDeep || se.Retryable {
				t.Errorf("%s: got %+v", path, se)
			}
		}
	}
}

// AttemptTimeout is the one bound on an attempt, which the runner's lease
// and its "does it fit the invocation" check both read: the jq bound, and
// for http its request's timeout after its templates, capped as the
// request's own timeout is.
func TestAttemptTimeoutIsTheJQBoundAndTheRequestTimeout(t *testing.T) {
	seconds := func(n int) *int { return &n }
	e := New(Options{JQTimeout: 2 * time.Second})
	for _, tc := range []struct {
		step workflows.Step
		want time.Duration
	}{
		{workflows.Step{Type: workflows.StepTransform}, 2 * time.Second},
		{workflows.Step{Type: workflows.StepCondition, TimeoutSeconds: seconds(300)}, 2 * time.Second},
		{workflows.Step{Type: workflows.StepHTTP}, 2*time.Second + DefaultStepTimeout},
		{workflows.Step{Type: workflows.StepHTTP, TimeoutSeconds: seconds(30)}, 32 * time.Second},
		{workflows.Step{Type: workflows.StepHTTP, TimeoutSeconds: seconds(100_000)}, 2*time.Second + workflows.MaxStepTimeoutSeconds*time.Second},
	} {
		if got := e.AttemptTimeout(tc.step); got != tc.want {
			t.Errorf("%s timeoutSeconds %v: %v, want %v", tc.step.Type, tc.step.TimeoutSeconds, got, tc.want)
		}
		if tc.step.Type == workflows.StepHTTP && e.AttemptTimeout(tc.step) <= StepTimeout(tc.step) {
			t.Errorf("the attempt bound %v does not cover the request's own %v", e.AttemptTimeout(tc.step), StepTimeout(tc.step))
		}
	}
}
