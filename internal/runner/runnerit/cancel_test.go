package runnerit

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate lets a test hold a target's answer to one run until it says so.
type gate struct {
	mu    sync.Mutex
	byRun map[string]*held
}

type held struct {
	arrived chan struct{} // closed when the run's request reaches the target
	release chan struct{} // closed by the test (or at once, for an ungated run)
	once    sync.Once
}

func (g *gate) of(runID string) *held {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.byRun[runID]
	if !ok {
		h = &held{arrived: make(chan struct{}), release: make(chan struct{})}
		g.byRun[runID] = h
	}
	return h
}

// assertAllEnded asserts that a finished run has no step left running or waiting,
// and that every step and the run have their finish time.
func assertAllEnded(t *testing.T, run map[string]any) {
	t.Helper()
	if run["finishedAt"] == nil {
		t.Errorf("run %s has no finishedAt", run["id"])
	}
	for id, step := range stepsOf(run) {
		if step["status"] == "running" || step["status"] == "waiting" || step["finishedAt"] == nil || step["nextAttemptAt"] != nil {
			t.Errorf("run %s (%s): step %s left %v, finishedAt %v, nextAttemptAt %v", run["id"], run["status"], id, step["status"], step["finishedAt"], step["nextAttemptAt"])
		}
	}
}

// TestCancelAlwaysWinsAgainstTheLastStep races a cancel against the last
// step of a 2-step run, 30 times: the last step is an http call to a target
// that answers after a random 0-40 ms, the cancel is sent at a random
// offset. Every other try holds the target's answer until the cancel is
// answered, so that the cancel surely lands during the last step (the case
// the runner once lost: after its last step it ended the run succeeded).
// Every run answered cancelling (or cancelled) must end cancelled, with
// every step ended.
func TestCancelAlwaysWinsAgainstTheLastStep(t *testing.T) {
	const tries = 30
	a := start(t)
	g := &gate{byRun: map[string]*held{}}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		runID, _, _ := strings.Cut(r.Header.Get("Idempotency-Key"), ":")
		h := g.of(runID)
		h.once.Do(func() { close(h.arrived) })
		<-h.release
		time.Sleep(time.Duration(rand.IntN(41)) * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	})
	wf := a.workflow(t, `{"name": "race", "trigger": {"type": "manual"}, "steps": [
	  {"id": "first", "type": "transform", "with": {"jq": "1"}},
	  {"id": "last", "type": "http", "with": {"method": "POST", "url": "`+tg.URL+`/last"}}
	]}`)
	answered := map[string]int{}
	for i := range tries {
		runID := a.run(t, wf, `{}`)
		h := g.of(runID)
		gated := i%2 == 0
		if gated {
			<-h.arrived // the last step is in flight, and stays so until released
		} else {
			close(h.release)
		}
		time.Sleep(time.Duration(rand.IntN(41)) * time.Millisecond)
		r := a.call(t, "POST", "/runs/"+runID+"/cancel", "")
		if gated {
			close(h.release)
		}
		var status string
		switch r.Status {
		case 200:
			status = r.Data(t)["status"].(string)
		case 409: // it had ended before the cancel: allowed, and nothing to hold
			status = "ended"
		default:
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		answered[status]++
		if gated && status != "cancelling" {
			t.Errorf("try %d: a cancel during the last step answered %s, want cancelling", i, status)
		}
		run := a.finished(t, runID)
		if status == "cancelling" || status == "cancelled" {
			if run["status"] != "cancelled" {
				t.Errorf("try %d: run %s answered %s ended %s", i, runID, status, run["status"])
			}
			assertAllEnded(t, run)
		}
	}
	t.Logf("cancel answers: %v", answered)
}

// TestCancelWhileWaiting cancels a run waiting in a delay and one waiting
// out a 429's back-off: each is cancelled at once, and its waiting step is
// cancelled with its finish time (it used to stay waiting for ever).
func TestCancelWhileWaiting(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "100000")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	delay := a.workflow(t, `{"name": "delay", "trigger": {"type": "manual"}, "steps": [
	  {"id": "first", "type": "transform", "with": {"jq": "1"}},
	  {"id": "wait", "type": "delay", "with": {"seconds": 3600}},
	  {"id": "after", "type": "transform", "with": {"jq": "2"}}
	]}`)
	backoff := a.workflow(t, `{"name": "429", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/busy"}, "retry": {"maxAttempts": 3}},
	  {"id": "after", "type": "transform", "with": {"jq": "2"}}
	]}`)
	for _, c := range []struct{ wf, step string }{{delay, "wait"}, {backoff, "call"}} {
		runID := a.run(t, c.wf, `{}`)
		var waiting map[string]any
		waitFor(t, func() bool {
			waiting = a.mustData(t, 200, "GET", "/runs/"+runID, "")
			step, ok := stepsOf(waiting)[c.step]
			return waiting["status"] == "waiting" && ok && step["status"] == "waiting"
		})
		if next := stepsOf(waiting)[c.step]["nextAttemptAt"]; next == nil {
			t.Errorf("%s: a waiting step shows no nextAttemptAt", c.step)
		}
		r := a.mustData(t, 200, "POST", "/runs/"+runID+"/cancel", "")
		if r["status"] != "cancelled" || r["finishedAt"] == nil {
			t.Errorf("%s: cancel answered %s, finishedAt %v", c.step, r["status"], r["finishedAt"])
		}
		run := a.mustData(t, 200, "GET", "/runs/"+runID, "")
		if run["status"] != "cancelled" {
			t.Errorf("%s: run %s", c.step, run["status"])
		}
		assertAllEnded(t, run)
		if st := stepsOf(run)[c.step]; st["status"] != "cancelled" {
			t.Errorf("%s: step %s", c.step, st["status"])
		}
		if _, began := stepsOf(run)["after"]; began {
			t.Errorf("%s: the step after began", c.step)
		}
		one := a.mustData(t, 200, "GET", "/runs/"+runID+"/steps/"+c.step, "")
		if one["status"] != "cancelled" || one["finishedAt"] == nil || one["nextAttemptAt"] != nil {
			t.Errorf("%s: step route %s", c.step, jsonOf(one))
		}
	}
	if n := tg.count("/busy"); n != 1 {
		t.Errorf("the busy target was called %d times, want 1", n)
	}
}

// TestRetryAfterIsCappedAndShown: a target asking for Retry-After: 100000
// (27.8 hours) parks the step for 5 minutes at most, the step's retry
// horizon, and the run and step routes show when it goes on.
func TestRetryAfterIsCappedAndShown(t *testing.T) {
	a := start(t)
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "100000")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	wf := a.workflow(t, `{"name": "busy", "trigger": {"type": "manual"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/busy"}, "retry": {"maxAttempts": 2}}
	]}`)
	before := time.Now()
	runID := a.run(t, wf, `{}`)
	var step map[string]any
	waitFor(t, func() bool {
		step = stepsOf(a.mustData(t, 200, "GET", "/runs/"+runID, ""))["call"]
		return step != nil && step["status"] == "waiting"
	})
	read := time.Now()
	shown, _ := step["nextAttemptAt"].(string)
	next, err := time.Parse(time.RFC3339, shown)
	if err != nil {
		t.Fatalf("nextAttemptAt %v: %v", step["nextAttemptAt"], err)
	}
	// The attempt failed between the start and the read; its next attempt
	// is 5 minutes (not 27.8 hours) after it, well past the policy's own
	// first back-off of at most 1 s: the target's wish counted, capped.
	if next.Before(before.Add(5*time.Minute-time.Second)) || next.After(read.Add(5*time.Minute)) {
		t.Errorf("nextAttemptAt %v, want 5 minutes after the attempt (between %v and %v)", next, before.Add(5*time.Minute), read.Add(5*time.Minute))
	}
	one := a.mustData(t, 200, "GET", "/runs/"+runID+"/steps/call", "")
	if one["nextAttemptAt"] != step["nextAttemptAt"] {
		t.Errorf("step route nextAttemptAt %v, run route %v", one["nextAttemptAt"], step["nextAttemptAt"])
	}
}
