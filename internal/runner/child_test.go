package runner_test

import (
	"context"
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
	parents := runs.TokenParents(e.store, k)
	if err := parents.ChildEnded(context.Background(), "acct", e.runID, "kid"); err != nil {
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

func (f parentsFunc) ChildEnded(ctx context.Context, account, parent, step string) error {
	return f(ctx, account, parent, step)
}
