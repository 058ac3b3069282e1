package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type env struct {
	store  *memStore
	clock  *fakeClock
	engine *scriptedEngine
	runner *runner.Runner
	runID  string
}

// newEnv stores workflow (a definition as JSON) and one queued run of it
// with input {"n": 2}.
func newEnv(t *testing.T, source string, opts ...func(*runner.Config)) *env {
	t.Helper()
	def, err := definition.Parse([]byte(source), func(string) (bool, error) { return true, nil })
	if err != nil {
		t.Fatalf("definition: %v", err)
	}
	store := newMemStore()
	clock := &fakeClock{now: epoch}
	eng := newEngine(store)
	cfg := runner.Config{
		Store: store, Engine: eng, Clock: clock,
		Workflows: memWorkflows{"wf_1": {ID: "wf_1", AccountID: "acct", Definition: def, Version: 3}},
		Jitter:    func() float64 { return 0.5 }, // seeded: every back-off is half its ceiling
	}
	for _, o := range opts {
		o(&cfg)
	}
	run := runs.Run{ID: "run_1", AccountID: "acct", WorkflowID: "wf_1", WorkflowVersion: 3, Status: runs.StatusQueued,
		Trigger: runs.TriggerManual, Input: jsontext.Value(`{"n":2}`), CreatedAt: epoch}
	if def.TimeoutSeconds != nil {
		run.Deadline = epoch.Add(time.Duration(*def.TimeoutSeconds) * time.Second)
	}
	if err := store.Create(context.Background(), run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	return &env{store: store, clock: clock, engine: eng, runner: runner.New(cfg), runID: "run_1"}
}

func (e *env) advance(t *testing.T) runner.Decision {
	t.Helper()
	d, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID})
	if err != nil {
		t.Fatalf("Advance: %v", err)
	}
	if d.RunID != e.runID || d.AccountID != "acct" {
		t.Errorf("decision does not carry the task: %+v", d)
	}
	return d
}

// untilDone advances (moving the clock over every wait) until Done.
func (e *env) untilDone(t *testing.T) {
	t.Helper()
	for range 100 {
		d := e.advance(t)
		if d.Done {
			return
		}
		e.clock.Advance(time.Duration(d.WaitSeconds) * time.Second)
	}
	t.Fatal("the run never finished")
}

func (e *env) stepStatus(t *testing.T, id string) runs.Step {
	t.Helper()
	st, ok := e.store.step(e.runID, id)
	if !ok {
		t.Fatalf("step %s has no record", id)
	}
	return st
}

func fail(code string, retryable bool, retryAfter time.Duration) func(context.Context) (engine.Result, error) {
	return func(context.Context) (engine.Result, error) {
		return engine.Result{}, &engine.StepError{Code: code, Message: "it failed", Retryable: retryable, RetryAfter: retryAfter}
	}
}

func ok(output any) func(context.Context) (engine.Result, error) {
	return func(context.Context) (engine.Result, error) { return engine.Result{Output: output}, nil }
}

const everyType = `{"name": "all", "trigger": {"type": "manual"}, "steps": [
  {"id": "double", "type": "transform", "with": {"jq": ".input.n * 2"}},
  {"id": "big", "type": "condition", "with": {"jq": ".steps.double.output > 100"}, "else": "small"},
  {"id": "skipped1", "type": "transform", "with": {"jq": "1"}},
  {"id": "skipped2", "type": "transform", "with": {"jq": "2"}},
  {"id": "small", "type": "delay", "with": {"seconds": 30}},
  {"id": "summary", "type": "transform", "with": {"jq": "{d: .steps.double.output, run: .run.id, wf: .workflow.name, v: .workflow.version, t: .run.trigger}"}}
]}`

func TestEveryTransitionToSucceeded(t *testing.T) {
	e := newEnv(t, everyType)
	d := e.advance(t)
	if d.Done || d.WaitSeconds != 30 {
		t.Fatalf("first Advance: %+v, want a 30 s wait for the delay", d)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusWaiting || !run.WaitUntil.Equal(epoch.Add(30*time.Second)) || !run.StartedAt.Equal(epoch) {
		t.Fatalf("run during the delay: %s until %v started %v", run.Status, run.WaitUntil, run.StartedAt)
	}
	for _, id := range []string{"skipped1", "skipped2"} {
		if st := e.stepStatus(t, id); st.Status != runs.StepSkipped || e.engine.count(id) != 0 {
			t.Errorf("%s: %s, run %d times", id, st.Status, e.engine.count(id))
		}
	}
	if st := e.stepStatus(t, "small"); st.Status != runs.StepWaiting || !st.NextAttemptAt.Equal(epoch.Add(30*time.Second)) {
		t.Errorf("delay step: %+v", st)
	}
	// Too early: the wait is what is left.
	e.clock.Advance(10 * time.Second)
	if d := e.advance(t); d.WaitSeconds != 20 {
		t.Errorf("Advance 10 s into the delay: %+v, want 20 s more", d)
	}
	e.clock.Advance(20 * time.Second)
	if d := e.advance(t); !d.Done {
		t.Fatalf("after the delay: %+v", d)
	}
	run = e.store.run(t, e.runID)
	if run.Status != runs.StatusSucceeded || run.Error != nil || !run.FinishedAt.Equal(epoch.Add(30*time.Second)) {
		t.Fatalf("run: %s %+v at %v", run.Status, run.Error, run.FinishedAt)
	}
	want := `{"d":4,"run":"run_1","t":"manual","v":3,"wf":"all"}`
	if string(run.Output) != want {
		t.Errorf("run output %s, want %s (the last step's)", run.Output, want)
	}
	if st := e.stepStatus(t, "summary"); string(st.Output) != want || st.Attempts != 1 || st.Status != runs.StepSucceeded {
		t.Errorf("summary step: %+v", st)
	}
	if st := e.stepStatus(t, "big"); string(st.Output) != "false" {
		t.Errorf("condition output %s", st.Output)
	}
	if st := e.stepStatus(t, "small"); st.Status != runs.StepSucceeded || string(st.Output) != "null" {
		t.Errorf("delay step after the wait: %+v", st)
	}
	// A finished run does not change again.
	writes := len(e.store.writes)
	if d := e.advance(t); !d.Done || len(e.store.writes) != writes {
		t.Errorf("Advance of a finished run: %+v, %d writes", d, len(e.store.writes)-writes)
	}
	// The status went queued → running → waiting → running → succeeded.
	var statuses []string
	for _, w := range e.store.writes {
		if s, ok := strings.CutPrefix(w, "run:"); ok {
			statuses = append(statuses, s)
		}
	}
	if got := strings.Join(statuses, ","); got != "running,waiting,running,succeeded" {
		t.Errorf("run transitions %s", got)
	}
}

func TestIdempotencyKeyAndContext(t *testing.T) {
	e := newEnv(t, `{"name": "ctx", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": ".input"}},
	  {"id": "b", "type": "transform", "with": {"jq": ".steps.a"}}]}`)
	e.untilDone(t)
	if strings.Join(e.engine.keys, ",") != "run_1:a,run_1:b" {
		t.Errorf("idempotency keys %v", e.engine.keys)
	}
	if got := string(e.stepStatus(t, "b").Output); got != `{"output":{"n":2},"status":"succeeded"}` {
		t.Errorf("steps.a as step b saw it: %s", got)
	}
	rc := e.engine.contexts["b"]
	runCtx := rc["run"].(map[string]any)
	if runCtx["createdAt"] != epoch.Format(time.RFC3339Nano) || runCtx["attempt"] != 1 {
		t.Errorf("run context %v", runCtx)
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 3}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){
		fail("HTTP_STATUS", true, 0), fail("HTTP_STATUS", true, 0), ok(map[string]any{"fine": true})}
	if d := e.advance(t); !d.Done {
		t.Fatalf("short back-offs are slept within the Advance: %+v", d)
	}
	// Full jitter seeded at 0.5: half of 1 s, then half of 2 s.
	if got := e.clock.sleeps; len(got) != 2 || got[0] != 500*time.Millisecond || got[1] != time.Second {
		t.Errorf("back-offs %v, want [500ms 1s]", got)
	}
	st := e.stepStatus(t, "call")
	if st.Attempts != 3 || st.Status != runs.StepSucceeded || string(st.Output) != `{"fine":true}` {
		t.Errorf("step %+v", st)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusSucceeded {
		t.Errorf("run %s", run.Status)
	}
}

func TestRetriesExhaustedFailTheRun(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 4}},
	  {"id": "never", "type": "transform", "with": {"jq": "2"}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0)}
	e.untilDone(t)
	if n := e.engine.count("call"); n != 4 {
		t.Errorf("tried %d times, want 4", n)
	}
	st := e.stepStatus(t, "call")
	if st.Status != runs.StepFailed || st.Attempts != 4 || st.Error == nil || st.Error.Code != "HTTP_STATUS" {
		t.Errorf("step %+v", st)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Step != "call" || run.Error.Code != "HTTP_STATUS" {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
	if _, began := e.store.step(e.runID, "never"); began || e.engine.count("never") != 0 {
		t.Error("a step after the failed one began")
	}
	// Back-offs 0.5, 1, 2 s: all short, slept.
	if got := e.clock.sleeps; len(got) != 3 || got[2] != 2*time.Second {
		t.Errorf("back-offs %v", got)
	}
}

func TestNotRetryableFailsAtOnce(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 5}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("JQ_ERROR", false, 0)}
	e.untilDone(t)
	if n := e.engine.count("call"); n != 1 {
		t.Errorf("tried %d times", n)
	}
}

func TestDefaultIsOneAttempt(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0)}
	e.untilDone(t)
	if n := e.engine.count("call"); n != 1 {
		t.Errorf("tried %d times without retry, want 1", n)
	}
}

func TestRetryAfterGoesThroughWait(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 2}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 90*time.Second), ok("done")}
	d := e.advance(t)
	if d.Done || d.WaitSeconds != 90 {
		t.Fatalf("Retry-After 90 s: %+v", d)
	}
	if len(e.clock.sleeps) != 0 {
		t.Errorf("slept %v instead of waiting through the driver", e.clock.sleeps)
	}
	st := e.stepStatus(t, "call")
	if st.Status != runs.StepWaiting || !st.NextAttemptAt.Equal(epoch.Add(90*time.Second)) || st.Error == nil {
		t.Errorf("step during the back-off %+v", st)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusWaiting {
		t.Errorf("run %s", run.Status)
	}
	e.clock.Advance(89 * time.Second)
	if d := e.advance(t); d.WaitSeconds != 1 || e.engine.count("call") != 1 {
		t.Errorf("before the back-off ends: %+v, %d attempts", d, e.engine.count("call"))
	}
	e.clock.Advance(time.Second)
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v", d)
	}
	if st := e.stepStatus(t, "call"); st.Attempts != 2 || st.Status != runs.StepSucceeded || st.Error != nil {
		t.Errorf("step %+v", st)
	}
}

func TestLongBackoffGoesThroughWait(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 10}}]}`)
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0)}
	// Attempts 1-4 back off 0.5, 1, 2, 4 s (slept); the 5th 8 s: a Wait.
	d := e.advance(t)
	if d.WaitSeconds != 8 || e.engine.count("call") != 5 {
		t.Fatalf("%+v after %d attempts", d, e.engine.count("call"))
	}
	// The ceiling stops at 5 minutes: the 10th attempt is the last.
	e.untilDone(t)
	if n := e.engine.count("call"); n != 10 {
		t.Errorf("%d attempts", n)
	}
}

func TestBackoffDoubles(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 10}}]}`,
		func(c *runner.Config) { c.Jitter = func() float64 { return 0.999999 } })
	e.engine.script["call"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, 0)}
	var waits []int
	for range 100 {
		d := e.advance(t)
		if d.Done {
			break
		}
		waits = append(waits, d.WaitSeconds)
		e.clock.Advance(time.Duration(d.WaitSeconds) * time.Second)
	}
	// Attempts 1-3 back off under 5 s (slept); then the ceiling doubles
	// from 8 s; the 10th attempt is the last.
	if got := fmt.Sprint(waits); got != "[8 16 32 64 128 256]" {
		t.Errorf("waits %v", got)
	}
}

func TestCancelWhileRunningStopsBeforeTheNextStep(t *testing.T) {
	e := newEnv(t, `{"name": "c", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}},
	  {"id": "b", "type": "transform", "with": {"jq": "2"}}]}`)
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.store.setStatus(e.runID, runs.StatusCancelling) // POST /runs/{id}/cancel, mid-step
		return engine.Result{Output: "a done"}, nil
	}}
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v", d)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusCancelled || run.Error != nil {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
	if st := e.stepStatus(t, "a"); st.Status != runs.StepSucceeded {
		t.Errorf("the step in flight finishes: %s", st.Status)
	}
	if _, began := e.store.step(e.runID, "b"); began || e.engine.count("b") != 0 {
		t.Error("a step began after the cancel")
	}
}

func TestCancellingDuringABackoffCancelsTheStep(t *testing.T) {
	e := newEnv(t, `{"name": "c", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 2}}]}`)
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){fail("HTTP_STATUS", true, time.Hour)}
	e.advance(t)
	e.store.setStatus(e.runID, runs.StatusCancelling)
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v", d)
	}
	if st := e.stepStatus(t, "a"); st.Status != runs.StepCancelled {
		t.Errorf("step %s", st.Status)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusCancelled {
		t.Errorf("run %s", run.Status)
	}
}

func TestTimeoutDuringADelay(t *testing.T) {
	e := newEnv(t, `{"name": "t", "trigger": {"type": "manual"}, "timeoutSeconds": 60, "steps": [
	  {"id": "wait", "type": "delay", "with": {"seconds": 3600}},
	  {"id": "after", "type": "transform", "with": {"jq": "1"}}]}`)
	d := e.advance(t)
	if d.WaitSeconds != 60 {
		t.Fatalf("wait %d s, want 60: no Wait past the deadline", d.WaitSeconds)
	}
	e.clock.Advance(60 * time.Second)
	if d := e.advance(t); !d.Done {
		t.Fatalf("%+v", d)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusTimedOut || run.Error == nil || run.Error.Code != "TIMEOUT" {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
	if e.engine.count("after") != 0 {
		t.Error("a step ran after the deadline")
	}
}

func TestTimeoutDuringASlowStep(t *testing.T) {
	e := newEnv(t, `{"name": "t", "trigger": {"type": "manual"}, "timeoutSeconds": 60, "steps": [
	  {"id": "slow", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 3}},
	  {"id": "after", "type": "transform", "with": {"jq": "1"}}]}`)
	e.engine.script["slow"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.clock.Advance(61 * time.Second)
		return engine.Result{}, &engine.StepError{Code: "TIMEOUT", Message: "cut off", Retryable: true}
	}}
	e.untilDone(t)
	if run := e.store.run(t, e.runID); run.Status != runs.StatusTimedOut {
		t.Errorf("run %s", run.Status)
	}
	if n := e.engine.count("slow"); n != 1 {
		t.Errorf("retried past the deadline: %d attempts", n)
	}
}

func TestStepFoundRunningIsAFailedAttempt(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxAttempts int
		want        runs.Status
		executions  int
	}{
		{"retried", 2, runs.StatusSucceeded, 1},
		{"no attempts left", 1, runs.StatusFailed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := `{"name": "r", "trigger": {"type": "manual"}, "steps": [
			  {"id": "a", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": ` + string(rune('0'+tc.maxAttempts)) + `}}]}`
			e := newEnv(t, def)
			// A runner began attempt 1 and died.
			if _, err := e.store.PutStep(context.Background(), runs.Step{RunID: e.runID, StepID: "a", Status: runs.StepRunning, Attempts: 1, StartedAt: epoch}); err != nil {
				t.Fatal(err)
			}
			e.store.setStatus(e.runID, runs.StatusRunning)
			e.untilDone(t)
			run := e.store.run(t, e.runID)
			if run.Status != tc.want || e.engine.count("a") != tc.executions {
				t.Errorf("run %s after %d executions", run.Status, e.engine.count("a"))
			}
			st := e.stepStatus(t, "a")
			if tc.want == runs.StatusFailed && (st.Error == nil || st.Error.Code != runner.CodeInterrupted) {
				t.Errorf("step %+v", st)
			}
			if tc.want == runs.StatusSucceeded && st.Attempts != 2 {
				t.Errorf("attempts %d", st.Attempts)
			}
		})
	}
}

// TestRecordedStepsNeverRunAgain: after a crash between a step's recorded
// success and the run's next write, the repeated Advance passes over it.
func TestRecordedStepsNeverRunAgain(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "10"}},
	  {"id": "b", "type": "transform", "with": {"jq": ".steps.a.output + 1"}}]}`)
	if _, err := e.store.PutStep(context.Background(), runs.Step{RunID: e.runID, StepID: "a", Status: runs.StepSucceeded, Attempts: 1, Output: jsontext.Value("41")}); err != nil {
		t.Fatal(err)
	}
	e.untilDone(t)
	if n := e.engine.count("a"); n != 0 {
		t.Errorf("a recorded step ran %d times again", n)
	}
	if run := e.store.run(t, e.runID); string(run.Output) != "42" {
		t.Errorf("output %s: b must see a's recorded output", run.Output)
	}
	e.untilDone(t)
	if e.engine.count("b") != 1 {
		t.Errorf("b ran %d times", e.engine.count("b"))
	}
}

// raceAdvances has n drivers advance the run at once, each until it is done
// (at most 50 Advances).
func (e *env) raceAdvances(t *testing.T, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range 50 {
				d, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID})
				if err != nil {
					t.Error(err)
					return
				}
				if d.Done {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestConcurrentAdvances: Advances of one run racing (a repeated task, or
// two Express executions of one run) never run a step with an effect whose
// success was recorded, and the run ends once. (The steps are http ones to
// the fake engine, which sends nothing: steps that only compute are
// TestConcurrentAdvancesOfStepsThatOnlyCompute's.)
func TestConcurrentAdvances(t *testing.T) {
	for round := range 20 {
		e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
		  {"id": "a", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/a"}},
		  {"id": "b", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/b"}},
		  {"id": "c", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/c"}},
		  {"id": "d", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:9/d"}}]}`)
		for i, id := range []string{"a", "b", "c", "d"} {
			e.engine.script[id] = []func(context.Context) (engine.Result, error){ok(i + 1)}
		}
		e.raceAdvances(t, 4)
		if len(e.engine.reRuns) > 0 {
			t.Fatalf("round %d: steps run after their success was recorded: %v", round, e.engine.reRuns)
		}
		run := e.store.run(t, e.runID)
		if run.Status != runs.StatusSucceeded || string(run.Output) != "4" {
			t.Fatalf("round %d: run %s output %s", round, run.Status, run.Output)
		}
		finishes := 0
		for _, w := range e.store.writes {
			if w == "run:succeeded" {
				finishes++
			}
		}
		if finishes != 1 {
			t.Fatalf("round %d: the run was finished %d times", round, finishes)
		}
	}
}

// TestConcurrentAdvancesOfStepsThatOnlyCompute: a transform or condition
// step writes its record once, with its result, and no running record
// first. Advances racing on such steps (a repeated task, two Express
// executions of one run) may compute a step twice, which has no effect, but
// record each step once and end the run once.
func TestConcurrentAdvancesOfStepsThatOnlyCompute(t *testing.T) {
	for round := range 20 {
		e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
		  {"id": "a", "type": "transform", "with": {"jq": "1"}},
		  {"id": "b", "type": "condition", "with": {"jq": ".steps.a.output == 1"}, "else": "end"},
		  {"id": "c", "type": "transform", "with": {"jq": ".steps.a.output + 2"}},
		  {"id": "d", "type": "transform", "with": {"jq": ".steps.c.output + 1"}}]}`)
		e.raceAdvances(t, 4)
		run := e.store.run(t, e.runID)
		if run.Status != runs.StatusSucceeded || string(run.Output) != "4" {
			t.Fatalf("round %d: run %s output %s", round, run.Status, run.Output)
		}
		counts := map[string]int{}
		for _, w := range e.store.writes {
			counts[w]++
		}
		for _, id := range []string{"a", "b", "c", "d"} {
			if n := counts["step:"+id+":succeeded"]; n != 1 || counts["step:"+id+":running"] != 0 {
				t.Fatalf("round %d: step %s written succeeded %d times, running %d times", round, id, n, counts["step:"+id+":running"])
			}
			if st := e.stepStatus(t, id); st.Attempts != 1 {
				t.Fatalf("round %d: step %s has %d attempts", round, id, st.Attempts)
			}
		}
		if counts["run:succeeded"] != 1 {
			t.Fatalf("round %d: the run was finished %d times", round, counts["run:succeeded"])
		}
	}
}

func TestFailureTaskRecordsTheRunFailed(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	if _, err := e.store.PutStep(context.Background(), runs.Step{RunID: e.runID, StepID: "a", Status: runs.StepRunning, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID,
		Failure: &runner.Failure{Error: "Lambda.Unknown", Cause: "secret-looking cause sk_live_123"}})
	if err != nil || !d.Done {
		t.Fatalf("%+v %v", d, err)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Code != "ENGINE_ERROR" || strings.Contains(run.Error.Message, "sk_live") {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
	if st := e.stepStatus(t, "a"); st.Status != runs.StepFailed {
		t.Errorf("step left %s", st.Status)
	}
	// Repeated: nothing changes.
	writes := len(e.store.writes)
	if _, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID, Failure: &runner.Failure{}}); err != nil || len(e.store.writes) != writes {
		t.Errorf("repeated failure task wrote %d times: %v", len(e.store.writes)-writes, err)
	}
}

// An output of exactly 256 KiB of body (what the engine lets through), with
// an http step's status and headers around it, is stored whole.
func TestAnOutputOfTheWholeLimitIsStored(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	body := strings.Repeat("x", runs.MaxStepOutputBytes)
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){ok(map[string]any{"status": 200, "headers": map[string]any{"content-type": "text/plain"}, "body": body})}
	e.untilDone(t)
	if st := e.stepStatus(t, "a"); st.Status != runs.StepSucceeded || len(st.Output) <= runs.MaxStepOutputBytes {
		t.Errorf("step %s (error %+v) with %d bytes of output", st.Status, st.Error, len(st.Output))
	}
}

func TestOutputTooLargeFailsTheStep(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}, "retry": {"maxAttempts": 3}}]}`)
	// Over the record's limit: 256 KiB and the headroom an http step's
	// status and headers get.
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){ok(strings.Repeat("x", runs.MaxStepRecordBytes))}
	e.untilDone(t)
	st := e.stepStatus(t, "a")
	if st.Status != runs.StepFailed || st.Error == nil || st.Error.Code != "OUTPUT_TOO_LARGE" || e.engine.count("a") != 1 {
		t.Errorf("step %s (error %+v, output of %d bytes) after %d attempts", st.Status, st.Error, len(st.Output), e.engine.count("a"))
	}
}

func TestBudgetEndsTheAdvance(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}},
	  {"id": "b", "type": "transform", "with": {"jq": "2"}}]}`,
		func(c *runner.Config) { c.Budget = 10 * time.Second })
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){func(context.Context) (engine.Result, error) {
		e.clock.Advance(11 * time.Second)
		return engine.Result{Output: 1}, nil
	}}
	d := e.advance(t)
	if d.Done || d.WaitSeconds != 0 {
		t.Fatalf("%+v: the budget is spent, so advance again at once", d)
	}
	if e.engine.count("b") != 0 {
		t.Error("b began past the budget")
	}
	if d := e.advance(t); !d.Done {
		t.Errorf("%+v", d)
	}
}

func TestMissingWorkflowVersionFailsTheRun(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	e.store.mu.Lock()
	run := e.store.runs[e.runID]
	run.WorkflowVersion = 99
	e.store.runs[e.runID] = run
	e.store.mu.Unlock()
	e.untilDone(t)
	if run := e.store.run(t, e.runID); run.Status != runs.StatusFailed || run.Error.Code != runner.CodeNoWorkflow {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
}

func TestStoreErrorsAreReturned(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	_, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "other", RunID: e.runID})
	if err == nil {
		t.Error("another account's run advanced")
	}
	var stepErr *engine.StepError
	if errors.As(err, &stepErr) {
		t.Errorf("%v", err)
	}
}

func TestDecisionJSON(t *testing.T) {
	b, err := json.Marshal(runner.Decision{WaitSeconds: 5, AccountID: "a", RunID: "r"})
	if err != nil || string(b) != `{"done":false,"waitSeconds":5,"waitForEvent":false,"accountId":"a","runId":"r"}` {
		t.Errorf("%s %v", b, err)
	}
}

func TestStepRunningUnderItsLeaseIsLeftAlone(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	// Another Advance began attempt 1 a moment ago, with its lease.
	if _, err := e.store.PutStep(context.Background(), runs.Step{RunID: e.runID, StepID: "a", Status: runs.StepRunning, Attempts: 1,
		StartedAt: epoch, NextAttemptAt: epoch.Add(6 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if d := e.advance(t); d.Done || d.WaitSeconds != 6 || e.engine.count("a") != 0 {
		t.Fatalf("%+v, %d executions: a live attempt must not be run twice", d, e.engine.count("a"))
	}
	e.clock.Advance(6 * time.Second)
	e.untilDone(t)
	// maxAttempts 1: the attempt whose lease ended failed, and was the last.
	if run := e.store.run(t, e.runID); run.Status != runs.StatusFailed || run.Error.Code != runner.CodeInterrupted {
		t.Errorf("run %s %+v", run.Status, run.Error)
	}
}

// The engine does not link the runs feature, so it keeps its own default
// bound of a step's output; it must be the runs' limit.
func TestTheEngineBoundsOutputsAsRunsDo(t *testing.T) {
	if engine.MaxOutputBytes != runs.MaxStepOutputBytes {
		t.Fatalf("engine.MaxOutputBytes = %d, runs.MaxStepOutputBytes = %d", engine.MaxOutputBytes, runs.MaxStepOutputBytes)
	}
}

// Past its first attempt, an Advance begins no attempt that could not run
// its whole timeout before the invocation ends (a Lambda's deadline): cut
// short, it would hold its step until its lease ends. The next Advance
// begins it.
func TestAnAttemptThatCannotFitTheInvocationWaitsForTheNextAdvance(t *testing.T) {
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}},
	  {"id": "b", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:1/"}, "timeoutSeconds": 600}]}`)
	e.engine.script["a"] = []func(context.Context) (engine.Result, error){ok(1)}
	e.engine.script["b"] = []func(context.Context) (engine.Result, error){ok(2)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // the invocation's time
	defer cancel()
	d, err := e.runner.Advance(ctx, runner.Task{AccountID: "acct", RunID: e.runID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Done || d.WaitSeconds != 0 || e.engine.count("b") != 0 {
		t.Fatalf("%+v with b begun %d times: b's 600 s cannot fit in the 5 minutes left", d, e.engine.count("b"))
	}
	if e.engine.count("a") != 1 {
		t.Fatalf("a ran %d times", e.engine.count("a"))
	}
	// A fresh invocation with the time for it begins b at once.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel2()
	if d, err = e.runner.Advance(ctx2, runner.Task{AccountID: "acct", RunID: e.runID}); err != nil || !d.Done || e.engine.count("b") != 1 {
		t.Fatalf("%+v, %v, b begun %d times", d, err, e.engine.count("b"))
	}
}

// TestARunThatKeepsChangingFailsTheAdvanceWithRunConflict: an Advance whose
// every write loses to another writer no longer answers "wait a second"
// (which looped for ever under Step Functions): it fails with RunConflict,
// whose type name is the error the state machine retries with a bound
// (sfn.ConflictError), and the catch then records the run failed with
// CONFLICT. The local driver hands the same name on when it gives up.
func TestARunThatKeepsChangingFailsTheAdvanceWithRunConflict(t *testing.T) {
	if name := reflect.TypeFor[runner.RunConflict]().Name(); name != sfn.ConflictError {
		t.Fatalf("RunConflict's type name %q is not the state machine's %q", name, sfn.ConflictError)
	}
	e := newEnv(t, `{"name": "r", "trigger": {"type": "manual"}, "steps": [
	  {"id": "a", "type": "transform", "with": {"jq": "1"}}]}`)
	e.store.losesEveryWrite = true
	_, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID})
	var conflict *runner.RunConflict
	if !errors.As(err, &conflict) || conflict.RunID != e.runID {
		t.Fatalf("Advance answered %v, want a RunConflict", err)
	}
	e.store.losesEveryWrite = false
	gaveUp := fmt.Errorf("%w: %w", orchestrator.ErrGaveUp, err) // as the local driver hands it on
	if _, err := e.runner.Drive(context.Background(), "acct", e.runID, gaveUp); err != nil {
		t.Fatal(err)
	}
	run := e.store.run(t, e.runID)
	if run.Status != runs.StatusFailed || run.Error == nil || run.Error.Code != runner.CodeConflict {
		t.Errorf("run %s %+v, want failed with %s", run.Status, run.Error, runner.CodeConflict)
	}
}
