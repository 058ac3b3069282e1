package runnerit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

// TestAnExpressRunStartedTwiceHasOneSetOfEffects: Step Functions starts an
// Express execution at least once, so one run may be driven by two
// executions at the same time. Here every run is driven by two drivers at
// once, each with its own runner, from its first Advance: each http step
// reaches its target once, each step is recorded with one attempt, and each
// run ends once with the output of one pass.
func TestAnExpressRunStartedTwiceHasOneSetOfEffects(t *testing.T) {
	t.Setenv("HTTP_STEP_TARGETS", "loopback")
	var mu sync.Mutex
	hits := map[string]int{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	t.Cleanup(target.Close)

	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRunsTwice: true})
	key, _ := env.MustKey(t, "acct_it")
	a := api{env: env, key: key}
	// The http steps' short timeout shortens the lease a driver that lost
	// the claim waits out before it looks again.
	wf := a.workflow(t, `{"name": "express twice", "trigger": {"type": "manual"}, "steps": [
	  {"id": "first", "type": "transform", "with": {"jq": ".input.n + 1"}},
	  {"id": "order", "type": "http", "timeoutSeconds": 2, "with": {"method": "GET", "url": "`+target.URL+`/orders/{{ .input.n }}"}},
	  {"id": "found", "type": "condition", "with": {"jq": ".steps.order.output.status == 200"}, "else": "end"},
	  {"id": "double", "type": "transform", "with": {"jq": ".steps.first.output * 2"}},
	  {"id": "notify", "type": "http", "timeoutSeconds": 2, "with": {"method": "POST", "url": "`+target.URL+`/notify/{{ .input.n }}", "body": {"v": "{{ .steps.double.output }}"}}}
	]}`)
	const n = 6
	ids := make([]string, n)
	for i := range n {
		ids[i] = a.run(t, wf, fmt.Sprintf(`{"n": %d}`, i))
	}
	for giveUp := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		first, _ := env.Driver.Driven()
		second, _ := env.Second.Driven()
		if first == 0 && second == 0 {
			break
		}
		if time.Now().After(giveUp) {
			t.Fatalf("the drivers still hold %d and %d runs", first, second)
		}
	}

	// Both drove every run: each made at least one Advance of each.
	if first, second := env.Driver.Advances(), env.Second.Advances(); first < n || second < n {
		t.Fatalf("the drivers made %d and %d Advances of %d runs: each must drive every run", first, second, n)
	}
	stored := runsdb.New(env.Table.Client, env.Table.Name)
	for i, id := range ids {
		record, err := stored.Get(context.Background(), "acct_it", id)
		if err != nil {
			t.Fatal(err)
		}
		if record.Machine != orchestrator.Express {
			t.Errorf("run %s was created for machine %q, want express", id, record.Machine)
		}
		// The run item is written once per status: queued, running,
		// succeeded. A second end would have written it again.
		if record.Revision != 3 {
			t.Errorf("run %s has revision %d, want 3 (queued, running, succeeded once)", id, record.Revision)
		}
		run := a.finished(t, id)
		if run["status"] != "succeeded" {
			t.Fatalf("run %s: %v", id, run["status"])
		}
		for _, s := range run["steps"].([]any) {
			step := s.(map[string]any)
			if step["status"] != "succeeded" || step["attempts"] != float64(1) {
				t.Errorf("run %s step %v: %v after %v attempts", id, step["id"], step["status"], step["attempts"])
			}
		}
		mu.Lock()
		order, notify := hits[fmt.Sprintf("/orders/%d", i)], hits[fmt.Sprintf("/notify/%d", i)]
		mu.Unlock()
		if order != 1 || notify != 1 {
			t.Errorf("run %s: its http steps reached their targets %d and %d times, want once each", id, order, notify)
		}
	}
}
