// Package runnerit runs workflows end to end through the local gateway: the
// run routes start runs, the local driver advances them with the runner on
// dynalite, and http steps reach test servers on 127.0.0.1 only
// (HTTP_STEP_TARGETS=loopback).
package runnerit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

type api struct {
	env *gatewaytest.Env
	key string
}

func start(t *testing.T) api {
	t.Helper()
	t.Setenv("HTTP_STEP_TARGETS", "loopback")
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true})
	key, _ := env.MustKey(t, "acct_it")
	return api{env: env, key: key}
}

func (a api) call(t *testing.T, method, path, body string) gatewaytest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return gatewaytest.Call(t, method, a.env.URL+"/api/v1"+path, a.key, "application/json", b)
}

func (a api) mustData(t *testing.T, want int, method, path, body string) map[string]any {
	t.Helper()
	r := a.call(t, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	return r.Data(t)
}

func (a api) workflow(t *testing.T, definition string) string {
	t.Helper()
	return a.mustData(t, 201, "POST", "/workflows", definition)["id"].(string)
}

func (a api) run(t *testing.T, workflowID, input string) string {
	t.Helper()
	return a.mustData(t, 202, "POST", "/workflows/"+workflowID+"/run", `{"input": `+input+`}`)["id"].(string)
}

// finished polls GET /runs/{id} until the run has ended; the runs go on in
// the background, and what is asserted is where they end.
func (a api) finished(t *testing.T, runID string) map[string]any {
	t.Helper()
	for range 6000 {
		run := a.mustData(t, 200, "GET", "/runs/"+runID, "")
		switch run["status"] {
		case "succeeded", "failed", "cancelled", "timed_out":
			return run
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s never finished", runID)
	return nil
}

func stepsOf(run map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range run["steps"].([]any) {
		step := s.(map[string]any)
		out[step["id"].(string)] = step
	}
	return out
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// target is a test server on 127.0.0.1 that counts its hits per path.
type target struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	seen map[string]http.Header
}

func newTarget(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *target {
	tg := &target{hits: map[string]int{}, seen: map[string]http.Header{}}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.hits[r.URL.Path]++
		tg.seen[r.URL.Path] = r.Header.Clone()
		tg.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) count(path string) int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.hits[path]
}

func TestEveryStepTypeWithAConnection(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok_secret" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"order": %q, "total": 150}`, strings.TrimPrefix(r.URL.Path, "/orders/"))
	})
	conn := a.mustData(t, 201, "POST", "/connections", `{"name": "shop", "type": "bearer", "credentials": {"token": "tok_secret"}}`)["id"].(string)
	wf := a.workflow(t, `{"name": "every step", "trigger": {"type": "manual"}, "steps": [
	  {"id": "order", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/orders/{{ .input.orderId }}", "connection": "`+conn+`"}},
	  {"id": "summary", "type": "transform", "with": {"jq": ".steps.order.output.body | {id: .order, total}"}},
	  {"id": "isSmall", "type": "condition", "with": {"jq": ".steps.summary.output.total < 100"}, "else": "pause"},
	  {"id": "small", "type": "transform", "with": {"jq": "\"small\""}},
	  {"id": "pause", "type": "delay", "with": {"seconds": 1}},
	  {"id": "notify", "type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/notify", "headers": {"X-Order": "{{ .steps.summary.output.id }}"},
	     "body": {"order": "{{ .steps.summary.output.id }}", "run": "{{ .run.id }}"}, "connection": "`+conn+`"}}
	]}`)
	runID := a.run(t, wf, `{"orderId": "o-17"}`)
	run := a.finished(t, runID)
	if run["status"] != "succeeded" {
		t.Fatalf("run %s: %s", run["status"], jsonOf(run))
	}
	steps := stepsOf(run)
	want := map[string]string{
		"summary": `{"id":"o-17","total":150}`,
		"isSmall": `false`,
		"pause":   `null`,
	}
	for id, output := range want {
		if got := jsonOf(steps[id]["output"]); got != output || steps[id]["status"] != "succeeded" {
			t.Errorf("%s: %s %s, want %s", id, steps[id]["status"], got, output)
		}
	}
	if steps["small"]["status"] != "skipped" {
		t.Errorf("small: %v", steps["small"]["status"])
	}
	if got := jsonOf(steps["order"]["output"].(map[string]any)["body"]); got != `{"order":"o-17","total":150}` {
		t.Errorf("order body %s", got)
	}
	if status := steps["notify"]["output"].(map[string]any)["status"]; status != float64(200) {
		t.Errorf("notify status %v", status)
	}
	if jsonOf(run["output"]) != jsonOf(steps["notify"]["output"]) {
		t.Errorf("run output %s, want the last step's", jsonOf(run["output"]))
	}
	if tg.count("/orders/o-17") != 1 || tg.count("/notify") != 1 {
		t.Errorf("hits %v", tg.hits)
	}
	if got := tg.seen["/notify"].Get("Idempotency-Key"); got != runID+":notify" {
		t.Errorf("Idempotency-Key %q", got)
	}
	if got := tg.seen["/notify"].Get("X-Order"); got != "o-17" {
		t.Errorf("templated header %q", got)
	}
	// One step whole, through its own route.
	step := a.mustData(t, 200, "GET", "/runs/"+runID+"/steps/summary", "")
	if jsonOf(step["output"]) != `{"id":"o-17","total":150}` {
		t.Errorf("GET step: %s", jsonOf(step))
	}
}

func TestFailingStepRetriesThenFailsTheRun(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	wf := a.workflow(t, `{"name": "flaky", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/flaky"}, "retry": {"maxAttempts": 3}},
	  {"id": "after", "type": "transform", "with": {"jq": "1"}}
	]}`)
	run := a.finished(t, a.run(t, wf, `{}`))
	if run["status"] != "failed" {
		t.Fatalf("run %s", jsonOf(run))
	}
	if n := tg.count("/flaky"); n != 3 {
		t.Errorf("the target was called %d times, want 3 (maxAttempts)", n)
	}
	steps := stepsOf(run)
	call := steps["call"]
	if call["status"] != "failed" || call["attempts"] != float64(3) || call["error"].(map[string]any)["code"] != "HTTP_STATUS" {
		t.Errorf("step %s", jsonOf(call))
	}
	if runErr := run["error"].(map[string]any); runErr["step"] != "call" {
		t.Errorf("run error %s", jsonOf(runErr))
	}
	if _, began := steps["after"]; began && steps["after"]["status"] != nil {
		// A step that never began may be listed without a status; it
		// must not have run.
		if steps["after"]["status"] == "succeeded" {
			t.Errorf("a step after the failure ran")
		}
	}
}

// TestDelayHoldsNoGoroutine: runs waiting in a delay hold a timer each, no
// goroutine.
func TestDelayHoldsNoGoroutine(t *testing.T) {
	const runs = 40
	a := start(t)
	wf := a.workflow(t, `{"name": "wait", "trigger": {"type": "manual"}, "steps": [
	  {"id": "first", "type": "transform", "with": {"jq": "1"}},
	  {"id": "wait", "type": "delay", "with": {"seconds": 3600}},
	  {"id": "after", "type": "transform", "with": {"jq": "2"}}
	]}`)
	// Warm the HTTP connections and the driver before counting.
	a.run(t, wf, `{}`)
	waitFor(t, func() bool { _, waiting := a.env.Driver.Driven(); return waiting == 1 })
	before := runtime.NumGoroutine()
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = a.run(t, wf, `{}`)
	}
	waitFor(t, func() bool { _, waiting := a.env.Driver.Driven(); return waiting == runs+1 })
	for _, id := range ids {
		if run := a.mustData(t, 200, "GET", "/runs/"+id, ""); run["status"] != "waiting" {
			t.Fatalf("run %s: %s", id, run["status"])
		}
	}
	waitFor(t, func() bool { return runtime.NumGoroutine()-before < runs/4 })
	if extra := runtime.NumGoroutine() - before; extra >= runs/4 {
		t.Errorf("%d runs in a delay hold %d more goroutines", runs, extra)
	}
	// Cancelling a waiting run stops its timer.
	a.mustData(t, 200, "POST", "/runs/"+ids[0]+"/cancel", "")
	waitFor(t, func() bool { total, _ := a.env.Driver.Driven(); return total == runs })
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the state expected was never reached")
}

// TestEveryAttemptIsInTheStepsHistory: each attempt of a step is in its
// attemptHistory, where it began and ended and how, the back-off between
// two attempts a gap; a wait is one open attempt until it ends; a step
// skipped has none.
func TestEveryAttemptIsInTheStepsHistory(t *testing.T) {
	a := start(t)
	var calls atomic.Int32
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(`{"ok": true}`))
	})
	wf := a.workflow(t, `{"name": "history", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/flaky"}, "retry": {"maxAttempts": 3}},
	  {"id": "pause", "type": "delay", "with": {"seconds": 1}},
	  {"id": "never", "type": "condition", "with": {"jq": "false"}, "else": "end"},
	  {"id": "skipped", "type": "transform", "with": {"jq": "1"}}
	]}`)
	runID := a.run(t, wf, `{}`)
	waitFor(t, func() bool {
		return a.mustData(t, 200, "GET", "/runs/"+runID, "")["status"] == "waiting"
	})
	waiting := stepsOf(a.mustData(t, 200, "GET", "/runs/"+runID, ""))["pause"]
	if h := historyOf(t, waiting); len(h) != 1 || h[0]["status"] != "waiting" || h[0]["finishedAt"] != nil {
		t.Errorf("a delay waiting: %s", jsonOf(waiting))
	}

	steps := stepsOf(a.finished(t, runID))
	call := historyOf(t, steps["call"])
	if len(call) != 3 {
		t.Fatalf("three attempts, history %s", jsonOf(call))
	}
	for i, want := range []string{"failed", "failed", "succeeded"} {
		at := call[i]
		if at["attempt"] != float64(i+1) || at["status"] != want {
			t.Errorf("attempt %d: %s, want %s", i+1, jsonOf(at), want)
		}
		began, ended := timeOf(t, at["startedAt"]), timeOf(t, at["finishedAt"])
		if ended.Before(began) {
			t.Errorf("attempt %d ends before it begins: %s", i+1, jsonOf(at))
		}
		if i > 0 && began.Before(timeOf(t, call[i-1]["finishedAt"])) {
			t.Errorf("attempt %d begins before attempt %d ended: %s", i+1, i, jsonOf(call))
		}
		if failed := want == "failed"; failed != (at["error"] != nil) {
			t.Errorf("attempt %d: error %v", i+1, at["error"])
		}
	}
	if code := call[0]["error"].(map[string]any)["code"]; code != "HTTP_STATUS" {
		t.Errorf("the first attempt's error: %v", code)
	}
	pause := historyOf(t, steps["pause"])
	if len(pause) != 1 || pause[0]["status"] != "succeeded" ||
		timeOf(t, pause[0]["finishedAt"]).Sub(timeOf(t, pause[0]["startedAt"])) < time.Second {
		t.Errorf("a delay of 1 s that ended: %s", jsonOf(pause))
	}
	if h := historyOf(t, steps["never"]); len(h) != 1 || h[0]["status"] != "succeeded" {
		t.Errorf("the condition: %s", jsonOf(h))
	}
	if h := historyOf(t, steps["skipped"]); len(h) != 0 {
		t.Errorf("a skipped step has attempts: %s", jsonOf(h))
	}

	// A cancel ends the open attempt of a waiting step.
	long := a.workflow(t, `{"name": "long", "trigger": {"type": "manual"}, "steps": [
	  {"id": "wait", "type": "delay", "with": {"seconds": 3600}}
	]}`)
	cancelled := a.run(t, long, `{}`)
	waitFor(t, func() bool {
		return a.mustData(t, 200, "GET", "/runs/"+cancelled, "")["status"] == "waiting"
	})
	a.mustData(t, 200, "POST", "/runs/"+cancelled+"/cancel", "")
	wait := historyOf(t, stepsOf(a.finished(t, cancelled))["wait"])
	if len(wait) != 1 || wait[0]["status"] != "cancelled" || wait[0]["finishedAt"] == nil {
		t.Errorf("a cancelled delay: %s", jsonOf(wait))
	}
}

func historyOf(t *testing.T, step map[string]any) []map[string]any {
	t.Helper()
	raw, ok := step["attemptHistory"].([]any)
	if !ok {
		t.Fatalf("no attemptHistory in %s", jsonOf(step))
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func timeOf(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return at
}
