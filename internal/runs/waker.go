package runs

import (
	"context"
	"log/slog"
)

// Parents resumes the parent of a child run that has ended: in AWS it
// completes the Step Functions task token the parent's execution waits on
// (orchestrator/sfn), locally it has the driver advance the parent at once
// (orchestrator/local). The parent's Advance then reads the child and
// records its workflow step: the notice carries no result, so a notice
// repeated or crossed with the parent's own look at the child changes
// nothing.
type Parents interface {
	ChildEnded(ctx context.Context, accountID, parentRunID, parentStepID string) error
}

// NotifyParents is store with every write that ends a child run followed
// by a notice to its parent. Every writer of a run's end (the runner's
// pass, a cancel, the state machine's catch, the start check) writes it
// through Update, so none can end a child and leave its parent waiting. A
// notice that fails is logged: the parent still resumes at its own
// deadline, or at the next notice.
func NotifyParents(store Store, parents Parents, logger *slog.Logger) Store {
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
	parents Parents
	logger  *slog.Logger
}

func (s *notifyingStore) Update(ctx context.Context, run Run) (Run, error) {
	written, err := s.Store.Update(ctx, run)
	if err == nil && written.Status.Finished() && written.ParentRunID != "" {
		if err := s.parents.ChildEnded(ctx, written.AccountID, written.ParentRunID, written.ParentStepID); err != nil {
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

// TokenParents is Parents on Step Functions: the parent's workflow step
// holds the task token its WaitForChild state left there (the runner's
// Park), and completing it sends the parent's execution on to its next
// Advance. A step with no token yet is no error: Park, which keeps it,
// looks at the child afterwards and completes the token itself.
func TokenParents(store Store, tokens TaskCompleter) Parents {
	return tokenParents{store: store, tokens: tokens}
}

type tokenParents struct {
	store  Store
	tokens TaskCompleter
}

func (p tokenParents) ChildEnded(ctx context.Context, accountID, parentRunID, parentStepID string) error {
	st, err := p.store.Step(ctx, parentRunID, parentStepID)
	if err != nil || st.TaskToken == "" {
		return err
	}
	return p.tokens.CompleteTask(ctx, st.TaskToken, accountID, parentRunID)
}
