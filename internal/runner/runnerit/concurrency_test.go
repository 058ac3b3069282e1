package runnerit

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slotTarget is a target that counts the requests it is serving at once,
// overall and per key (the path's first segment), holding each a while.
type slotTarget struct {
	mu       sync.Mutex
	now, max int
	perKey   map[string]int
	maxKey   map[string]int
	order    []string
	hold     time.Duration
}

func newSlotTarget(hold time.Duration) *slotTarget {
	return &slotTarget{perKey: map[string]int{}, maxKey: map[string]int{}, hold: hold}
}

func (f *slotTarget) serve(w http.ResponseWriter, r *http.Request) {
	key := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	f.mu.Lock()
	f.now++
	f.perKey[key]++
	f.max = max(f.max, f.now)
	f.maxKey[key] = max(f.maxKey[key], f.perKey[key])
	f.order = append(f.order, r.URL.Path)
	f.mu.Unlock()
	time.Sleep(f.hold)
	f.mu.Lock()
	f.now--
	f.perKey[key]--
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// startAll starts one run per input at once and answers their ids.
func (a api) startAll(t *testing.T, workflowID string, inputs []string) []string {
	t.Helper()
	ids := make([]string, len(inputs))
	var wg sync.WaitGroup
	errs := make(chan string, len(inputs))
	for i, input := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.call(t, "POST", "/workflows/"+workflowID+"/run", `{"input": `+input+`}`)
			if r.Status != 202 {
				errs <- fmt.Sprintf("start %d: %d %s", i, r.Status, r.Body)
				return
			}
			ids[i] = r.JSON(t)["data"].(map[string]any)["id"].(string)
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return ids
}

// TestAConcurrencyLimitOfTwoRunsTwentyRunsTwoAtATime: 20 runs started at
// once of a workflow limited to 2: the target never sees more than 2 of
// their steps at once (and does see 2), the others wait queued, and all 20
// succeed.
func TestAConcurrencyLimitOfTwoRunsTwentyRunsTwoAtATime(t *testing.T) {
	a := start(t)
	target := newSlotTarget(150 * time.Millisecond)
	tg := newTarget(t, target.serve)
	wf := a.workflow(t, `{"name": "limited", "trigger": {"type": "manual"}, "concurrency": {"limit": 2}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/all/{{ .input.n }}"}},
	  {"id": "done", "type": "transform", "with": {"jq": ".input.n"}}]}`)
	inputs := make([]string, 20)
	for i := range inputs {
		inputs[i] = fmt.Sprintf(`{"n": %d}`, i)
	}
	ids := a.startAll(t, wf, inputs)
	sawQueued := false
	for _, id := range ids {
		run := a.finished(t, id)
		if run["status"] != "succeeded" {
			t.Errorf("run %s, want succeeded", jsonOf(run))
		}
		if run["startedAt"] != nil && run["createdAt"] != nil && run["startedAt"].(string) > run["createdAt"].(string) {
			sawQueued = true
		}
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.max > 2 || target.max < 2 || len(target.order) != 20 {
		t.Fatalf("the target saw at most %d at once over %d calls, want exactly 2 at once and 20 calls", target.max, len(target.order))
	}
	if !sawQueued {
		t.Error("no run started after it was made: none waited for a slot")
	}
}

// TestAKeyedLimitHoldsEachKeyApart: a limit of 1 per customer lets two
// customers' runs go side by side while each customer's go one at a time.
func TestAKeyedLimitHoldsEachKeyApart(t *testing.T) {
	a := start(t)
	target := newSlotTarget(150 * time.Millisecond)
	tg := newTarget(t, target.serve)
	wf := a.workflow(t, `{"name": "per customer", "trigger": {"type": "manual"}, "concurrency": {"limit": 1, "key": ".input.customer"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/{{ .input.customer }}/{{ .input.n }}"}}]}`)
	var inputs []string
	for i := range 4 {
		for _, c := range []string{"acme", "globex", "initech"} {
			inputs = append(inputs, fmt.Sprintf(`{"customer": %q, "n": %d}`, c, i))
		}
	}
	for _, id := range a.startAll(t, wf, inputs) {
		if run := a.finished(t, id); run["status"] != "succeeded" {
			t.Errorf("run %s, want succeeded", jsonOf(run))
		}
	}
	// A key that fails on a run's input fails the run: it could count
	// against no limit.
	broken := a.workflow(t, `{"name": "broken key", "trigger": {"type": "manual"}, "concurrency": {"limit": 1, "key": ".input.customer.id"}, "steps": [
	  {"id": "x", "type": "transform", "with": {"jq": "1"}}]}`)
	run := a.finished(t, a.run(t, broken, `{"customer": "acme"}`))
	if e, _ := run["error"].(map[string]any); run["status"] != "failed" || e["code"] != "CONCURRENCY_KEY_ERROR" {
		t.Errorf("run %s, want failed with CONCURRENCY_KEY_ERROR", jsonOf(run))
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	for _, c := range []string{"acme", "globex", "initech"} {
		if target.maxKey[c] != 1 {
			t.Errorf("customer %s had %d runs' steps at once, want 1", c, target.maxKey[c])
		}
	}
	if target.max < 2 {
		t.Errorf("at most %d at once overall: the customers' limits were not apart", target.max)
	}
	if target.max > 3 {
		t.Errorf("%d at once overall, with three customers limited to one each", target.max)
	}
}

// TestQueuedRunsStartInOrderAndEveryEndFreesTheSlot: under a limit of 1,
// runs queued one after another run in that order; a run cancelled while
// queued, one cancelled while running and one that fails each give their
// place or slot up, so the runs after them still run; and a run waiting in
// a delay holds no slot.
func TestQueuedRunsStartInOrderAndEveryEndFreesTheSlot(t *testing.T) {
	a := start(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	target := newSlotTarget(20 * time.Millisecond)
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/hang/"):
			<-release
			return
		case strings.HasPrefix(r.URL.Path, "/fail/"):
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		target.serve(w, r)
	})
	wf := a.workflow(t, `{"name": "one at a time", "trigger": {"type": "manual"}, "concurrency": {"limit": 1}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/{{ .input.path }}"}},
	  {"id": "napping", "type": "condition", "with": {"jq": ".input.nap == true"}, "else": "end"},
	  {"id": "nap", "type": "delay", "with": {"seconds": 2}}]}`)
	status := func(id string) any { return a.mustData(t, 200, "GET", "/runs/"+id, "")["status"] }
	run := func(path string, nap bool) string {
		return a.run(t, wf, fmt.Sprintf(`{"path": %q, "nap": %t}`, path, nap))
	}

	holder := run("hang/h", false)
	waitFor(t, func() bool { return status(holder) == "running" })
	cancelledQueued := run("ok/1", false)
	queued := []string{run("ok/2", false), run("ok/3", false), run("ok/4", false)}
	for _, id := range append([]string{cancelledQueued}, queued...) {
		if s := status(id); s != "queued" {
			t.Fatalf("run %s is %v while the slot is held, want queued", id, s)
		}
	}
	if r := a.call(t, "POST", "/runs/"+cancelledQueued+"/cancel", ""); r.Status != 200 || status(cancelledQueued) != "cancelled" {
		t.Fatalf("cancel of a queued run: %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "POST", "/runs/"+holder+"/cancel", ""); r.Status != 200 || status(holder) != "cancelling" {
		t.Fatalf("cancel of the running run: %d %s", r.Status, r.Body)
	}
	once.Do(func() { close(release) })
	if run := a.finished(t, holder); run["status"] != "cancelled" {
		t.Fatalf("holder %s, want cancelled", jsonOf(run))
	}
	for _, id := range queued {
		if run := a.finished(t, id); run["status"] != "succeeded" {
			t.Fatalf("queued run %s, want succeeded once the slot was given up", jsonOf(run))
		}
	}

	// A failure gives the slot up too: the next run is not held behind it.
	if run := a.finished(t, run("fail/f", false)); run["status"] != "failed" {
		t.Fatalf("run %s, want failed", jsonOf(run))
	}
	if run := a.finished(t, run("ok/5", false)); run["status"] != "succeeded" {
		t.Fatalf("run %s after a failure, want succeeded", jsonOf(run))
	}

	// A run in its delay holds no slot: another runs meanwhile.
	napper := run("ok/6", true)
	waitFor(t, func() bool { return status(napper) == "waiting" })
	if run := a.finished(t, run("ok/7", false)); run["status"] != "succeeded" {
		t.Fatalf("run %s beside a waiting one, want succeeded", jsonOf(run))
	}
	if s := status(napper); s != "waiting" {
		t.Errorf("the napping run is %v, want still waiting: the other ran during its delay", s)
	}
	if run := a.finished(t, napper); run["status"] != "succeeded" {
		t.Fatalf("napping run %s, want succeeded after its delay", jsonOf(run))
	}

	target.mu.Lock()
	defer target.mu.Unlock()
	want := "/ok/2 /ok/3 /ok/4 /ok/5 /ok/6 /ok/7"
	if got := strings.Join(target.order, " "); got != want {
		t.Errorf("the target saw %s, want %s: queued runs start in the order they were started, and the cancelled one never", got, want)
	}
	if target.max != 1 {
		t.Errorf("%d at once under a limit of 1", target.max)
	}
}
