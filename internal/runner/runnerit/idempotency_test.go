package runnerit

import (
	"net/http"
	"sync"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

func (a api) callWith(t *testing.T, method, path string, header http.Header, body string) gatewaytest.Response {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return gatewaytest.CallWith(t, method, a.env.URL+"/api/v1"+path, a.key, ct, header, []byte(body))
}

// runsOf lists the workflow's runs (one page: the tests make few).
func (a api) runsOf(t *testing.T, workflowID string) []map[string]any {
	t.Helper()
	r := a.call(t, "GET", "/runs?limit=100&workflowId="+workflowID, "")
	if r.Status != 200 {
		t.Fatalf("list runs: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, item := range r.JSON(t)["data"].([]any) {
		out = append(out, item.(map[string]any))
	}
	return out
}

// TestConcurrentRetriesWithOneKeyMakeOneRun: 20 retries of a failed run
// sent at once with one Idempotency-Key, their bodies the same JSON written
// two ways, make exactly one new run, and all answer it; one answer is the
// first, the others replays. The same key with another body, or on the
// start route, is 409.
func TestConcurrentRetriesWithOneKeyMakeOneRun(t *testing.T) {
	const retries = 20
	a := start(t)
	wf := a.workflow(t, `{"name": "fails", "trigger": {"type": "manual"}, "steps": [
	  {"id": "ok", "type": "transform", "with": {"jq": "1"}},
	  {"id": "boom", "type": "transform", "with": {"jq": "error(\"boom\")"}}
	]}`)
	failed := a.finished(t, a.run(t, wf, `{}`))
	if failed["status"] != "failed" {
		t.Fatalf("run %s", failed["status"])
	}
	runID := failed["id"].(string)
	key := http.Header{"Idempotency-Key": {"retry-once-1"}}
	bodies := []string{`{"from":"failed_step"}`, "{ \"from\" :\n \"failed_step\" }", `{"from":"\u0066ailed_step"}`}
	var wg sync.WaitGroup
	answers := make([]gatewaytest.Response, retries)
	for i := range answers {
		wg.Go(func() { answers[i] = a.callWith(t, "POST", "/runs/"+runID+"/retry", key, bodies[i%len(bodies)]) })
	}
	wg.Wait()
	newRun, firsts := "", 0
	for i, r := range answers {
		if r.Status != 202 {
			t.Fatalf("retry %d: %d %s", i, r.Status, r.Body)
		}
		id := r.Data(t)["id"].(string)
		if newRun == "" {
			newRun = id
		}
		if id != newRun {
			t.Errorf("retry %d answered run %s, another %s", i, id, newRun)
		}
		if r.Header.Get("Idempotent-Replayed") != "true" {
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d answers were not replays, want exactly 1", firsts)
	}
	retriesMade := 0
	for _, run := range a.runsOf(t, wf) {
		if run["trigger"] == "retry" {
			retriesMade++
		}
	}
	if retriesMade != 1 {
		t.Errorf("%d retry runs made, want 1", retriesMade)
	}
	// The retry started at the failed step, its first step reused.
	if steps := stepsOf(a.finished(t, newRun)); steps["ok"]["reused"] != true {
		t.Errorf("from failed_step was not applied: %s", jsonOf(steps))
	}
	if r := a.callWith(t, "POST", "/runs/"+runID+"/retry", key, `{}`); r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
		t.Errorf("same key, another body: %d %s", r.Status, r.Body)
	}
	if r := a.callWith(t, "POST", "/workflows/"+wf+"/run", key, `{}`); r.Status != 409 {
		t.Errorf("same key on the start route: %d %s", r.Status, r.Body)
	}
	// Without a key each retry is its own.
	if r := a.callWith(t, "POST", "/runs/"+runID+"/retry", nil, ""); r.Status != 202 || r.Data(t)["id"] == newRun {
		t.Errorf("a retry without a key: %d %s", r.Status, r.Body)
	}
}

// TestTheSameJSONWrittenAnotherWayIsAReplay: a start repeated with its key
// and its body written another way (spaces, member order, escapes, 1.0 for
// 1) answers the first run; a body that differs as JSON is 409.
func TestTheSameJSONWrittenAnotherWayIsAReplay(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, `{"name": "one", "trigger": {"type": "manual"}, "steps": [
	  {"id": "ok", "type": "transform", "with": {"jq": ".input"}}]}`)
	key := http.Header{"Idempotency-Key": {"order-1042"}}
	first := a.callWith(t, "POST", "/workflows/"+wf+"/run", key, `{"input":{"x":1,"name":"é","big":9007199254740993}}`)
	if first.Status != 202 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	runID := first.Data(t)["id"]
	for _, same := range []string{
		`{ "input" : {"x":1,"name":"é","big":9007199254740993} }`,
		`{"input":{"big":9007199254740993,"name":"\u00e9","x":1.0}}`,
		"{\n  \"input\": {\"name\": \"\\u00E9\", \"x\": 1e0, \"big\": 9007199254740993}\n}",
	} {
		r := a.callWith(t, "POST", "/workflows/"+wf+"/run", key, same)
		if r.Status != 202 || r.Data(t)["id"] != runID || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s: %d %s (replayed %q)", same, r.Status, r.Body, r.Header.Get("Idempotent-Replayed"))
		}
	}
	for _, other := range []string{
		`{"input":{"x":2,"name":"é","big":9007199254740993}}`,
		`{"input":{"x":1,"name":"é","big":9007199254740992}}`, // equal as doubles, not as numbers
		`{"input":{"x":1,"name":"é"}}`,
		`{"input":[{"x":1,"name":"é","big":9007199254740993}]}`,
	} {
		if r := a.callWith(t, "POST", "/workflows/"+wf+"/run", key, other); r.Status != 409 {
			t.Errorf("%s: %d %s, want 409", other, r.Status, r.Body)
		}
	}
	if n := len(a.runsOf(t, wf)); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// TestTheChangedRunRoutesAreTheAccountsAndNeedTheirScope: a retry with an
// Idempotency-Key and a cancel of a waiting run (the two paths issue 13
// changed) answer another account 404 and a key without workflows:execute
// 403, and neither changes anything: no run is made, no key recorded, the
// waiting step still waits.
func TestTheChangedRunRoutesAreTheAccountsAndNeedTheirScope(t *testing.T) {
	a := start(t)
	other, _ := a.env.MustKey(t, "acct_other")
	readOnly, _ := a.env.MustKey(t, "acct_it", domain.ScopeRunsRead, domain.ScopeWorkflowsRead)
	failedWF := a.workflow(t, `{"name": "fails", "trigger": {"type": "manual"}, "steps": [
	  {"id": "boom", "type": "transform", "with": {"jq": "error(\"boom\")"}}]}`)
	failed := a.finished(t, a.run(t, failedWF, `{}`))["id"].(string)
	waitingWF := a.workflow(t, `{"name": "waits", "trigger": {"type": "manual"}, "steps": [
	  {"id": "wait", "type": "delay", "with": {"seconds": 3600}}]}`)
	waiting := a.run(t, waitingWF, `{}`)
	waitFor(t, func() bool { return a.mustData(t, 200, "GET", "/runs/"+waiting, "")["status"] == "waiting" })

	key := http.Header{"Idempotency-Key": {"changed-routes-1"}}
	for _, c := range []struct {
		name, key, path, body, code string
		status                      int
	}{
		{"retry, another account", other, "/runs/" + failed + "/retry", `{}`, "NOT_FOUND", 404},
		{"retry, no workflows:execute", readOnly, "/runs/" + failed + "/retry", `{}`, "FORBIDDEN", 403},
		{"cancel, another account", other, "/runs/" + waiting + "/cancel", "", "NOT_FOUND", 404},
		{"cancel, no workflows:execute", readOnly, "/runs/" + waiting + "/cancel", "", "FORBIDDEN", 403},
	} {
		ct := ""
		if c.body != "" {
			ct = "application/json"
		}
		r := gatewaytest.CallWith(t, "POST", a.env.URL+"/api/v1"+c.path, c.key, ct, key, []byte(c.body))
		if r.Status != c.status || r.ErrorCode(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
	if runs := a.runsOf(t, failedWF); len(runs) != 1 {
		t.Errorf("the refused retries made runs: %d runs of the workflow", len(runs))
	}
	run := a.mustData(t, 200, "GET", "/runs/"+waiting, "")
	if run["status"] != "waiting" || stepsOf(run)["wait"]["status"] != "waiting" {
		t.Errorf("the refused cancels changed the run: %s, step %s", run["status"], stepsOf(run)["wait"]["status"])
	}
	// The key was recorded for no one: the owner's first use of it retries.
	if r := a.callWith(t, "POST", "/runs/"+failed+"/retry", key, `{}`); r.Status != 202 || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the owner's retry with the key: %d %s (replayed %q)", r.Status, r.Body, r.Header.Get("Idempotent-Replayed"))
	}
}
