package runs

import (
	"context"
	"log/slog"
)

// Waker resumes a run parked on one of its steps (runs that wait for an
// event, not a timer): the parent of a child run that has ended (a
// workflow step), or a run whose wait_for_signal step was signalled. In AWS
// it completes the Step Functions task token the run's execution waits on
// (orchestrator/sfn), locally it has the driver advance the run at once
// (orchestrator/local). The run's Advance then reads what happened from
// the store: the wake-up carries no result, so one repeated, or crossed
// with the run's own look, changes nothing.
type Waker interface {
	Wake(ctx context.Context, accountID, runID, stepID string) error
}

// NotifyParents is store with every write that ends a child run followed
// by a wake-up of its parent. Every writer of a run's end (the runner's
// pass, a cancel, the state machine's catch, the start check) writes it
// through Update, so none can end a child and leave its parent waiting. A
// wake-up that fails is logged: the parent still resumes at its own
// deadline, or at the next one.
func NotifyParents(store Store, parents Waker, logger *slog.Logger) Store {
	if parents == nil {
		return store
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &notifyingStore{Store: store, parents: parents, logger: logger}
}

type notifyingStore struct {
	Store
	parents Waker
	logger  *slog.Logger
}

func (s *notifyingStore) Update(ctx context.Context, run Run) (Run, error) {
	written, err := s.Store.Update(ctx, run)
	if err == nil && written.Status.Finished() && written.ParentRunID != "" {
		if err := s.parents.Wake(ctx, written.AccountID, written.ParentRunID, written.ParentStepID); err != nil {
			s.logger.WarnContext(ctx, "a child run ended and its parent could not be told", "runId", written.ID, "parentRunId", written.ParentRunID, "error", err)
		}
	}
	return written, err
}

// TaskCompleter completes the task token a state machine's execution waits
// on, with the run's task as its output (sfn.Orchestrator does).
type TaskCompleter interface {
	CompleteTask(ctx context.Context, token, accountID, runID string) error
}

// TokenWaker is Waker on Step Functions: the step a run waits on holds the
// task token its WaitForEvent state left there (the runner's Park), and
// completing it sends the execution on to its next Advance. A step with no
// token yet is no error: Park, which keeps it, looks at the step (and a
// workflow step's child) afterwards and completes the token itself.
func TokenWaker(store Store, tokens TaskCompleter) Waker {
	return tokenWaker{store: store, tokens: tokens}
}

type tokenWaker struct {
	store  Store
	tokens TaskCompleter
}

func (w tokenWaker) Wake(ctx context.Context, accountID, runID, stepID string) error {
	st, err := w.store.Step(ctx, runID, stepID)
	if err != nil || st.TaskToken == "" {
		return err
	}
	return w.tokens.CompleteTask(ctx, st.TaskToken, accountID, runID)
}
