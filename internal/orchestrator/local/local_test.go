package local_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/local"
)

// script is a fake runner: each run answers the outcomes given, in order,
// then Done; every call is counted.
type script struct {
	mu       sync.Mutex
	outcomes map[string][]orchestrator.Outcome
	errs     map[string]int // how many calls fail before the outcomes start
	calls    map[string]int
	failures map[string][]error
	done     chan string
}

func newScript() *script {
	return &script{outcomes: map[string][]orchestrator.Outcome{}, errs: map[string]int{}, calls: map[string]int{},
		failures: map[string][]error{}, done: make(chan string, 1000)}
}

func (s *script) advance(_ context.Context, _, runID string, failure error) (orchestrator.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[runID]++
	s.failures[runID] = append(s.failures[runID], failure)
	if failure == nil && s.errs[runID] > 0 {
		s.errs[runID]--
		return orchestrator.Outcome{}, errors.New("dynamodb unreachable")
	}
	if len(s.outcomes[runID]) == 0 || failure != nil {
		s.done <- runID
		return orchestrator.Outcome{Done: true}, nil
	}
	next := s.outcomes[runID][0]
	s.outcomes[runID] = s.outcomes[runID][1:]
	return next, nil
}

func (s *script) callsOf(runID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[runID]
}

func shutdown(t *testing.T, d *local.Driver) {
	t.Cleanup(func() {
		if err := d.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestRunFollowsTheThreeStates(t *testing.T) {
	s := newScript()
	// Advance again at once twice (budget ran out), wait 1 ms (a delay),
	// then Done.
	s.outcomes["run_a"] = []orchestrator.Outcome{{}, {}, {Wait: time.Millisecond}}
	d := local.New(s.advance, local.Options{})
	shutdown(t, d)
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	if got := <-s.done; got != "run_a" {
		t.Fatalf("done %q", got)
	}
	if got := s.callsOf("run_a"); got != 4 {
		t.Errorf("advanced %d times, want 4 (again, again, wait, done)", got)
	}
	waitUntil(t, func() bool { total, _ := d.Driven(); return total == 0 })
}

func TestStartingADrivenRunStartsNothing(t *testing.T) {
	s := newScript()
	s.outcomes["run_a"] = []orchestrator.Outcome{{Wait: time.Hour}}
	d := local.New(s.advance, local.Options{})
	shutdown(t, d)
	for range 5 {
		if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { _, waiting := d.Driven(); return waiting == 1 })
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	if got := s.callsOf("run_a"); got != 1 {
		t.Errorf("advanced %d times, want 1: a second Start of a driven run must start nothing", got)
	}
	if total, _ := d.Driven(); total != 1 {
		t.Errorf("drives %d runs, want 1", total)
	}
}

// TestWaitingRunsHoldNoGoroutine: a thousand runs waiting on a delay add no
// goroutine each: a wait is a timer, not a sleeping goroutine.
func TestWaitingRunsHoldNoGoroutine(t *testing.T) {
	const runs = 1000
	s := newScript()
	d := local.New(s.advance, local.Options{})
	shutdown(t, d)
	before := runtime.NumGoroutine()
	for i := range runs {
		id := fmt.Sprintf("run_%04d", i)
		s.mu.Lock()
		s.outcomes[id] = []orchestrator.Outcome{{Wait: time.Hour}}
		s.mu.Unlock()
		if err := d.Start(context.Background(), "acct", id, orchestrator.Standard); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { _, waiting := d.Driven(); return waiting == runs })
	// Let the goroutines that handed their run to a timer exit.
	waitUntil(t, func() bool { return runtime.NumGoroutine()-before < runs/100 })
	if extra := runtime.NumGoroutine() - before; extra >= runs/100 {
		t.Fatalf("%d runs waiting hold %d goroutines", runs, extra)
	}
}

func TestStopDropsAWaitingRun(t *testing.T) {
	s := newScript()
	s.outcomes["run_a"] = []orchestrator.Outcome{{Wait: time.Hour}}
	d := local.New(s.advance, local.Options{})
	shutdown(t, d)
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, waiting := d.Driven(); return waiting == 1 })
	if err := d.Stop(context.Background(), "run_a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(context.Background(), "run_unknown"); err != nil {
		t.Errorf("stopping a run not driven: %v", err)
	}
	if total, _ := d.Driven(); total != 0 {
		t.Errorf("drives %d runs after Stop", total)
	}
	// A run stopped can be started again (the driver holds nothing of it).
	s.mu.Lock()
	s.outcomes["run_a"] = nil
	s.mu.Unlock()
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

func TestFailingAdvanceIsRetriedThenRecordedFailed(t *testing.T) {
	s := newScript()
	s.errs["run_a"] = 100 // never succeeds on its own
	d := local.New(s.advance, local.Options{ErrorBackoff: time.Microsecond, MaxErrors: 3})
	shutdown(t, d)
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.calls["run_a"]; got != 4 {
		t.Fatalf("advanced %d times, want 3 failures then the recording of the failure", got)
	}
	for i, f := range s.failures["run_a"] {
		if want := i == 3; (f != nil) != want || (want && !errors.Is(f, orchestrator.ErrGaveUp)) {
			t.Errorf("call %d: failure %v", i, f)
		}
	}
}

func TestTransientFailureResumes(t *testing.T) {
	s := newScript()
	s.errs["run_a"] = 2
	d := local.New(s.advance, local.Options{ErrorBackoff: time.Microsecond, MaxErrors: 3})
	shutdown(t, d)
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.failures["run_a"] {
		if f != nil {
			t.Errorf("recorded failed after only 2 failures: %v", f)
		}
	}
}

func TestResumeDrivesEveryRun(t *testing.T) {
	s := newScript()
	d := local.New(s.advance, local.Options{})
	shutdown(t, d)
	refs := []local.Ref{{AccountID: "a", RunID: "run_1"}, {AccountID: "a", RunID: "run_2"}, {AccountID: "b", RunID: "run_3"}}
	if err := d.Resume(context.Background(), refs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range refs {
		seen[<-s.done] = true
	}
	if len(seen) != 3 {
		t.Errorf("resumed %v", seen)
	}
}

// TestShutdownWaitsForAdvancesInFlight: Shutdown returns only once the
// Advance in flight has returned; past its own deadline it cancels that
// Advance's context first.
func TestShutdownWaitsForAdvancesInFlight(t *testing.T) {
	entered := make(chan struct{})
	var returned bool
	advance := func(ctx context.Context, _, _ string, _ error) (orchestrator.Outcome, error) {
		close(entered)
		<-ctx.Done() // a step that only ends when cut off
		returned = true
		return orchestrator.Outcome{}, ctx.Err()
	}
	d := local.New(advance, local.Options{})
	if err := d.Start(context.Background(), "acct", "run_a", orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the shutdown's grace is already over
	if err := d.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v", err)
	}
	if !returned {
		t.Error("Shutdown returned before the Advance in flight")
	}
	if err := d.Start(context.Background(), "acct", "run_b", orchestrator.Standard); !errors.Is(err, local.ErrClosed) {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

// waitUntil polls cond: the driver works in the background, and what is
// asserted is a state it reaches, not a time it takes.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 10_000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the driver never reached the expected state")
}
