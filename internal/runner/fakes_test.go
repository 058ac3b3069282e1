package runner_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// memStore is runs.Store in memory, with the same conditional writes.
type memStore struct {
	mu         sync.Mutex
	runs       map[string]runs.Run
	steps      map[string]map[string]runs.Step
	items      map[string]map[string]runs.Item // run id -> "<step id>#<index>"
	unfinished map[string]runs.RunRef
	calls      map[string]int
	// onUpdate, if set, runs before an Update is applied (under no lock).
	writes []string // "run:<status>" and "step:<id>:<status>", in order
	// losesEveryWrite makes every Update and PutStep lose to another
	// writer (ErrRevision), as a run that keeps changing would.
	losesEveryWrite bool
}

func newMemStore() *memStore {
	return &memStore{runs: map[string]runs.Run{}, steps: map[string]map[string]runs.Step{}, items: map[string]map[string]runs.Item{},
		unfinished: map[string]runs.RunRef{}, calls: map[string]int{}}
}

func (s *memStore) Create(_ context.Context, run runs.Run, reused runs.Reused) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Create"]++
	if _, ok := s.runs[run.ID]; ok {
		return runs.ErrExists
	}
	s.unfinished[run.ID] = runs.RunRef{AccountID: run.AccountID, RunID: run.ID, CreatedAt: run.CreatedAt}
	run.Revision = 1
	s.runs[run.ID] = run
	s.steps[run.ID] = map[string]runs.Step{}
	for _, st := range reused.Steps {
		st.Revision = 1
		s.steps[run.ID][st.StepID] = st
	}
	s.items[run.ID] = map[string]runs.Item{}
	for _, it := range reused.Items {
		it.Revision = 1
		s.items[run.ID][itemKeyOf(it)] = it
	}
	return nil
}

func itemKeyOf(it runs.Item) string { return it.StepID + "#" + strconv.Itoa(it.Index) }

func (s *memStore) Items(_ context.Context, runID, stepID string) ([]runs.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Items"]++
	var out []runs.Item
	for _, it := range s.items[runID] {
		if it.StepID == stepID {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b runs.Item) int { return a.Index - b.Index })
	return out, nil
}

func (s *memStore) PutItem(_ context.Context, item runs.Item) (runs.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["PutItem"]++
	if s.items[item.RunID] == nil {
		s.items[item.RunID] = map[string]runs.Item{}
	}
	stored, ok := s.items[item.RunID][itemKeyOf(item)]
	if (!ok && item.Revision != 0) || (ok && stored.Revision != item.Revision) || s.losesEveryWrite {
		return runs.Item{}, runs.ErrRevision
	}
	item.Revision++
	s.items[item.RunID][itemKeyOf(item)] = item
	s.writes = append(s.writes, "item:"+itemKeyOf(item)+":"+string(item.Status))
	return item, nil
}

func (s *memStore) Get(_ context.Context, account, runID string) (runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Get"]++
	run, ok := s.runs[runID]
	if !ok || run.AccountID != account {
		return runs.Run{}, domain.ErrNotFound
	}
	return run, nil
}

func (s *memStore) List(context.Context, string, runs.Filter, int, string) (domain.Page[runs.Run], error) {
	panic("not used by the runner")
}

func (s *memStore) Update(_ context.Context, run runs.Run) (runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Update"]++
	stored, ok := s.runs[run.ID]
	if !ok || stored.Revision != run.Revision || s.losesEveryWrite {
		return runs.Run{}, runs.ErrRevision
	}
	if stored.Status == runs.StatusCancelling && run.Status.Finished() && run.Status != runs.StatusCancelled {
		return runs.Run{}, runs.ErrRevision // as runsdb: a cancelling run ends cancelled
	}
	run.Revision++
	s.runs[run.ID] = run
	if run.Status.Finished() && !run.NotificationsPending() { // as runsdb: kept while events wait
		delete(s.unfinished, run.ID)
	}
	s.writes = append(s.writes, "run:"+string(run.Status))
	return run, nil
}

func (s *memStore) Steps(_ context.Context, runID string) ([]runs.Step, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Steps"]++
	var out []runs.Step
	for _, st := range s.steps[runID] {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b runs.Step) int { return a.Index - b.Index })
	return out, nil
}

func (s *memStore) Step(_ context.Context, runID, stepID string) (runs.Step, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Step"]++
	st, ok := s.steps[runID][stepID]
	if !ok {
		return runs.Step{}, domain.ErrNotFound
	}
	return st, nil
}

func (s *memStore) PutStep(_ context.Context, step runs.Step) (runs.Step, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["PutStep"]++
	if s.steps[step.RunID] == nil {
		s.steps[step.RunID] = map[string]runs.Step{}
	}
	stored, ok := s.steps[step.RunID][step.StepID]
	if (!ok && step.Revision != 0) || (ok && stored.Revision != step.Revision) || s.losesEveryWrite {
		return runs.Step{}, runs.ErrRevision
	}
	step.Revision++
	s.steps[step.RunID][step.StepID] = step
	s.writes = append(s.writes, "step:"+step.StepID+":"+string(step.Status))
	return step, nil
}

// Children lists the children Create stored with this parent.
func (s *memStore) Children(_ context.Context, parentRunID string) ([]runs.ChildRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Children"]++
	var out []runs.ChildRef
	for _, r := range s.runs {
		if r.ParentRunID == parentRunID {
			out = append(out, runs.ChildRef{ParentRunID: parentRunID, ChildRunID: r.ID, StepID: r.ParentStepID, AccountID: r.AccountID})
		}
	}
	slices.SortFunc(out, func(a, b runs.ChildRef) int { return strings.Compare(a.ChildRunID, b.ChildRunID) })
	return out, nil
}

func (s *memStore) Unfinished(context.Context) ([]runs.RunRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Unfinished"]++
	var out []runs.RunRef
	for _, r := range s.unfinished {
		out = append(out, r)
	}
	return out, nil
}

func (s *memStore) run(t *testing.T, id string) runs.Run {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[id]
}

func (s *memStore) step(id, stepID string) (runs.Step, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.steps[id][stepID]
	return st, ok
}

// setStatus writes a status as the cancel route would (a conditional write
// of its own).
func (s *memStore) setStatus(id string, status runs.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runs[id]
	run.Status = status
	run.Revision++
	s.runs[id] = run
}

// memWorkflows holds workflow versions.
type memWorkflows map[string]workflows.Workflow

func (m memWorkflows) Version(_ context.Context, head workflows.Summary, version int) (workflows.Workflow, error) {
	w, ok := m[head.ID]
	if !ok || w.AccountID != head.AccountID || w.Version != version {
		return workflows.Workflow{}, domain.ErrNotFound
	}
	return w, nil
}

// fakeClock is the runner's clock in tests: it moves only when told or when
// the runner sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// scriptedEngine answers scripted results for some steps and runs the real
// engine for the others; it counts executions per step and notes any
// execution of a step whose success was already recorded.
type scriptedEngine struct {
	real  *engine.Engine
	store *memStore
	mu    sync.Mutex
	// script[stepID] answers attempt n (0-based) with script[stepID][n]
	// (the last one repeats).
	script   map[string][]func(ctx context.Context) (engine.Result, error)
	runs     map[string]int
	reRuns   []string
	contexts map[string]engine.Context
	keys     []string
}

func newEngine(store *memStore) *scriptedEngine {
	return &scriptedEngine{real: engine.New(engine.Options{}), store: store, script: map[string][]func(context.Context) (engine.Result, error){},
		runs: map[string]int{}, contexts: map[string]engine.Context{}}
}

// AttemptTimeout is the real engine's: the lease follows it.
func (e *scriptedEngine) AttemptTimeout(step workflows.Step) time.Duration {
	return e.real.AttemptTimeout(step)
}

func (e *scriptedEngine) Execute(ctx context.Context, c *engine.Compiled, index int, rc engine.Context, key string) (engine.Result, error) {
	step := c.Steps()[index]
	runID := rc["run"].(map[string]any)["id"].(string)
	e.mu.Lock()
	if rec, ok := e.store.step(runID, step.ID); ok && rec.Status == runs.StepSucceeded {
		e.reRuns = append(e.reRuns, step.ID)
	}
	n := e.runs[step.ID]
	e.runs[step.ID]++
	e.contexts[step.ID] = rc
	e.keys = append(e.keys, key)
	script := e.script[step.ID]
	e.mu.Unlock()
	if len(script) > 0 {
		return script[min(n, len(script)-1)](ctx)
	}
	return e.real.Execute(ctx, c, index, rc, key)
}

// ExecuteItem answers script["<stepID>#<item>"] if there is one, then
// script["<stepID>#"] (every item), else runs the real engine; it counts
// executions under "<stepID>#<item>".
func (e *scriptedEngine) ExecuteItem(ctx context.Context, c *engine.Compiled, index, item int, rc engine.Context, key string) (engine.Result, error) {
	name := c.Steps()[index].ID + "#" + strconv.Itoa(item)
	e.mu.Lock()
	n := e.runs[name]
	e.runs[name]++
	e.contexts[name] = rc
	e.keys = append(e.keys, key)
	script := e.script[name]
	if len(script) == 0 {
		script = e.script[c.Steps()[index].ID+"#"]
	}
	e.mu.Unlock()
	if len(script) > 0 {
		return script[min(n, len(script)-1)](ctx)
	}
	return e.real.ExecuteItem(ctx, c, index, item, rc, key)
}

func (e *scriptedEngine) count(stepID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[stepID]
}

// fakeExecutions answers Describe from a map (absent: not found).
type fakeExecutions map[string]orchestrator.ExecutionState

func (f fakeExecutions) Describe(_ context.Context, runID string) (orchestrator.ExecutionState, error) {
	if s, ok := f[runID]; ok {
		return s, nil
	}
	return orchestrator.ExecutionNotFound, nil
}

// fakeOrchestrator counts starts, and delivery starts.
type fakeOrchestrator struct {
	mu         sync.Mutex
	started    []string
	deliveries []string
}

func (o *fakeOrchestrator) StartDelivery(_ context.Context, _, runID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deliveries = append(o.deliveries, runID)
	return nil
}

func (o *fakeOrchestrator) Start(_ context.Context, _, runID string, _ orchestrator.Machine) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, runID)
	return nil
}

func (o *fakeOrchestrator) Stop(context.Context, string) error { return nil }

// ConcurrencyKey is the real engine's.
func (e *scriptedEngine) ConcurrencyKey(ctx context.Context, c *engine.Compiled, rc engine.Context) (string, error) {
	return e.real.ConcurrencyKey(ctx, c, rc)
}
