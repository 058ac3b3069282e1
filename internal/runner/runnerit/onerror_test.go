package runnerit

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// TestOnErrorContinue is issue 15's point 4 through the local gateway: a step
// with onError "continue" that fails after its retries is recorded failed,
// the run goes on, a later condition branches on its status and reads its
// error, and the run succeeds unless a later step fails.
func TestOnErrorContinue(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	steps := `
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "` + tg.URL + `/down"}, "retry": {"maxAttempts": 2}, "onError": "continue"},
	  {"id": "failed", "type": "condition", "with": {"jq": ".steps.call.status == \"failed\""}, "else": "fine"},
	  {"id": "why", "type": "transform", "with": {"jq": "{code: .steps.call.error.code, attempts: 2}"}},
	  {"id": "fine", "type": "transform", "with": {"jq": "{why: .steps.why.output}"}}`

	t.Run("the failure is the step's; the run branches on it and succeeds", func(t *testing.T) {
		wf := a.workflow(t, `{"name": "continues", "trigger": {"type": "manual"}, "steps": [`+steps+`]}`)
		run := a.finished(t, a.run(t, wf, `{}`))
		if run["status"] != "succeeded" || run["error"] != nil {
			t.Fatalf("run %s, want succeeded", jsonOf(run))
		}
		got := stepsOf(run)
		call := got["call"]
		if call["status"] != "failed" || call["attempts"] != float64(2) || call["error"].(map[string]any)["code"] != "HTTP_STATUS" {
			t.Errorf("call %s, want failed after 2 attempts with HTTP_STATUS", jsonOf(call))
		}
		if n := tg.count("/down"); n != 2 {
			t.Errorf("the target was called %d times, want 2 (its retries, then on)", n)
		}
		if got["failed"]["status"] != "succeeded" || jsonOf(got["failed"]["output"]) != "true" {
			t.Errorf("the condition %s, want true on the failed status", jsonOf(got["failed"]))
		}
		if got["why"]["status"] != "succeeded" || jsonOf(got["why"]["output"]) != `{"attempts":2,"code":"HTTP_STATUS"}` {
			t.Errorf("why %s, want the failed step's error code", jsonOf(got["why"]))
		}
		if jsonOf(run["output"]) != `{"why":{"attempts":2,"code":"HTTP_STATUS"}}` {
			t.Errorf("run output %s", jsonOf(run["output"]))
		}
	})

	t.Run("a later step that fails without it fails the run", func(t *testing.T) {
		wf := a.workflow(t, `{"name": "then fails", "trigger": {"type": "manual"}, "steps": [
		  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/down"}, "onError": "continue"},
		  {"id": "boom", "type": "transform", "with": {"jq": "error(\"no\")"}, "onError": "fail"},
		  {"id": "never", "type": "transform", "with": {"jq": "1"}}]}`)
		run := a.finished(t, a.run(t, wf, `{}`))
		if run["status"] != "failed" || run["error"].(map[string]any)["step"] != "boom" {
			t.Fatalf("run %s, want failed at boom", jsonOf(run))
		}
		if s := stepsOf(run)["never"]; s["status"] == "succeeded" {
			t.Errorf("a step after the fatal failure ran: %s", jsonOf(s))
		}
	})

	t.Run("without onError a failure fails the run, as before", func(t *testing.T) {
		wf := a.workflow(t, `{"name": "default", "trigger": {"type": "manual"}, "steps": [
		  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/down"}},
		  {"id": "after", "type": "transform", "with": {"jq": "1"}}]}`)
		run := a.finished(t, a.run(t, wf, `{}`))
		if run["status"] != "failed" || run["error"].(map[string]any)["step"] != "call" {
			t.Fatalf("run %s, want failed at call", jsonOf(run))
		}
	})

	t.Run("onError takes fail or continue only, named by its field", func(t *testing.T) {
		for _, bad := range []string{`"ignore"`, `""`, `true`, `null`} {
			r := a.call(t, "POST", "/workflows", `{"name": "bad", "trigger": {"type": "manual"}, "steps": [
			  {"id": "x", "type": "transform", "with": {"jq": "1"}, "onError": `+bad+`}]}`)
			if r.Status != 400 || !containsField(r.Body, "steps[0].onError") {
				t.Errorf("onError %s: %d %s, want 400 naming steps[0].onError", bad, r.Status, r.Body)
			}
		}
		got := a.mustData(t, 201, "POST", "/workflows", `{"name": "kept", "trigger": {"type": "manual"}, "steps": [
		  {"id": "x", "type": "transform", "with": {"jq": "1"}, "onError": "continue"}]}`)
		if s := got["steps"].([]any)[0].(map[string]any); s["onError"] != "continue" {
			t.Errorf("the definition read back %s, want onError kept", jsonOf(s))
		}
	})
}

func containsField(body []byte, field string) bool {
	return strings.Contains(string(body), `"field":"`+field+`"`)
}

// TestAContinuedFailureIsNotRedoneAfterAKill: a step whose failure was
// recorded with onError "continue" is part of the run's truth. The local
// gateway is killed with SIGKILL while the next step hangs, restarted, and
// the failed step is not tried again (the target counts its calls), while
// the cut-off step is, and the run succeeds.
func TestAContinuedFailureIsNotRedoneAfterAKill(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_onerror_kill").Plaintext
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	hung := false
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(503)
		case "/slow":
			mu.Lock()
			first := !hung
			hung = true
			mu.Unlock()
			if first {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			_, _ = w.Write([]byte(`{}`))
		}
	})

	g.start(t)
	call := g.caller(t, key)
	wf := call("POST", "/workflows", `{"name": "continue then hang", "trigger": {"type": "manual"}, "steps": [
	  {"id": "down", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/down"}, "onError": "continue"},
	  {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow"}, "timeoutSeconds": 2, "retry": {"maxAttempts": 3}}
	]}`)["id"].(string)
	runID := call("POST", "/workflows/"+wf+"/run", `{"input": {}}`)["id"].(string)
	waitFor(t, func() bool {
		steps, err := stepsInTable(table, runID)
		return err == nil && steps["down"] == "failed" && steps["slow"] == "running"
	})
	g.kill9(t)

	g.start(t)
	run := finishedVia(t, call, runID)
	if run["status"] != "succeeded" || stepsOf(run)["down"]["status"] != "failed" {
		t.Fatalf("run %s, want succeeded with down failed", jsonOf(run))
	}
	if n := tg.count("/down"); n != 1 {
		t.Errorf("the recorded failed step was called %d times, want 1: it was redone after the kill", n)
	}
	if n := tg.count("/slow"); n != 2 {
		t.Errorf("the cut-off step was called %d times, want 2", n)
	}
}
