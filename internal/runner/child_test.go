package runner_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
)

// tokens records the task tokens completed.
type tokens struct {
	mu   sync.Mutex
	done []string
}

func (k *tokens) CompleteTask(_ context.Context, token, _, runID string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.done = append(k.done, token+"@"+runID)
	return nil
}

func (k *tokens) completed() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.done...)
}

// parkEnv is a run waiting in a workflow step for a child in status.
func parkEnv(t *testing.T, child runs.Status) (*env, *tokens) {
	t.Helper()
	k := &tokens{}
	e := newEnv(t, `{"name": "p", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "transform", "with": {"jq": "1"}}]}`,
		func(c *runner.Config) { c.Tokens = k })
	ctx := context.Background()
	e.store.setStatus(e.runID, runs.StatusWaiting)
	if _, err := e.store.PutStep(ctx, runs.Step{RunID: e.runID, StepID: "kid", Status: runs.StepWaiting, ChildRunID: "run_child"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Create(ctx, runs.Run{ID: "run_child", AccountID: "acct", Status: runs.StatusQueued, ParentRunID: e.runID, ParentStepID: "kid"}, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	if child != runs.StatusQueued {
		e.store.setStatus("run_child", child)
	}
	return e, k
}

func park(t *testing.T, e *env, token string) {
	t.Helper()
	if _, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID, Park: &runner.Park{Token: token}}); err != nil {
		t.Fatalf("Park: %v", err)
	}
}

func TestParkKeepsTheTokenWithTheWaitingStep(t *testing.T) {
	e, k := parkEnv(t, runs.StatusRunning)
	park(t, e, "tok-1")
	if st := e.stepStatus(t, "kid"); st.TaskToken != "tok-1" || st.Status != runs.StepWaiting {
		t.Fatalf("step %+v: want the token kept, still waiting", st)
	}
	if got := k.completed(); len(got) != 0 {
		t.Errorf("completed %v while the child runs", got)
	}
	// The child's end, as runs.NotifyParents tells it, completes the token.
	parents := runs.TokenWaker(e.store, k)
	if err := parents.Wake(context.Background(), "acct", e.runID, "kid"); err != nil {
		t.Fatal(err)
	}
	if got := k.completed(); len(got) != 1 || got[0] != "tok-1@"+e.runID {
		t.Errorf("completed %v, want the parent's token once", got)
	}
}

func TestParkCompletesAtOnceWhenTheChildHasEnded(t *testing.T) {
	e, k := parkEnv(t, runs.StatusSucceeded)
	park(t, e, "tok-2")
	if got := k.completed(); len(got) != 1 || got[0] != "tok-2@"+e.runID {
		t.Errorf("completed %v: a child that ended before the token was kept found no token, so Park completes it", got)
	}
}

func TestParkCompletesWhenNothingWaits(t *testing.T) {
	e, k := parkEnv(t, runs.StatusRunning)
	e.store.setStatus(e.runID, runs.StatusCancelled)
	park(t, e, "tok-3")
	if got := k.completed(); len(got) != 1 {
		t.Errorf("completed %v: a run that ended meanwhile must not keep its execution parked", got)
	}
}

func TestAChildsEndTellsItsParentThroughTheStore(t *testing.T) {
	store := newMemStore()
	var told []string
	notifying := runs.NotifyParents(store, parentsFunc(func(_ context.Context, account, parent, step string) error {
		told = append(told, account+"/"+parent+"/"+step)
		return nil
	}), nil)
	ctx := context.Background()
	if err := notifying.Create(ctx, runs.Run{ID: "run_c", AccountID: "acct", Status: runs.StatusQueued, ParentRunID: "run_p", ParentStepID: "kid"}, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	run, _ := store.Get(ctx, "acct", "run_c")
	run.Status = runs.StatusRunning
	run, err := notifying.Update(ctx, run)
	if err != nil || len(told) != 0 {
		t.Fatalf("a child that goes on running told its parent %v (%v)", told, err)
	}
	run.Status = runs.StatusFailed
	if _, err := notifying.Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != "acct/run_p/kid" {
		t.Errorf("told %v, want the parent once its child ended", told)
	}
}

type parentsFunc func(ctx context.Context, account, parent, step string) error

func (f parentsFunc) Wake(ctx context.Context, account, parent, step string) error {
	return f(ctx, account, parent, step)
}

// fakeChildren stores the child as the start path would (queued), and
// counts the starts; failNext makes the next start fail as a store that
// could not be reached would.
type fakeChildren struct {
	store    *memStore
	starts   []string
	failNext bool
}

func (c *fakeChildren) Start(ctx context.Context, req runs.StartRequest) (runs.Run, error) {
	c.starts = append(c.starts, req.RunID)
	if c.failNext {
		c.failNext = false
		return runs.Run{}, errors.New("the store is unreachable")
	}
	run := runs.Run{ID: req.RunID, AccountID: req.AccountID, WorkflowID: req.WorkflowID, Status: runs.StatusQueued, Trigger: req.Trigger,
		Input: req.Input, ParentRunID: req.Parent.ID, ParentStepID: req.ParentStepID, Depth: req.Parent.RunDepth() + 1}
	if err := c.store.Create(ctx, run, runs.Reused{}); err != nil && !errors.Is(err, runs.ErrExists) {
		return runs.Run{}, err
	}
	return run, nil
}

func (c *fakeChildren) Cancel(context.Context, string, string) (runs.Run, error) {
	return runs.Run{}, nil
}

func TestARepeatedAdvanceStartsTheChildOnce(t *testing.T) {
	var children *fakeChildren
	e := newEnv(t, `{"name": "p", "trigger": {"type": "manual"}, "steps": [
	  {"id": "kid", "type": "workflow", "with": {"workflowId": "wf_01m8faf8h74r4czqj1rqt4bf1e", "input": "{n: .input.n}"}}]}`,
		func(c *runner.Config) {
			children = &fakeChildren{}
			c.Children = children
		})
	children.store = e.store
	children.failNext = true
	// The first Advance records the step with its child's id, then cannot
	// store the child: the Advance fails, as a dying runner's would.
	if _, err := e.runner.Advance(context.Background(), runner.Task{AccountID: "acct", RunID: e.runID}); err == nil {
		t.Fatal("the first Advance succeeded, want the start's failure")
	}
	rec := e.stepStatus(t, "kid")
	if rec.Status != runs.StepWaiting || rec.ChildRunID == "" || len(children.starts) != 1 || children.starts[0] != rec.ChildRunID {
		t.Fatalf("step %+v, starts %v: want the child's id recorded before its start", rec, children.starts)
	}
	// The next Advance starts the child under the recorded id; a repeat
	// of it starts nothing more and parks again.
	for i := range 2 {
		d := e.advance(t)
		if d.Done || !d.WaitForEvent {
			t.Fatalf("Advance %d: %+v, want a park", i, d)
		}
	}
	if len(children.starts) != 2 || children.starts[1] != rec.ChildRunID {
		t.Errorf("starts %v, want the recorded id once more, then none", children.starts)
	}
	child := e.store.run(t, rec.ChildRunID)
	if child.ParentRunID != e.runID || child.Depth != 2 || string(child.Input) != `{"n":2}` {
		t.Errorf("child %+v", child)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusWaiting || run.WaitingFor != rec.ChildRunID {
		t.Errorf("parent %s waiting for %q", run.Status, run.WaitingFor)
	}
	// Its end: the parent takes the child's output.
	child.Status, child.Output = runs.StatusSucceeded, []byte(`{"done":true}`)
	e.store.mu.Lock()
	e.store.runs[child.ID] = child
	e.store.mu.Unlock()
	if d := e.advance(t); !d.Done {
		t.Fatalf("after the child's end: %+v", d)
	}
	if run := e.store.run(t, e.runID); run.Status != runs.StatusSucceeded || string(run.Output) != `{"done":true}` || run.WaitingFor != "" {
		t.Errorf("parent %+v", run)
	}
}
