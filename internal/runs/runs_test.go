package runs_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// recorder is the Orchestrator of these tests (the local driver is another
// package's): it records what it was asked and drives nothing.
type recorder struct {
	mu         sync.Mutex
	started    []string
	stopped    []string
	deliveries []string
}

func (r *recorder) StartDelivery(_ context.Context, _, runID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, runID)
	return nil
}

func (r *recorder) Start(_ context.Context, _, runID string, _ orchestrator.Machine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, runID)
	return nil
}

func (r *recorder) Stop(_ context.Context, runID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = append(r.stopped, runID)
	return nil
}

func (r *recorder) count(list *[]string, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range *list {
		if s == id {
			n++
		}
	}
	return n
}

type api struct {
	env  *gatewaytest.Env
	key  string
	orch *recorder
	db   *runsdb.Store
}

const account = "acct_runs"

func start(t *testing.T) api {
	t.Helper()
	orch := &recorder{}
	env := gatewaytest.MustStart(t, gatewaytest.Options{Orchestrator: orch})
	key, _ := env.MustKey(t, account)
	return api{env: env, key: key, orch: orch, db: runsdb.New(env.Table.Client, env.Table.Name)}
}

func (a api) call(t *testing.T, method, path string, header http.Header, body string) gatewaytest.Response {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return gatewaytest.CallWith(t, method, a.env.URL+routes.BasePath+path, a.key, ct, header, []byte(body))
}

func (a api) workflow(t *testing.T, extra string) string {
	t.Helper()
	r := a.call(t, "POST", "/workflows", nil, `{"name":"w","trigger":{"type":"manual"}`+extra+`,"steps":[{"id":"a","type":"transform","with":{"jq":"."}},{"id":"b","type":"transform","with":{"jq":"."}},{"id":"c","type":"transform","with":{"jq":"."}}]}`)
	if r.Status != 201 {
		t.Fatalf("create workflow: %d %s", r.Status, r.Body)
	}
	return r.Data(t)["id"].(string)
}

func TestStartAnswersTheQueuedRunPinnedToTheVersion(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, `,"timeoutSeconds":60,"inputSchema":{"type":"object","required":["orderId"],"properties":{"orderId":{"type":"string"},"qty":{"type":"integer"}}}`)
	a.call(t, "PUT", "/workflows/"+wf, nil, `{"name":"w2","trigger":{"type":"manual"},"inputSchema":{"type":"object","required":["orderId"],"properties":{"orderId":{"type":"string"},"qty":{"type":"integer"}}},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`)

	r := a.call(t, "POST", "/workflows/"+wf+"/run", nil, `{"input":{"orderId":"o1","qty":2}}`)
	if r.Status != 202 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	run := r.Data(t)
	id, _ := run["id"].(string)
	if !ids.Valid(ids.PrefixRun, id) || run["status"] != "queued" || run["trigger"] != "manual" || run["workflowVersion"] != float64(2) ||
		run["retryOf"] != nil || run["output"] != nil || run["error"] != nil || run["startedAt"] != nil || run["workflowId"] != wf {
		t.Errorf("202 body = %v", run)
	}
	if r.Header.Get("Location") != routes.BasePath+"/runs/"+id {
		t.Errorf("Location = %q", r.Header.Get("Location"))
	}
	if a.orch.count(&a.orch.started, id) != 1 {
		t.Errorf("the orchestrator was not asked to start %s once: %v", id, a.orch.started)
	}
	stored, err := a.db.Get(context.Background(), account, id)
	if err != nil || stored.Status != runs.StatusQueued || string(stored.Input) != `{"orderId":"o1","qty":2}` ||
		stored.Deadline.Sub(stored.CreatedAt) != 30*24*time.Hour || stored.ExpiresAt.Sub(stored.CreatedAt).Round(time.Hour) != runs.DefaultRetention {
		// The PUT dropped timeoutSeconds: version 2 runs up to the maximum.
		t.Errorf("stored run = %+v, %v", stored, err)
	}

	// No body at all: input {}; the schema then wants orderId.
	bad := a.call(t, "POST", "/workflows/"+wf+"/run", nil, "")
	if bad.Status != 400 || !strings.Contains(string(bad.Body), `"field":"input.orderId"`) {
		t.Errorf("missing orderId: %d %s", bad.Status, bad.Body)
	}
	bad = a.call(t, "POST", "/workflows/"+wf+"/run", nil, `{"input":{"orderId":"o","qty":"two"}}`)
	if bad.Status != 400 || !strings.Contains(string(bad.Body), `"field":"input.qty"`) {
		t.Errorf("qty of the wrong type: %d %s", bad.Status, bad.Body)
	}
	for _, body := range []string{`{"input":null}`, `{"inputs":{}}`, `[]`, `{"input":{}} x`} {
		if r := a.call(t, "POST", "/workflows/"+wf+"/run", nil, body); r.Status != 400 {
			t.Errorf("body %s: %d, want 400", body, r.Status)
		}
	}
	page, _ := a.db.List(context.Background(), account, runs.Filter{}, 100, "")
	if len(page.Items) != 1 {
		t.Errorf("refused starts stored runs: %d runs", len(page.Items))
	}
}

func TestStartOfADisabledOrDeletedWorkflow(t *testing.T) {
	a := start(t)
	disabled := a.workflow(t, `,"enabled":false`)
	if r := a.call(t, "POST", "/workflows/"+disabled+"/run", nil, `{}`); r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
		t.Errorf("disabled: %d %s", r.Status, r.Body)
	}
	deleted := a.workflow(t, "")
	a.call(t, "DELETE", "/workflows/"+deleted, nil, "")
	if r := a.call(t, "POST", "/workflows/"+deleted+"/run", nil, `{}`); r.Status != 404 {
		t.Errorf("deleted: %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "POST", "/workflows/"+ids.New(ids.PrefixWorkflow, time.Now())+"/run", nil, `{}`); r.Status != 404 {
		t.Errorf("absent: %d %s", r.Status, r.Body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	key := http.Header{"Idempotency-Key": {"order-1042"}}
	first := a.call(t, "POST", "/workflows/"+wf+"/run", key, `{"input":{"n":1}}`)
	again := a.call(t, "POST", "/workflows/"+wf+"/run", key, `{"input":{"n":1}}`)
	if first.Status != 202 || again.Status != 202 {
		t.Fatalf("statuses %d, %d", first.Status, again.Status)
	}
	id := first.Data(t)["id"].(string)
	if again.Data(t)["id"] != id || again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("replay answered %v (replayed %q)", again.Data(t), again.Header.Get("Idempotent-Replayed"))
	}
	if n := a.orch.count(&a.orch.started, id); n != 1 {
		t.Errorf("run started %d times", n)
	}
	other := a.call(t, "POST", "/workflows/"+wf+"/run", key, `{"input":{"n":2}}`)
	if other.Status != 409 {
		t.Errorf("same key, other body: %d %s", other.Status, other.Body)
	}
	otherWF := a.workflow(t, "")
	if r := a.call(t, "POST", "/workflows/"+otherWF+"/run", key, `{"input":{"n":1}}`); r.Status != 409 {
		t.Errorf("same key and body, other workflow: %d", r.Status)
	}
	// Another account's same key is its own.
	keyB, _ := a.env.MustKey(t, "acct_b")
	wfB := gatewaytest.Call(t, "POST", a.env.URL+routes.BasePath+"/workflows", keyB, "application/json",
		[]byte(`{"name":"w","trigger":{"type":"manual"},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`)).Data(t)["id"].(string)
	if r := gatewaytest.CallWith(t, "POST", a.env.URL+routes.BasePath+"/workflows/"+wfB+"/run", keyB, "application/json", key, []byte(`{"input":{"n":2}}`)); r.Status != 202 {
		t.Errorf("account B with A's key: %d %s", r.Status, r.Body)
	}
	for _, bad := range [][]string{{strings.Repeat("k", 256)}, {"caf\u00e9"}, {""}, {"k1", "k2"}} {
		if r := a.call(t, "POST", "/workflows/"+wf+"/run", http.Header{"Idempotency-Key": bad}, `{}`); r.Status != 400 {
			t.Errorf("key %q: %d", bad, r.Status)
		}
	}
	page, _ := a.db.List(context.Background(), account, runs.Filter{}, 100, "")
	if len(page.Items) != 1 {
		t.Errorf("%d runs in the account, want 1", len(page.Items))
	}
}

// seed stores a run of wf in status, with steps, through the store.
func (a api) seed(t *testing.T, wf string, status runs.Status, steps ...runs.Step) runs.Run {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	run := runs.Run{
		ID: ids.New(ids.PrefixRun, now), AccountID: account, WorkflowID: wf, WorkflowVersion: 1, Status: runs.StatusQueued,
		Trigger: runs.TriggerManual, Input: jsontext.Value(`{"seed":true}`), CreatedAt: now, Deadline: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour),
	}
	ctx := context.Background()
	if err := a.db.Create(ctx, run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	run.Revision = 1
	if status != runs.StatusQueued {
		run.Status, run.StartedAt = status, now
		if status.Finished() {
			run.FinishedAt = now
		}
		if status == runs.StatusFailed {
			run.Error = &runs.Error{Code: "HTTP_STATUS", Message: "503", Step: "b"}
		}
		var err error
		if run, err = a.db.Update(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range steps {
		st.RunID = run.ID
		if _, err := a.db.PutStep(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

func TestCancelInEachStatus(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	cases := []struct {
		from runs.Status
		code int
		want runs.Status
		stop bool
	}{
		{runs.StatusQueued, 200, runs.StatusCancelled, true},
		{runs.StatusWaiting, 200, runs.StatusCancelled, true},
		{runs.StatusRunning, 200, runs.StatusCancelling, false},
		{runs.StatusCancelling, 200, runs.StatusCancelling, false},
		{runs.StatusCancelled, 200, runs.StatusCancelled, false},
		{runs.StatusSucceeded, 409, runs.StatusSucceeded, false},
		{runs.StatusFailed, 409, runs.StatusFailed, false},
		{runs.StatusTimedOut, 409, runs.StatusTimedOut, false},
	}
	for _, c := range cases {
		run := a.seed(t, wf, c.from)
		r := a.call(t, "POST", "/runs/"+run.ID+"/cancel", nil, "")
		if r.Status != c.code {
			t.Errorf("cancel %s: %d %s, want %d", c.from, r.Status, r.Body, c.code)
			continue
		}
		if c.code == 200 && r.Data(t)["status"] != string(c.want) {
			t.Errorf("cancel %s: answered %v, want %s", c.from, r.Data(t)["status"], c.want)
		}
		stored, _ := a.db.Get(context.Background(), account, run.ID)
		if stored.Status != c.want {
			t.Errorf("cancel %s: stored %s, want %s", c.from, stored.Status, c.want)
		}
		if got := a.orch.count(&a.orch.stopped, run.ID); (got == 1) != c.stop || got > 1 {
			t.Errorf("cancel %s: stopped %d times", c.from, got)
		}
		if c.want == runs.StatusCancelled && c.from != runs.StatusCancelled {
			if again := a.call(t, "POST", "/runs/"+run.ID+"/cancel", nil, "{}"); again.Status != 200 || again.Data(t)["status"] != "cancelled" {
				t.Errorf("cancel again: %d %s", again.Status, again.Body)
			}
			refs, _ := a.db.Unfinished(context.Background())
			for _, ref := range refs {
				if ref.RunID == run.ID {
					t.Errorf("a cancelled run kept its unfinished marker")
				}
			}
		}
	}
	if r := a.call(t, "POST", "/runs/"+a.seed(t, wf, runs.StatusQueued).ID+"/cancel", nil, `{"reason":"x"}`); r.Status != 400 {
		t.Errorf("cancel with a body: %d", r.Status)
	}
}

func TestGetListAndStep(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	big := `{"body":"` + strings.Repeat("x", runs.MaxShownOutputBytes) + `"}`
	now := time.Now().UTC().Truncate(time.Millisecond)
	failed := a.seed(t, wf, runs.StatusFailed,
		runs.Step{StepID: "a", Index: 0, Status: runs.StepSucceeded, Attempts: 1, StartedAt: now, FinishedAt: now, Output: jsontext.Value(big)},
		runs.Step{StepID: "b", Index: 1, Status: runs.StepFailed, Attempts: 3, StartedAt: now, FinishedAt: now, Error: &runs.Error{Code: "HTTP_STATUS", Message: "503"}},
	)
	queued := a.seed(t, a.workflow(t, ""), runs.StatusQueued)

	r := a.call(t, "GET", "/runs/"+failed.ID, nil, "")
	if r.Status != 200 {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	run := r.Data(t)
	steps, _ := run["steps"].([]any)
	if run["status"] != "failed" || len(steps) != 2 || run["error"].(map[string]any)["step"] != "b" {
		t.Fatalf("get = %v", run)
	}
	first, second := steps[0].(map[string]any), steps[1].(map[string]any)
	shown, _ := first["output"].(string)
	if first["id"] != "a" || first["truncated"] != true || len(shown) != runs.MaxShownOutputBytes || !strings.HasPrefix(big, shown) {
		t.Errorf("big output shown as %d chars, truncated %v", len(shown), first["truncated"])
	}
	if second["id"] != "b" || second["attempts"] != float64(3) || second["truncated"] != false || second["error"].(map[string]any)["code"] != "HTTP_STATUS" {
		t.Errorf("failed step = %v", second)
	}
	whole := a.call(t, "GET", "/runs/"+failed.ID+"/steps/a", nil, "")
	if whole.Status != 200 || whole.Data(t)["truncated"] != false || !strings.Contains(string(whole.Body), strings.Repeat("x", runs.MaxShownOutputBytes)) {
		t.Errorf("get step whole: %d, %d bytes", whole.Status, len(whole.Body))
	}
	if r := a.call(t, "GET", "/runs/"+failed.ID+"/steps/c", nil, ""); r.Status != 404 {
		t.Errorf("a step that never began: %d", r.Status)
	}
	if r := a.call(t, "GET", "/runs/"+queued.ID, nil, ""); r.Status != 200 || len(r.Data(t)["steps"].([]any)) != 0 {
		t.Errorf("a run without steps: %d %s", r.Status, r.Body)
	}

	list := func(query string) (ids []string, next any) {
		r := a.call(t, "GET", "/runs"+query, nil, "")
		if r.Status != 200 {
			t.Fatalf("list %s: %d %s", query, r.Status, r.Body)
		}
		for _, it := range r.JSON(t)["data"].([]any) {
			m := it.(map[string]any)
			if _, has := m["input"]; has {
				t.Errorf("a listed run shows its input")
			}
			ids = append(ids, m["id"].(string))
		}
		return ids, r.JSON(t)["meta"].(map[string]any)["nextCursor"]
	}
	if got, _ := list(""); len(got) != 2 || got[0] != queued.ID {
		t.Errorf("list = %v, want newest first", got)
	}
	if got, next := list("?limit=1"); len(got) != 1 || next == nil {
		t.Errorf("page of 1: %v, next %v", got, next)
	} else if rest, _ := list("?limit=1&cursor=" + next.(string)); len(rest) != 1 || rest[0] != failed.ID {
		t.Errorf("second page: %v", rest)
	}
	if got, _ := list("?workflowId=" + wf); len(got) != 1 || got[0] != failed.ID {
		t.Errorf("by workflow: %v", got)
	}
	if got, _ := list("?status=queued"); len(got) != 1 || got[0] != queued.ID {
		t.Errorf("by status: %v", got)
	}
	if got, _ := list("?status=failed&workflowId=" + wf); len(got) != 1 || got[0] != failed.ID {
		t.Errorf("by both: %v", got)
	}
	for _, q := range []string{"?status=done", "?workflowId=run_x", "?status=queued&status=failed", "?workflowId=", "?cursor=nope"} {
		if r := a.call(t, "GET", "/runs"+q, nil, ""); r.Status != 400 {
			t.Errorf("list %s: %d, want 400", q, r.Status)
		}
	}
}

func TestRetry(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	now := time.Now().UTC().Truncate(time.Millisecond)
	failed := a.seed(t, wf, runs.StatusFailed,
		runs.Step{StepID: "a", Index: 0, Status: runs.StepSucceeded, Attempts: 1, StartedAt: now, FinishedAt: now, Output: jsontext.Value(`{"a":1}`)},
		runs.Step{StepID: "b", Index: 1, Status: runs.StepFailed, Attempts: 2, StartedAt: now, FinishedAt: now, Error: &runs.Error{Code: "X", Message: "x"}},
	)
	r := a.call(t, "POST", "/runs/"+failed.ID+"/retry", nil, "")
	if r.Status != 202 {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	plain := r.Data(t)
	if plain["retryOf"] != failed.ID || plain["trigger"] != "retry" || plain["workflowVersion"] != float64(1) || plain["status"] != "queued" {
		t.Errorf("retry = %v", plain)
	}
	ctx := context.Background()
	stored, _ := a.db.Get(ctx, account, plain["id"].(string))
	if stored.NextStep != 0 || string(stored.Input) != `{"seed":true}` {
		t.Errorf("plain retry starts at %d with %s", stored.NextStep, stored.Input)
	}
	if steps, _ := a.db.Steps(ctx, stored.ID); len(steps) != 0 {
		t.Errorf("plain retry copied %d steps", len(steps))
	}
	if a.orch.count(&a.orch.started, stored.ID) != 1 {
		t.Errorf("the retry was not started")
	}

	r = a.call(t, "POST", "/runs/"+failed.ID+"/retry", nil, `{"from":"failed_step"}`)
	if r.Status != 202 {
		t.Fatalf("retry from failed step: %d %s", r.Status, r.Body)
	}
	fromStep, _ := a.db.Get(ctx, account, r.Data(t)["id"].(string))
	steps, _ := a.db.Steps(ctx, fromStep.ID)
	if fromStep.NextStep != 1 || len(steps) != 1 || steps[0].StepID != "a" || !steps[0].Reused || string(steps[0].Output) != `{"a":1}` {
		t.Errorf("from failed step: next %d, steps %+v", fromStep.NextStep, steps)
	}
	shown := a.call(t, "GET", "/runs/"+fromStep.ID, nil, "").Data(t)["steps"].([]any)
	if len(shown) != 1 || shown[0].(map[string]any)["reused"] != true {
		t.Errorf("reused step shown as %v", shown)
	}

	for _, status := range []runs.Status{runs.StatusQueued, runs.StatusRunning, runs.StatusSucceeded} {
		if r := a.call(t, "POST", "/runs/"+a.seed(t, wf, status).ID+"/retry", nil, ""); r.Status != 409 {
			t.Errorf("retry of a %s run: %d", status, r.Status)
		}
	}
	for _, status := range []runs.Status{runs.StatusCancelled, runs.StatusTimedOut} {
		if r := a.call(t, "POST", "/runs/"+a.seed(t, wf, status).ID+"/retry", nil, `{"from":"failed_step"}`); r.Status != 202 {
			t.Errorf("retry of a %s run: %d %s", status, r.Status, r.Body)
		}
	}
	for _, body := range []string{`{"from":"start"}`, `{"from":""}`, `{"from":1}`, `{"x":1}`} {
		if r := a.call(t, "POST", "/runs/"+failed.ID+"/retry", nil, body); r.Status != 400 {
			t.Errorf("retry body %s: %d", body, r.Status)
		}
	}
	a.call(t, "DELETE", "/workflows/"+wf, nil, "")
	if r := a.call(t, "POST", "/runs/"+failed.ID+"/retry", nil, ""); r.Status != 409 {
		t.Errorf("retry of a deleted workflow's run: %d", r.Status)
	}
}

func TestAnotherAccountSeesNothingAndScopesAreChecked(t *testing.T) {
	a := start(t)
	wf := a.workflow(t, "")
	run := a.seed(t, wf, runs.StatusFailed, runs.Step{StepID: "a", Index: 0, Status: runs.StepFailed, Attempts: 1})
	keyB, _ := a.env.MustKey(t, "acct_b")
	asB := func(method, path, body string) gatewaytest.Response {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return gatewaytest.Call(t, method, a.env.URL+routes.BasePath+path, keyB, ct, []byte(body))
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/workflows/" + wf + "/run"}, {"GET", "/runs/" + run.ID}, {"GET", "/runs/" + run.ID + "/steps/a"},
		{"POST", "/runs/" + run.ID + "/cancel"}, {"POST", "/runs/" + run.ID + "/retry"},
	} {
		if r := asB(c.method, c.path, ""); r.Status != 404 {
			t.Errorf("account B %s %s: %d, want 404", c.method, c.path, r.Status)
		}
	}
	for _, q := range []string{"", "?workflowId=" + wf, "?status=failed"} {
		if r := asB("GET", "/runs"+q, ""); r.Status != 200 || len(r.JSON(t)["data"].([]any)) != 0 {
			t.Errorf("account B lists %s: %s", q, r.Body)
		}
	}
	stored, _ := a.db.Get(context.Background(), account, run.ID)
	if stored.Status != runs.StatusFailed || stored.Revision != run.Revision {
		t.Errorf("account B changed the run: %+v", stored)
	}

	readOnly, _ := a.env.MustKey(t, account, domain.ScopeRunsRead)
	noRuns, _ := a.env.MustKey(t, account, domain.ScopeWorkflowsExecute)
	for _, c := range []struct {
		key, method, path string
	}{
		{readOnly, "POST", "/workflows/" + wf + "/run"}, {readOnly, "POST", "/runs/" + run.ID + "/cancel"},
		{readOnly, "POST", "/runs/" + run.ID + "/retry"}, {noRuns, "GET", "/runs"}, {noRuns, "GET", "/runs/" + run.ID},
		{noRuns, "GET", "/runs/" + run.ID + "/steps/a"},
	} {
		if r := gatewaytest.Call(t, c.method, a.env.URL+routes.BasePath+c.path, c.key, "", nil); r.Status != 403 {
			t.Errorf("%s %s without its scope: %d", c.method, c.path, r.Status)
		}
	}
}
