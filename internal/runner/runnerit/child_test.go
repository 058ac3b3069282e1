package runnerit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// TestAParentWaitsForItsChild: a workflow step starts a child run through
// the start path (trigger workflow, parentRunId), the parent waits for it
// without a timer and goes on with its output, and GET /runs?parentRunId=
// lists the child, for the parent's account only.
func TestAParentWaitsForItsChild(t *testing.T) {
	a := start(t)
	child := a.workflow(t, `{"name": "child", "trigger": {"type": "manual"},
	  "inputSchema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
	  "steps": [{"id": "pause", "type": "delay", "with": {"seconds": 1}}, {"id": "triple", "type": "transform", "with": {"jq": "{tripled: (.input.n * 3)}"}}]}`)
	parent := a.workflow(t, `{"name": "parent", "trigger": {"type": "manual"}, "steps": [
	  {"id": "kid", "type": "workflow", "with": {"workflowId": "`+child+`", "input": "{n: .input.n}"}},
	  {"id": "after", "type": "transform", "with": {"jq": ".steps.kid.output.tripled + 1"}}]}`)
	runID := a.run(t, parent, `{"n": 4}`)
	run := a.finished(t, runID)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != "13" {
		t.Fatalf("parent %s, want succeeded with 13", jsonOf(run))
	}
	kid := stepsOf(run)["kid"]
	childID, _ := kid["childRunId"].(string)
	if kid["status"] != "succeeded" || jsonOf(kid["output"]) != `{"tripled":12}` || !strings.HasPrefix(childID, "run_") {
		t.Fatalf("workflow step %s, want succeeded with the child's output and its id", jsonOf(kid))
	}
	childRun := a.mustData(t, 200, "GET", "/runs/"+childID, "")
	if childRun["trigger"] != "workflow" || childRun["parentRunId"] != runID || childRun["workflowId"] != child || jsonOf(childRun["input"]) != `{"n":4}` {
		t.Errorf("child run %s, want trigger workflow, the parent's id and the input", jsonOf(childRun))
	}
	if run["parentRunId"] != nil {
		t.Errorf("the parent has parentRunId %v, want null", run["parentRunId"])
	}
	list := a.call(t, "GET", "/runs?parentRunId="+runID, "")
	if items := listData(t, list); len(items) != 1 || items[0]["id"] != childID || items[0]["parentRunId"] != runID {
		t.Errorf("GET /runs?parentRunId= answered %s, want the one child", list.Body)
	}
	if items := listData(t, a.call(t, "GET", "/runs?parentRunId="+childID, "")); len(items) != 0 {
		t.Errorf("the child has children: %v", items)
	}
	other, _ := a.env.MustKey(t, "acct_other_parent")
	r := gatewaytest.Call(t, "GET", a.env.URL+"/api/v1/runs?parentRunId="+runID, other, "", nil)
	if items := listData(t, r); len(items) != 0 {
		t.Errorf("another account listed the children: %s", r.Body)
	}
	if r := a.call(t, "GET", "/runs?parentRunId=run_nope", ""); r.Status != 400 || !containsField(r.Body, "parentRunId") {
		t.Errorf("a malformed parentRunId: %d %s, want 400 naming it", r.Status, r.Body)
	}
}

func listData(t *testing.T, r gatewaytest.Response) []map[string]any {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.JSON(t)["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// TestAChildThatCannotStartOrFailsFailsTheStep: a missing workflow, a
// disabled one, an input its schema refuses and a child that fails each
// fail the workflow step with their own code, and the failed child's run
// id is in the error.
func TestAChildThatCannotStartOrFailsFailsTheStep(t *testing.T) {
	a := start(t)
	strict := a.workflow(t, `{"name": "strict", "trigger": {"type": "manual"}, "inputSchema": {"type": "object", "required": ["id"]},
	  "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)
	off := a.workflow(t, `{"name": "off", "enabled": false, "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)
	boom := a.workflow(t, `{"name": "boom", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "error(\"no\")"}}]}`)
	gone := a.workflow(t, `{"name": "gone", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)
	a.mustData(t, 200, "DELETE", "/workflows/"+gone, "")
	otherKey, _ := a.env.MustKey(t, "acct_other_child")
	theirs := gatewaytest.Call(t, "POST", a.env.URL+"/api/v1/workflows", otherKey, "application/json",
		[]byte(`{"name": "theirs", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)).Data(t)["id"].(string)
	for _, c := range []struct{ name, with, code string }{
		{"a deleted workflow", `"workflowId": "` + gone + `"`, "WORKFLOW_NOT_FOUND"},
		{"another account's workflow", `"workflowId": "` + theirs + `"`, "WORKFLOW_NOT_FOUND"},
		{"a version that does not exist", `"workflowId": "` + strict + `", "version": 9`, "WORKFLOW_NOT_FOUND"},
		{"a disabled workflow", `"workflowId": "` + off + `"`, "WORKFLOW_DISABLED"},
		{"an input the schema refuses", `"workflowId": "` + strict + `", "input": "{other: 1}"`, "INVALID_INPUT"},
		{"a child that fails", `"workflowId": "` + boom + `"`, "CHILD_FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wf := a.workflow(t, `{"name": "p", "trigger": {"type": "manual"}, "steps": [{"id": "kid", "type": "workflow", "with": {`+c.with+`}}]}`)
			run := a.finished(t, a.run(t, wf, `{}`))
			e, _ := run["error"].(map[string]any)
			if run["status"] != "failed" || e["code"] != c.code || e["step"] != "kid" {
				t.Fatalf("run %s, want failed at kid with %s", jsonOf(run), c.code)
			}
			if c.code == "CHILD_FAILED" {
				if id, _ := stepsOf(run)["kid"]["childRunId"].(string); id == "" || !strings.Contains(fmt.Sprint(e["message"]), id) {
					t.Errorf("error %s does not name the child run", jsonOf(e))
				}
			}
		})
	}
}

// TestCancellingAParentCancelsItsWaitingChild: the child waits in a delay;
// cancelling the parent cancels both.
func TestCancellingAParentCancelsItsWaitingChild(t *testing.T) {
	a := start(t)
	child := a.workflow(t, `{"name": "slow child", "trigger": {"type": "manual"}, "steps": [{"id": "nap", "type": "delay", "with": {"seconds": 3600}}]}`)
	parent := a.workflow(t, `{"name": "parent", "trigger": {"type": "manual"}, "steps": [{"id": "kid", "type": "workflow", "with": {"workflowId": "`+child+`"}}]}`)
	runID := a.run(t, parent, `{}`)
	var childID string
	waitFor(t, func() bool {
		run := a.mustData(t, 200, "GET", "/runs/"+runID, "")
		if kid, ok := stepsOf(run)["kid"]; ok {
			childID, _ = kid["childRunId"].(string)
		}
		if childID == "" {
			return false
		}
		// The step records the child's id before the child is stored:
		// until it is, the child is 404.
		c := a.call(t, "GET", "/runs/"+childID, "")
		return c.Status == 200 && c.Data(t)["status"] == "waiting" && run["status"] == "waiting"
	})
	if got := a.mustData(t, 200, "POST", "/runs/"+runID+"/cancel", ""); got["status"] != "cancelled" {
		t.Fatalf("cancel answered %s", jsonOf(got))
	}
	parentRun := a.finished(t, runID)
	childRun := a.finished(t, childID)
	if parentRun["status"] != "cancelled" || childRun["status"] != "cancelled" {
		t.Fatalf("parent %s, child %s: want both cancelled", parentRun["status"], childRun["status"])
	}
	assertAllEnded(t, parentRun)
	assertAllEnded(t, childRun)
}

// TestDepthIsBounded: a workflow that starts itself goes five runs deep;
// the fifth's workflow step fails with DEPTH_EXCEEDED, and each parent's
// step fails with CHILD_FAILED up to the first run.
func TestDepthIsBounded(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, `{"name": "self", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)
	a.mustData(t, 200, "PUT", "/workflows/"+wf, `{"name": "self", "trigger": {"type": "manual"}, "steps": [
	  {"id": "again", "type": "workflow", "with": {"workflowId": "`+wf+`", "input": "{depth: ((.input.depth // 1) + 1)}"}}]}`)
	top := a.finished(t, a.run(t, wf, `{}`))
	if e, _ := top["error"].(map[string]any); top["status"] != "failed" || e["code"] != "CHILD_FAILED" {
		t.Fatalf("the first run %s, want failed with CHILD_FAILED", jsonOf(top))
	}
	chain := []map[string]any{top}
	for {
		children := listData(t, a.call(t, "GET", "/runs?parentRunId="+chain[len(chain)-1]["id"].(string), ""))
		if len(children) == 0 {
			break
		}
		if len(children) != 1 {
			t.Fatalf("a run has %d children, want 1", len(children))
		}
		chain = append(chain, a.finished(t, children[0]["id"].(string)))
		if len(chain) > 10 {
			t.Fatal("the chain does not end")
		}
	}
	if len(chain) != 5 {
		t.Fatalf("the chain is %d runs deep, want 5", len(chain))
	}
	last := chain[4]
	if e, _ := last["error"].(map[string]any); last["status"] != "failed" || e["code"] != "DEPTH_EXCEEDED" {
		t.Errorf("the fifth run %s, want failed with DEPTH_EXCEEDED", jsonOf(last))
	}
	if jsonOf(last["input"]) != `{"depth":5}` {
		t.Errorf("the fifth run's input %s", jsonOf(last["input"]))
	}
}

// TestAParentAndItsChildSurviveAKill: the local gateway is killed with
// SIGKILL while the parent is parked and its child waits in a delay, and
// started again. Both are resumed from what is stored: the child ends, its
// end wakes the parent, and the parent goes on with the child's output.
func TestAParentAndItsChildSurviveAKill(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_child_kill").Plaintext
	g.start(t)
	call := g.caller(t, key)
	child := call("POST", "/workflows", `{"name": "napping child", "trigger": {"type": "manual"}, "steps": [
	  {"id": "nap", "type": "delay", "with": {"seconds": 3}},
	  {"id": "answer", "type": "transform", "with": {"jq": "{n: .input.n}"}}]}`)["id"].(string)
	parent := call("POST", "/workflows", `{"name": "parent", "trigger": {"type": "manual"}, "steps": [
	  {"id": "kid", "type": "workflow", "with": {"workflowId": "`+child+`", "input": "{n: .input.n}"}},
	  {"id": "after", "type": "transform", "with": {"jq": ".steps.kid.output.n + 1"}}]}`)["id"].(string)
	runID := call("POST", "/workflows/"+parent+"/run", `{"input": {"n": 41}}`)["id"].(string)
	var childID string
	waitFor(t, func() bool {
		run := call("GET", "/runs/"+runID, "")
		kid, ok := stepsOf(run)["kid"]
		if !ok || run["status"] != "waiting" {
			return false
		}
		childID, _ = kid["childRunId"].(string)
		if childID == "" {
			return false
		}
		// Until the child is stored (after its id is recorded), it is 404.
		c := callURL(t, "GET", "http://127.0.0.1:"+g.port+"/api/v1/runs/"+childID, key, "")
		return c.Status == 200 && c.Data(t)["status"] == "waiting"
	})
	g.kill9(t)

	g.start(t)
	run := finishedVia(t, call, runID)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != "42" {
		t.Fatalf("parent %s, want succeeded with 42 after the restart", jsonOf(run))
	}
	if c := call("GET", "/runs/"+childID, ""); c["status"] != "succeeded" {
		t.Errorf("child %s", jsonOf(c))
	}
	list := callURL(t, "GET", "http://127.0.0.1:"+g.port+"/api/v1/runs?parentRunId="+runID, key, "")
	if items, _ := list.JSON(t)["data"].([]any); len(items) != 1 {
		t.Errorf("the parent lists %d children after the restart, want 1: %s", len(items), list.Body)
	}
}
