package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"time"
)

// A workflow's concurrency limit caps how many of its runs (or of its runs
// with one key value) are running at once. The count lives in DynamoDB,
// never in a process: a limit of N is N slot items in the group's partition,
// each taken by a conditional write (free, or its holder's lease over), so
// two runners can never both take one. A run over the limit writes a queue
// entry in the same partition (its run id, which sorts by start time) and
// parks; whoever frees a slot wakes the oldest queued runs.
//
// A slot is held only while the run is running (or cancelling): every write
// of the run that leaves those statuses (waiting, any end) gives it back,
// through HoldSlots, which every writer of runs uses, so no end can forget
// it (success, failure, cancel, timeout, the state machine's catch, the
// start check). A runner that dies holding one loses it when its lease
// ends: SlotLease after it was taken or last renewed.

// SlotLease is how long a slot stays a run's without a word from its
// runner: longer than the longest Advance (15 minutes), renewed while the
// run goes on.
const SlotLease = 30 * time.Minute

// Slot is one taken slot of a concurrency group.
type Slot struct {
	Index      int
	RunID      string
	AccountID  string
	LeaseUntil time.Time
}

// QueuedRun is a run waiting for a slot: TaskToken, in AWS, is the task
// token its execution waits on (the runner's Park keeps it here).
type QueuedRun struct {
	RunID     string
	AccountID string
	TaskToken string
}

// SlotState is a concurrency group as stored: its taken slots, and its
// queue, oldest first.
type SlotState struct {
	Held  []Slot
	Queue []QueuedRun
}

// SlotStore keeps concurrency groups (runsdb.Store does).
type SlotStore interface {
	// Slots reads a group whole (one Query).
	Slots(ctx context.Context, group string) (SlotState, error)
	// TakeSlot writes slot if it is free, its lease is over at now, or it
	// is already slot.RunID's; ErrRevision if another run holds it.
	TakeSlot(ctx context.Context, group string, slot Slot, now time.Time) error
	// FreeSlot deletes slot index if runID holds it (else nothing).
	FreeSlot(ctx context.Context, group string, index int, runID string) error
	// Enqueue writes a run's queue entry, if it has none; expires is when
	// the store may drop it (the run's own end at the latest).
	Enqueue(ctx context.Context, group string, q QueuedRun, expires time.Time) error
	// Dequeue deletes a run's queue entry (none is no error).
	Dequeue(ctx context.Context, group, runID string) error
	// KeepQueueToken sets the task token of a run's queue entry;
	// domain.ErrNotFound if it has none.
	KeepQueueToken(ctx context.Context, group, runID, token string) error
}

// SlotWaker wakes a queued run, a slot being free: locally the driver
// advances it; in AWS its queue entry's task token is completed.
type SlotWaker interface {
	WakeQueued(ctx context.Context, q QueuedRun) error
}

// SlotWakerFunc is a SlotWaker of a function (the local driver's).
type SlotWakerFunc func(ctx context.Context, q QueuedRun) error

// WakeQueued calls f.
func (f SlotWakerFunc) WakeQueued(ctx context.Context, q QueuedRun) error { return f(ctx, q) }

// TokenSlotWaker is SlotWaker on Step Functions: the queued run's execution
// waits in WaitForEvent on the token its queue entry holds. An entry with
// no token yet is no error: Park, which keeps it, looks at the slots again
// afterwards.
func TokenSlotWaker(tokens TaskCompleter) SlotWaker {
	return SlotWakerFunc(func(ctx context.Context, q QueuedRun) error {
		if q.TaskToken == "" {
			return nil
		}
		return tokens.CompleteTask(ctx, q.TaskToken, q.AccountID, q.RunID)
	})
}

// ConcurrencyGroup names the limit a run of workflowID counts against:
// the account's workflow, and the hash of its key's value ("" for a
// workflow without a key), so the value itself (a customer's id, say) is
// not a key of the table.
func ConcurrencyGroup(accountID, workflowID, keyValue string) string {
	group := accountID + "#" + workflowID + "#"
	if keyValue == "" {
		return group + "-"
	}
	sum := sha256.Sum256([]byte(keyValue))
	return group + hex.EncodeToString(sum[:16])
}

// Admit decides whether runID may take a slot of a group under limit now:
// the slot it holds already, or a free one if fewer runs queued before it
// than there are free slots. Otherwise it stays queued, and retryAt is
// when the earliest lease of another run ends (zero: none has one), past
// which the slots must be looked at again even if no one wakes the run.
// Two runs that admit themselves to the same slot race on TakeSlot, whose
// condition lets one win; the queued runs each aim at their own slot (the
// n-th oldest at the n-th free one), and a run not queued at a slot picked
// by its id, so that a burst of starts does not all aim at the first.
func Admit(state SlotState, limit int, runID string, now time.Time) (index int, ok bool, retryAt time.Time) {
	live := map[int]bool{}
	for _, s := range state.Held {
		if s.RunID == runID {
			return s.Index, true, time.Time{}
		}
		if s.LeaseUntil.After(now) {
			live[s.Index] = true
			if retryAt.IsZero() || s.LeaseUntil.Before(retryAt) {
				retryAt = s.LeaseUntil
			}
		}
	}
	older, queued := 0, false
	for _, q := range state.Queue {
		switch {
		case q.RunID == runID:
			queued = true
		case q.RunID < runID: // run ids sort by the time they were made
			older++
		}
	}
	var free []int
	for i := 0; i < limit && len(free) < limit-len(live); i++ {
		if !live[i] {
			free = append(free, i)
		}
	}
	if older >= len(free) {
		return 0, false, retryAt
	}
	if queued {
		return free[older], true, time.Time{}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(runID))
	return free[older+int(h.Sum32()%uint32(len(free)-older))], true, time.Time{}
}

// HoldSlots is store with every write that takes a run out of running
// giving back its slot, and every write that ends a run dropping its queue
// entry; each is followed by a wake-up of the oldest queued runs of its
// group, as many as there are free slots. The run is written with no slot,
// then the slot item deleted: a failure in between leaves a slot that no
// run claims, which its lease frees.
func HoldSlots(store Store, slots SlotStore, waker SlotWaker, logger *slog.Logger) Store {
	if slots == nil {
		return store
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &slotHoldingStore{Store: store, slots: slots, waker: waker, logger: logger}
}

type slotHoldingStore struct {
	Store
	slots  SlotStore
	waker  SlotWaker
	logger *slog.Logger
}

// holdsSlot reports whether a run in status keeps its slot.
func holdsSlot(status Status) bool { return status == StatusRunning || status == StatusCancelling }

func (s *slotHoldingStore) Update(ctx context.Context, run Run) (Run, error) {
	slot := run.Slot
	releasing := slot > 0 && !holdsSlot(run.Status)
	leaving := run.ConcurrencyGroup != "" && run.Status.Finished()
	if releasing {
		run.Slot, run.SlotLeaseUntil = 0, time.Time{}
	}
	written, err := s.Store.Update(ctx, run)
	if err != nil || (!releasing && !leaving) {
		return written, err
	}
	if releasing {
		if err := s.slots.FreeSlot(ctx, run.ConcurrencyGroup, slot-1, run.ID); err != nil {
			s.logger.WarnContext(ctx, "a run gave back its slot and the slot was not freed: its lease frees it", "runId", run.ID, "error", err)
		}
	}
	if leaving {
		if err := s.slots.Dequeue(ctx, run.ConcurrencyGroup, run.ID); err != nil {
			s.logger.WarnContext(ctx, "a run ended and its queue entry was not deleted", "runId", run.ID, "error", err)
		}
	}
	s.WakeNext(ctx, written.ConcurrencyGroup, written.ConcurrencyLimit)
	return written, nil
}

// WakeNext wakes the oldest queued runs of a group, as many as it has free
// slots. Failures are logged: a queued run also looks again at the end of
// the earliest lease, and at its next wake-up.
func (s *slotHoldingStore) WakeNext(ctx context.Context, group string, limit int) {
	if s.waker == nil || group == "" {
		return
	}
	state, err := s.slots.Slots(ctx, group)
	if err != nil {
		s.logger.WarnContext(ctx, "a slot was freed and its queue not read", "error", err)
		return
	}
	now := time.Now()
	free := limit
	for _, held := range state.Held {
		if held.LeaseUntil.After(now) {
			free--
		}
	}
	for i := 0; i < free && i < len(state.Queue); i++ {
		if err := s.waker.WakeQueued(ctx, state.Queue[i]); err != nil {
			s.logger.WarnContext(ctx, "a slot was freed and a queued run not woken", "runId", state.Queue[i].RunID, "error", err)
		}
	}
}
