package runnerit

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

// inFlight is a target that counts the requests it holds at once, and
// keeps each request's Idempotency-Key by path.
type inFlight struct {
	mu      sync.Mutex
	now     int
	most    int
	keys    map[string][]string
	hold    time.Duration
	refuse  map[string]bool // path -> answer 400
	started chan string
}

func newInFlight(hold time.Duration) *inFlight {
	return &inFlight{keys: map[string][]string{}, hold: hold, refuse: map[string]bool{}}
}

func (f *inFlight) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.now++
	f.most = max(f.most, f.now)
	f.keys[r.URL.Path] = append(f.keys[r.URL.Path], r.Header.Get("Idempotency-Key"))
	refuse := f.refuse[r.URL.Path]
	started := f.started
	f.mu.Unlock()
	if started != nil {
		started <- r.URL.Path
	}
	time.Sleep(f.hold)
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
	if refuse {
		w.WriteHeader(400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
}

func (f *inFlight) sent(path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys[path]...)
}

func (f *inFlight) mostAtOnce() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most
}

// TestForeachRunsItsItemsWithItsConcurrency: 50 items at concurrency 5.
// The target sees at most 5 requests at once (and more than one: they do
// run at once), each item once with its own Idempotency-Key, and the
// output is the item outputs in item order.
func TestForeachRunsItsItemsWithItsConcurrency(t *testing.T) {
	a := start(t)
	f := newInFlight(30 * time.Millisecond)
	tg := newTarget(t, f.handle)
	wf := a.workflow(t, `{"name": "fifty", "trigger": {"type": "manual"}, "steps": [
	  {"id": "orders", "type": "transform", "with": {"jq": "[range(50) | {id: ., sku: \"s\\(.)\"}]"}},
	  {"id": "notify", "type": "foreach", "with": {"items": ".steps.orders.output", "concurrency": 5,
	    "step": {"type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/orders/{{ .item.id }}", "body": {"sku": "{{ .item.sku }}", "at": "{{ .index }}"}}}}},
	  {"id": "count", "type": "transform", "with": {"jq": ".steps.notify.output | length"}}]}`)
	runID := a.run(t, wf, `{}`)
	run := a.finished(t, runID)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != "50" {
		t.Fatalf("run %s, want succeeded with 50 item outputs", jsonOf(run))
	}
	if most := f.mostAtOnce(); most > 5 || most < 2 {
		t.Errorf("the target held %d requests at once, want 2 to 5 (concurrency 5)", most)
	}
	for i := range 50 {
		keys := f.sent("/orders/" + strconv.Itoa(i))
		if want := runID + ":notify:" + strconv.Itoa(i); len(keys) != 1 || keys[0] != want {
			t.Errorf("item %d sent %v, want once with Idempotency-Key %s", i, keys, want)
		}
	}
	step := a.mustData(t, 200, "GET", "/runs/"+runID+"/steps/notify", "")
	outputs := step["output"].([]any)
	for i, o := range outputs {
		if body := o.(map[string]any)["body"].(map[string]any); body["path"] != "/orders/"+strconv.Itoa(i) {
			t.Fatalf("output[%d] is %s: not in item order", i, jsonOf(o))
		}
	}
	items := step["items"].([]any)
	if len(items) != 50 {
		t.Fatalf("GET the step lists %d items, want 50", len(items))
	}
	for i, it := range items {
		item := it.(map[string]any)
		if item["index"] != float64(i) || item["status"] != "succeeded" || item["attempts"] != float64(1) || item["error"] != nil {
			t.Errorf("items[%d] = %s, want succeeded after 1 attempt", i, jsonOf(item))
		}
	}
}

// TestAFailedItemIsTheOnlyOneARetryResends: item 7 fails (400, which no
// retry mends); the others still run and land, and the step and the run
// fail naming item 7; once the target mends, a retry from the failed step
// sends item 7 only.
func TestAFailedItemIsTheOnlyOneARetryResends(t *testing.T) {
	a := start(t)
	f := newInFlight(0)
	f.refuse["/items/7"] = true
	tg := newTarget(t, f.handle)
	wf := a.workflow(t, `{"name": "seven fails", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(12)]", "concurrency": 3,
	    "step": {"type": "http", "with": {"method": "PUT", "url": "`+tg.URL+`/items/{{ .item }}"}}}, "retry": {"maxAttempts": 2}},
	  {"id": "after", "type": "transform", "with": {"jq": ".steps.each.output | length"}}]}`)
	first := a.finished(t, a.run(t, wf, `{}`))
	runErr, _ := first["error"].(map[string]any)
	if first["status"] != "failed" || runErr["step"] != "each" || runErr["code"] != "HTTP_STATUS" || !strings.Contains(fmt.Sprint(runErr["message"]), "item 7") {
		t.Fatalf("run %s, want failed at each naming item 7", jsonOf(first))
	}
	step := a.mustData(t, 200, "GET", "/runs/"+first["id"].(string)+"/steps/each", "")
	for i, it := range step["items"].([]any) {
		item := it.(map[string]any)
		want := "succeeded"
		if i == 7 {
			want = "failed"
		}
		if item["status"] != want {
			t.Errorf("items[%d] = %s, want %s", i, jsonOf(item), want)
		}
	}
	if item7 := step["items"].([]any)[7].(map[string]any); item7["error"].(map[string]any)["code"] != "HTTP_STATUS" || item7["attempts"] != float64(1) {
		t.Errorf("item 7 = %s, want HTTP_STATUS after 1 attempt (a 400 is not retried)", jsonOf(item7))
	}
	for i := range 12 {
		if n := len(f.sent("/items/" + strconv.Itoa(i))); n != 1 {
			t.Errorf("item %d was sent %d times in the first run, want 1", i, n)
		}
	}

	f.mu.Lock()
	f.refuse["/items/7"] = false
	f.mu.Unlock()
	retry := a.mustData(t, 202, "POST", "/runs/"+first["id"].(string)+"/retry", `{"from": "failed_step"}`)
	second := a.finished(t, retry["id"].(string))
	if second["status"] != "succeeded" || jsonOf(second["output"]) != "12" {
		t.Fatalf("retry %s, want succeeded with 12 outputs", jsonOf(second))
	}
	for i := range 12 {
		want := 1
		if i == 7 {
			want = 2
		}
		if n := len(f.sent("/items/" + strconv.Itoa(i))); n != want {
			t.Errorf("item %d was sent %d times in all, want %d: the retry redoes only the item that failed", i, n, want)
		}
	}
	if keys := f.sent("/items/7"); keys[1] != retry["id"].(string)+":each:7" {
		t.Errorf("the retried item carried Idempotency-Key %q, want the new run's", keys[1])
	}
	retried := a.mustData(t, 200, "GET", "/runs/"+retry["id"].(string)+"/steps/each", "")
	for i, it := range retried["items"].([]any) {
		if reused := it.(map[string]any)["reused"] == true; reused == (i == 7) {
			t.Errorf("items[%d] of the retry = %s: only item 7 should have run again", i, jsonOf(it))
		}
	}
}

// TestParallelRunsItsStepsAtOnce: three inner steps, one slow. All three
// are at the target at once; the output is keyed by inner step id; and a
// failing inner step fails the step after the others land.
func TestParallelRunsItsStepsAtOnce(t *testing.T) {
	a := start(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	// fast and slow meet at the target before either answers: run at once,
	// the second arrives while the first waits; run one after the other,
	// the first waits out the 5 s alone and most stays 1. Sleeps alone let a
	// loaded machine start slow after fast had answered (CI saw most 1).
	bothIn := make(chan struct{})
	var meet sync.Once
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight >= 2 {
			meet.Do(func() { close(bothIn) })
		}
		mu.Unlock()
		select {
		case <-bothIn:
		case <-time.After(5 * time.Second):
		}
		switch r.URL.Path {
		case "/slow":
			time.Sleep(700 * time.Millisecond)
		default:
			time.Sleep(200 * time.Millisecond)
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		if r.URL.Path == "/broken" {
			w.WriteHeader(422)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"from": %q}`, r.URL.Path)
	})
	wf := a.workflow(t, `{"name": "three at once", "trigger": {"type": "manual"}, "steps": [
	  {"id": "all", "type": "parallel", "with": {"steps": [
	    {"id": "fast", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/fast"}},
	    {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow"}},
	    {"id": "local", "type": "transform", "with": {"jq": "{n: .input.n}"}}]}},
	  {"id": "joined", "type": "transform", "with": {"jq": ".steps.all.output | [.fast.body.from, .slow.body.from, .local.n]"}}]}`)
	runID := a.run(t, wf, `{"n": 3}`)
	run := a.finished(t, runID)
	if run["status"] != "succeeded" || jsonOf(run["output"]) != `["/fast","/slow",3]` {
		t.Fatalf("run %s, want the three outputs joined", jsonOf(run))
	}
	if most != 2 {
		t.Errorf("the target held %d requests at once, want 2 (fast and slow together)", most)
	}
	step := a.mustData(t, 200, "GET", "/runs/"+runID+"/steps/all", "")
	var names []string
	for _, it := range step["items"].([]any) {
		names = append(names, fmt.Sprint(it.(map[string]any)["id"]))
	}
	if strings.Join(names, ",") != "fast,slow,local" {
		t.Errorf("items named %v, want fast,slow,local", names)
	}

	failing := a.workflow(t, `{"name": "one breaks", "trigger": {"type": "manual"}, "steps": [
	  {"id": "all", "type": "parallel", "with": {"steps": [
	    {"id": "broken", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/broken"}},
	    {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow"}}]}, "onError": "continue"},
	  {"id": "branch", "type": "condition", "with": {"jq": ".steps.all.status == \"failed\""}, "else": "end"},
	  {"id": "why", "type": "transform", "with": {"jq": ".steps.all.error.code"}}]}`)
	failedRun := a.finished(t, a.run(t, failing, `{}`))
	if failedRun["status"] != "succeeded" || jsonOf(failedRun["output"]) != `"HTTP_STATUS"` {
		t.Fatalf("run %s, want the parallel failed, continued and branched on", jsonOf(failedRun))
	}
	failedStep := a.mustData(t, 200, "GET", "/runs/"+failedRun["id"].(string)+"/steps/all", "")
	items := failedStep["items"].([]any)
	if items[1].(map[string]any)["status"] != "succeeded" {
		t.Errorf("the slow inner step %s, want succeeded: steps in flight finish first", jsonOf(items[1]))
	}
	if !strings.Contains(fmt.Sprint(failedStep["error"]), "inner step broken") {
		t.Errorf("the step's error %s does not name the inner step", jsonOf(failedStep["error"]))
	}
}

// TestAKilledForeachSendsEachItemAtMostTwice: the local gateway is killed
// with SIGKILL in the middle of a 200-item foreach and started again. The
// run succeeds; every item was sent at most twice, and an item sent twice
// carried the same Idempotency-Key both times.
func TestAKilledForeachSendsEachItemAtMostTwice(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_foreach_kill").Plaintext
	f := newInFlight(20 * time.Millisecond)
	f.started = make(chan string, 1000)
	tg := newTarget(t, f.handle)

	g.start(t)
	call := g.caller(t, key)
	wf := call("POST", "/workflows", `{"name": "two hundred", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(200)]", "concurrency": 5,
	    "step": {"type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/n/{{ .item }}"}}}, "timeoutSeconds": 2, "retry": {"maxAttempts": 3}}]}`)["id"].(string)
	runID := call("POST", "/workflows/"+wf+"/run", `{"input": {}}`)["id"].(string)
	for range 60 {
		<-f.started
	}
	g.kill9(t)
	// What was recorded succeeded when the process died is never sent again.
	recorded, err := itemsInTable(table, runID, "each")
	if err != nil {
		t.Fatal(err)
	}

	g.start(t)
	if run := finishedVia(t, call, runID); run["status"] != "succeeded" {
		t.Fatalf("run %s, want succeeded after the restart", jsonOf(run))
	}
	succeededBefore := 0
	for i, status := range recorded {
		if status != "succeeded" {
			continue
		}
		succeededBefore++
		if n := len(f.sent("/n/" + strconv.Itoa(i))); n != 1 {
			t.Errorf("item %d was recorded succeeded before the kill and sent %d times, want once", i, n)
		}
	}
	if succeededBefore == 0 {
		t.Fatal("no item had been recorded succeeded at the kill: the test shows nothing")
	}
	twice := 0
	for i := range 200 {
		keys := f.sent("/n/" + strconv.Itoa(i))
		want := runID + ":each:" + strconv.Itoa(i)
		switch {
		case len(keys) == 0 || len(keys) > 2:
			t.Errorf("item %d was sent %d times, want once or twice", i, len(keys))
		case len(keys) == 2:
			twice++
			fallthrough
		default:
			for _, k := range keys {
				if k != want {
					t.Errorf("item %d carried Idempotency-Key %q, want %q", i, k, want)
				}
			}
		}
	}
	t.Logf("%d of 200 items were sent twice (in flight at the kill)", twice)
}

// TestAKilledParallelRedoesOnlyTheInnerStepCutOff: the local gateway is
// killed with SIGKILL while one inner step of a parallel hangs and the
// other has been recorded succeeded. After the restart, only the one cut
// off is sent again, with the same Idempotency-Key.
func TestAKilledParallelRedoesOnlyTheInnerStepCutOff(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_parallel_kill").Plaintext
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	keys := map[string][]string{}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys[r.URL.Path] = append(keys[r.URL.Path], r.Header.Get("Idempotency-Key"))
		first := len(keys[r.URL.Path]) == 1
		mu.Unlock()
		if r.URL.Path == "/slow" && first {
			select { // cut off by the kill
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"from": %q}`, r.URL.Path)
	})
	g.start(t)
	call := g.caller(t, key)
	wf := call("POST", "/workflows", `{"name": "parallel kill", "trigger": {"type": "manual"}, "steps": [
	  {"id": "both", "type": "parallel", "with": {"steps": [
	    {"id": "fast", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/fast"}},
	    {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow"}, "timeoutSeconds": 2, "retry": {"maxAttempts": 3}}]}}]}`)["id"].(string)
	runID := call("POST", "/workflows/"+wf+"/run", `{"input": {}}`)["id"].(string)
	waitFor(t, func() bool {
		items, err := itemsInTable(table, runID, "both")
		return err == nil && items[0] == "succeeded" && items[1] == "running"
	})
	g.kill9(t)

	g.start(t)
	run := finishedVia(t, call, runID)
	if run["status"] != "succeeded" || jsonOf(stepsOf(run)["both"]["output"].(map[string]any)["slow"].(map[string]any)["body"]) != `{"from":"/slow"}` {
		t.Fatalf("run %s, want succeeded with both outputs", jsonOf(run))
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(keys["/fast"]); n != 1 {
		t.Errorf("the inner step recorded succeeded was sent %d times, want once", n)
	}
	want := runID + ":both:slow"
	if got := keys["/slow"]; len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("the inner step cut off was sent with %v, want twice with %s", got, want)
	}
}
