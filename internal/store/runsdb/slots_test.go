package runsdb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

// TestTwoHundredStartsNeverHoldMoreThanTheLimit: 200 runs start at once
// against one group limited to 5, each taking a slot the way the runner
// does (read the group, Admit, a conditional TakeSlot; queue and look again
// when there is none), holding it a moment and giving it back. Never more
// than 5 hold one at once, and every one of the 200 gets one: none is lost.
func TestTwoHundredStartsNeverHoldMoreThanTheLimit(t *testing.T) {
	const starts, limit = 200, 5
	table := dynamotest.MustTable(t)
	s := runsdb.New(table.Client, table.Name)
	ctx := context.Background()
	group := runs.ConcurrencyGroup(account, "wf_slots", "")
	var holding, most, served atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, starts)
	for i := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runID := ids.New(ids.PrefixRun, base.Add(time.Duration(i)*time.Millisecond))
			for attempt := 0; ; attempt++ {
				if attempt > 2000 {
					errs <- fmt.Errorf("%s never got a slot", runID)
					return
				}
				now := time.Now()
				state, err := s.Slots(ctx, group)
				if err != nil {
					errs <- err
					return
				}
				index, ok, _ := runs.Admit(state, limit, runID, now)
				if !ok {
					if err := s.Enqueue(ctx, group, runs.QueuedRun{RunID: runID, AccountID: account}, now.Add(time.Hour)); err != nil {
						errs <- err
						return
					}
					time.Sleep(30 * time.Millisecond) // as a parked run would be woken: not in a busy loop
					continue
				}
				err = s.TakeSlot(ctx, group, runs.Slot{Index: index, RunID: runID, AccountID: account, LeaseUntil: now.Add(runs.SlotLease)}, now)
				if errors.Is(err, runs.ErrRevision) {
					continue // another run took it first
				}
				if err != nil {
					errs <- err
					return
				}
				n := holding.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if err := s.Dequeue(ctx, group, runID); err != nil {
					errs <- err
				}
				time.Sleep(2 * time.Millisecond)
				holding.Add(-1)
				served.Add(1)
				if err := s.FreeSlot(ctx, group, index, runID); err != nil {
					errs <- err
				}
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if most.Load() > limit || most.Load() < 2 || served.Load() != starts {
		t.Fatalf("at most %d held a slot at once and %d of %d were served, want at most %d at once, more than one, and all", most.Load(), served.Load(), starts, limit)
	}
	state, err := s.Slots(ctx, group)
	if err != nil || len(state.Held) != 0 || len(state.Queue) != 0 {
		t.Fatalf("the group is left with %d slots and %d queued (%v), want empty", len(state.Held), len(state.Queue), err)
	}
}

// TestASlotIsTakenOnlyWhenFreeOrItsLeaseIsOver: a held slot refuses
// another run until its lease ends, then that run takes it; FreeSlot frees
// only the holder's; the queue reads oldest first and keeps a task token.
func TestASlotIsTakenOnlyWhenFreeOrItsLeaseIsOver(t *testing.T) {
	table := dynamotest.MustTable(t)
	s := runsdb.New(table.Client, table.Name)
	ctx := context.Background()
	group := runs.ConcurrencyGroup(account, "wf_lease", `"acme"`)
	first, second := ids.New(ids.PrefixRun, base), ids.New(ids.PrefixRun, base.Add(time.Second))
	lease := base.Add(runs.SlotLease)
	if err := s.TakeSlot(ctx, group, runs.Slot{Index: 0, RunID: first, AccountID: account, LeaseUntil: lease}, base); err != nil {
		t.Fatal(err)
	}
	if err := s.TakeSlot(ctx, group, runs.Slot{Index: 0, RunID: second, AccountID: account, LeaseUntil: lease}, base.Add(time.Minute)); !errors.Is(err, runs.ErrRevision) {
		t.Fatalf("a held slot taken by another run: %v, want ErrRevision", err)
	}
	if err := s.TakeSlot(ctx, group, runs.Slot{Index: 0, RunID: first, AccountID: account, LeaseUntil: lease.Add(time.Minute)}, base.Add(time.Minute)); err != nil {
		t.Fatalf("the holder renewing its lease: %v", err)
	}
	if err := s.FreeSlot(ctx, group, 0, second); err != nil {
		t.Fatal(err)
	}
	state, _ := s.Slots(ctx, group)
	if len(state.Held) != 1 || state.Held[0].RunID != first {
		t.Fatalf("another run freed the holder's slot: %+v", state.Held)
	}
	// The holder died: past its lease, the slot is the next run's.
	if err := s.TakeSlot(ctx, group, runs.Slot{Index: 0, RunID: second, AccountID: account, LeaseUntil: lease.Add(time.Hour)}, lease.Add(2*time.Minute)); err != nil {
		t.Fatalf("a slot past its lease: %v, want taken", err)
	}
	for _, id := range []string{second, first} {
		if err := s.Enqueue(ctx, group, runs.QueuedRun{RunID: id, AccountID: account}, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KeepQueueToken(ctx, group, first, "tok"); err != nil {
		t.Fatal(err)
	}
	if err := s.KeepQueueToken(ctx, group, "run_none", "tok"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a token for no queue entry: %v, want not found", err)
	}
	// Enqueue again keeps the token kept.
	if err := s.Enqueue(ctx, group, runs.QueuedRun{RunID: first, AccountID: account}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	state, _ = s.Slots(ctx, group)
	if len(state.Queue) != 2 || state.Queue[0].RunID != first || state.Queue[0].TaskToken != "tok" || state.Queue[1].RunID != second {
		t.Fatalf("queue %+v, want the older run first, with its token", state.Queue)
	}
	if err := s.Dequeue(ctx, group, first); err != nil {
		t.Fatal(err)
	}
	if state, _ = s.Slots(ctx, group); len(state.Queue) != 1 {
		t.Fatalf("queue %+v after a dequeue", state.Queue)
	}
}

// TestARunKeepsItsConcurrencyFields: the run item round-trips its group,
// limit, slot and lease, and a write without them removes them.
func TestARunKeepsItsConcurrencyFields(t *testing.T) {
	table := dynamotest.MustTable(t)
	s := storeOn(table)
	ctx := context.Background()
	run := runs.Run{ID: ids.New(ids.PrefixRun, base), AccountID: account, WorkflowID: "wf_1", WorkflowVersion: 1, Status: runs.StatusQueued,
		Trigger: runs.TriggerManual, Input: jsontext.Value(`{}`), CreatedAt: base, ExpiresAt: base.Add(runs.DefaultRetention)}
	if err := s.Create(ctx, run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	run, _ = s.Get(ctx, account, run.ID)
	run.Status, run.ConcurrencyGroup, run.ConcurrencyLimit, run.Slot, run.SlotLeaseUntil = runs.StatusRunning, "g", 3, 2, base.Add(time.Hour)
	written, err := s.Update(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, account, run.ID)
	if got.ConcurrencyGroup != "g" || got.ConcurrencyLimit != 3 || got.Slot != 2 || !got.SlotLeaseUntil.Equal(base.Add(time.Hour)) {
		t.Fatalf("read back %+v", got)
	}
	written.Slot, written.SlotLeaseUntil = 0, time.Time{}
	if _, err := s.Update(ctx, written); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Get(ctx, account, run.ID); got.Slot != 0 || !got.SlotLeaseUntil.IsZero() || got.ConcurrencyGroup != "g" {
		t.Fatalf("after giving the slot back: %+v", got)
	}
}
