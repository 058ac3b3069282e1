package runner_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
)

const foreachOfTen = `{"name": "each", "trigger": {"type": "manual"}, "steps": [
  {"id": "each", "type": "foreach", "with": {"items": "[range(10) | {n: .}]", "concurrency": 3,
    "step": {"type": "transform", "with": {"jq": "{n: .item.n, i: .index, a: .run.attempt}"}}}, "retry": {"maxAttempts": 3}},
  {"id": "sum", "type": "transform", "with": {"jq": "[.steps.each.output[].n] | add"}}]}`

func TestForeachItemsSeeTheirItemAndLandInOrder(t *testing.T) {
	e := newEnv(t, foreachOfTen)
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusSucceeded || string(run.Output) != "45" {
		t.Fatalf("run %s %s, want succeeded with 45", run.Status, run.Output)
	}
	st := e.stepStatus(t, "each")
	if st.ItemCount != 10 || st.Items != nil || !strings.HasPrefix(string(st.Output), `[{"a":1,"i":0,"n":0},{"a":1,"i":1,"n":1}`) {
		t.Errorf("step %+v: want 10 items, their outputs in order, the items no longer kept", st)
	}
	keys := strings.Join(e.engine.keys, ",")
	for _, want := range []string{"run_1:each:0", "run_1:each:9"} {
		if !strings.Contains(keys, want) {
			t.Errorf("keys %s lack %s", keys, want)
		}
	}
}

func TestAForeachItemRetriesAloneAndAFailureWaitsForTheOthers(t *testing.T) {
	e := newEnv(t, foreachOfTen)
	// Item 4 fails twice then succeeds (its own attempts); item 6 fails for
	// good at once. Every other item still runs.
	e.engine.script["each#4"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0), fail("HTTP_STATUS", true, 0), ok("four")}
	e.engine.script["each#6"] = []func(context.Context) (engine.Result, error){fail("JQ_ERROR", false, 0)}
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error.Step != "each" || run.Error.Code != "JQ_ERROR" || !strings.HasPrefix(run.Error.Message, "item 6: ") {
		t.Fatalf("run %s %+v, want failed at each, item 6", run.Status, run.Error)
	}
	if n := e.engine.count("each#4"); n != 3 {
		t.Errorf("item 4 ran %d times, want 3 (its own retries)", n)
	}
	for i, name := range []string{"each#0", "each#5", "each#9"} {
		if n := e.engine.count(name); n != 1 {
			t.Errorf("%s ran %d times, want once (%d)", name, n, i)
		}
	}
	items, _ := e.store.Items(context.Background(), e.runID, "each")
	if len(items) != 10 || items[4].Attempts != 3 || items[4].Status != runs.StepSucceeded || items[6].Status != runs.StepFailed {
		t.Errorf("items %+v", items)
	}
	if e.engine.count("sum") != 0 {
		t.Error("the step after the failed foreach ran")
	}
}

func TestALargeForeachSpansSeveralAdvances(t *testing.T) {
	// Each item takes 1 s of the runner's clock and the budget is 4 s: one
	// Advance runs a few items and answers "advance again" (no wait), and
	// the next goes on with the items left, redoing none.
	e := newEnv(t, `{"name": "many", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(30)]", "concurrency": 1,
	    "step": {"type": "transform", "with": {"jq": ".item"}}}}]}`, func(c *runner.Config) { c.Budget = 4 * time.Second })
	e.engine.script["each#"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.clock.Advance(time.Second)
		return engine.Result{Output: 1}, nil
	}}
	advances := 0
	for {
		d := e.advance(t)
		advances++
		if d.Done {
			break
		}
		if d.WaitSeconds != 0 {
			t.Fatalf("Advance %d answered a wait of %d s, want advance again", advances, d.WaitSeconds)
		}
		if advances > 30 {
			t.Fatal("the foreach never finished")
		}
	}
	if advances < 5 || advances > 12 {
		t.Errorf("30 one-second items in 4 s budgets took %d Advances, want about 8", advances)
	}
	for i := range 30 {
		if n := e.engine.count("each#" + itoa(i)); n != 1 {
			t.Errorf("item %d ran %d times", i, n)
		}
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusSucceeded {
		t.Errorf("run %s", run.Status)
	}
}

func TestAForeachBackOffWaitsThroughTheDriver(t *testing.T) {
	e := newEnv(t, `{"name": "wait", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[1, 2]", "step": {"type": "transform", "with": {"jq": ".item"}}}, "retry": {"maxAttempts": 2}}]}`)
	e.engine.script["each#1"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 2*time.Minute), ok("late")}
	d := e.advance(t)
	if d.Done || d.WaitSeconds < 60 {
		t.Fatalf("first Advance %+v, want a long wait for item 1's Retry-After", d)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusWaiting {
		t.Errorf("run %s while an item waits, want waiting", run.Status)
	}
	e.clock.Advance(time.Duration(d.WaitSeconds) * time.Second)
	if d := e.advance(t); !d.Done {
		t.Fatalf("after the wait %+v", d)
	}
	if got := string(e.stepStatus(t, "each").Output); got != `[1,"late"]` {
		t.Errorf("output %s", got)
	}
	if n := e.engine.count("each#0"); n != 1 {
		t.Errorf("item 0 ran %d times, want once", n)
	}
}

func TestForeachPlanFailures(t *testing.T) {
	for _, c := range []struct{ items, code string }{
		{`"not an array"`, "JQ_ERROR"},
		{`[range(1001)]`, engine.CodeTooManyItems},
	} {
		e := newEnv(t, `{"name": "bad", "trigger": {"type": "manual"}, "steps": [
		  {"id": "each", "type": "foreach", "with": {"items": "`+strings.ReplaceAll(c.items, `"`, `\"`)+`", "step": {"type": "transform", "with": {"jq": ".item"}}}}]}`)
		e.untilDone(t)
		run := e.store.run(t, e.runID)
		if run.Status != runs.StatusFailed || run.Error.Code != c.code {
			t.Errorf("items %s: run %s %+v, want failed with %s", c.items, run.Status, run.Error, c.code)
		}
	}
}

func TestAForeachWholeOutputIsBounded(t *testing.T) {
	e := newEnv(t, `{"name": "big", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(40)]", "step": {"type": "transform", "with": {"jq": ".item"}}}}]}`)
	e.engine.script["each#"] = []func(context.Context) (engine.Result, error){ok(strings.Repeat("x", 10<<10))}
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error.Code != runner.CodeOutputSize {
		t.Fatalf("run %s %+v, want failed: 40 × 10 KiB is over 256 KiB", run.Status, run.Error)
	}
}

func TestACancelStopsAForeachFromBeginningItems(t *testing.T) {
	e := newEnv(t, `{"name": "c", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(20)]", "concurrency": 1, "step": {"type": "transform", "with": {"jq": ".item"}}}}]}`)
	e.engine.script["each#"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.clock.Advance(600 * time.Millisecond)
		return engine.Result{Output: 1}, nil
	}}
	e.engine.script["each#2"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.store.setStatus(e.runID, runs.StatusCancelling) // as the cancel route would, mid-item
		e.clock.Advance(600 * time.Millisecond)
		return engine.Result{Output: 1}, nil
	}}
	e.untilDone(t)
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusCancelled {
		t.Fatalf("run %s, want cancelled", run.Status)
	}
	ran := 0
	for i := range 20 {
		ran += e.engine.count("each#" + itoa(i))
	}
	if ran > 5 {
		t.Errorf("%d items ran after a cancel at item 2, want the cancel seen within a second", ran)
	}
	if st := e.stepStatus(t, "each"); st.Status != runs.StepCancelled {
		t.Errorf("step %s, want cancelled", st.Status)
	}
}

func TestParallelOutputIsKeyedByInnerStep(t *testing.T) {
	e := newEnv(t, `{"name": "p", "trigger": {"type": "manual"}, "steps": [
	  {"id": "both", "type": "parallel", "with": {"steps": [
	    {"id": "left", "type": "transform", "with": {"jq": "\"l\""}},
	    {"id": "right", "type": "transform", "with": {"jq": ".input.n"}, "retry": {"maxAttempts": 2}}]}}]}`)
	e.engine.script["both#1"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0), ok(7)}
	e.untilDone(t)
	if got := string(e.stepStatus(t, "both").Output); got != `{"left":"l","right":7}` {
		t.Errorf("output %s", got)
	}
	keys := strings.Join(e.engine.keys, ",")
	if !strings.Contains(keys, "run_1:both:left") || !strings.Contains(keys, "run_1:both:right") {
		t.Errorf("keys %s, want one per inner step id", keys)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAFailedFanOutCountsTheOtherFailures(t *testing.T) {
	e := newEnv(t, foreachOfTen)
	for _, i := range []string{"each#2", "each#5", "each#8"} {
		e.engine.script[i] = []func(context.Context) (engine.Result, error){fail("JQ_ERROR", false, 0)}
	}
	e.untilDone(t)
	if run := e.store.run(t, e.runID); run.Error == nil || !strings.HasPrefix(run.Error.Message, "item 2: ") || !strings.HasSuffix(run.Error.Message, "(and 2 more items failed)") {
		t.Errorf("run error %+v, want item 2 named and the 2 others counted", run.Error)
	}
	p := newEnv(t, `{"name": "p", "trigger": {"type": "manual"}, "steps": [
	  {"id": "both", "type": "parallel", "with": {"steps": [
	    {"id": "left", "type": "transform", "with": {"jq": "1"}},
	    {"id": "right", "type": "transform", "with": {"jq": "2"}}]}}]}`)
	p.engine.script["both#"] = []func(context.Context) (engine.Result, error){fail("JQ_ERROR", false, 0)}
	p.untilDone(t)
	if run := p.store.run(t, p.runID); run.Error == nil || !strings.HasPrefix(run.Error.Message, "inner step left: ") || !strings.HasSuffix(run.Error.Message, "(and 1 more inner step failed)") {
		t.Errorf("run error %+v", run.Error)
	}
}

func TestTwoAdvancesOfOneRunRunEachItemOnce(t *testing.T) {
	// Step Functions may invoke a task twice: both Advances find the same
	// foreach, and the conditional write of each item's attempt lets only
	// one of them run it.
	e := newEnv(t, `{"name": "twice", "trigger": {"type": "manual"}, "steps": [
	  {"id": "each", "type": "foreach", "with": {"items": "[range(12)]", "concurrency": 3, "step": {"type": "transform", "with": {"jq": ".item"}}}}]}`)
	e.engine.script["each#"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		time.Sleep(5 * time.Millisecond) // long enough for the two to overlap
		return engine.Result{Output: 1}, nil
	}}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			// Either may lose every write to the other (RunConflict): the
			// driver comes back, and the run goes on from what is stored.
			_, _ = e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID})
		})
	}
	wg.Wait()
	e.untilDone(t)
	for i := range 12 {
		if n := e.engine.count("each#" + itoa(i)); n != 1 {
			t.Errorf("item %d ran %d times, want once", i, n)
		}
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusSucceeded || len(e.stepStatus(t, "each").Output) == 0 {
		t.Errorf("run %s", run.Status)
	}
}
