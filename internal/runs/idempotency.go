package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/idempotency"
)

// The operations an Idempotency-Key is held to, as the route table writes
// them: a key used on a start and then on a retry is two requests (409).
// They are part of every stored fingerprint, so they never change.
const (
	operationStart = "POST /workflows/{id}/run"
	operationRetry = "POST /runs/{id}/retry"
)

// legacyStartHash is the request hash of the first release's records (the
// workflow id and the raw body): a replay of a start recorded before
// canonical fingerprints still matches it. Remove 24 hours after the
// release that brought idempotency.Request.Fingerprint.
func legacyStartHash(workflowID string, body []byte) string {
	h := sha256.New()
	for _, p := range [][]byte{[]byte(workflowID), body} {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StartOnce is Start for a request with an Idempotency-Key (key "" is
// plain Start), through idempotency.Do: the first request with a key starts
// the run; a repeat with the same key and the same request (the workflow
// and the body as a JSON value) within 24 hours answers that same run
// (replayed reports so), and one with another request is a CONFLICT. A
// request refused (bad input, disabled workflow) records nothing, so the
// caller may fix it and send it again with the same key.
func (s *Service) StartOnce(ctx context.Context, req StartRequest, key string, body []byte) (run Run, replayed bool, err error) {
	if key == "" {
		run, err = s.Start(ctx, req)
		return run, false, err
	}
	return idempotency.Do(ctx, s.idempotency, req.AccountID, key, idempotency.Request{
		Operation: operationStart, Target: req.WorkflowID, Body: body, Legacy: legacyStartHash(req.WorkflowID, body),
	}, idempotency.Creation[Run]{
		Prepare: func(ctx context.Context) (string, func(context.Context) (Run, error), error) {
			prepared, err := s.prepare(ctx, req)
			if err != nil {
				return "", nil, err
			}
			return prepared.ID, func(ctx context.Context) (Run, error) { return s.launch(ctx, prepared, Reused{}) }, nil
		},
		Existing: func(ctx context.Context, runID string) (Run, error) {
			run, err := s.store.Get(ctx, req.AccountID, runID)
			if !errors.Is(err, domain.ErrNotFound) {
				return run, err
			}
			again := req
			again.RunID = runID
			return s.Start(ctx, again)
		},
	}, s.now())
}

// RetryOnce is Retry for a request with an Idempotency-Key (key "" is
// plain Retry), as StartOnce is Start's: one key makes one retry run, the
// same request again answers it, another request with the key is a
// CONFLICT, and a refused retry records nothing.
func (s *Service) RetryOnce(ctx context.Context, account, runID string, fromFailedStep bool, key string, body []byte) (run Run, replayed bool, err error) {
	if key == "" {
		run, err = s.Retry(ctx, account, runID, fromFailedStep)
		return run, false, err
	}
	return idempotency.Do(ctx, s.idempotency, account, key, idempotency.Request{
		Operation: operationRetry, Target: runID, Body: body,
	}, idempotency.Creation[Run]{
		Prepare: func(ctx context.Context) (string, func(context.Context) (Run, error), error) {
			prepared, reused, err := s.prepareRetry(ctx, account, runID, fromFailedStep, "")
			if err != nil {
				return "", nil, err
			}
			return prepared.ID, func(ctx context.Context) (Run, error) { return s.launch(ctx, prepared, reused) }, nil
		},
		Existing: func(ctx context.Context, newRunID string) (Run, error) {
			run, err := s.store.Get(ctx, account, newRunID)
			if !errors.Is(err, domain.ErrNotFound) {
				return run, err
			}
			prepared, reused, err := s.prepareRetry(ctx, account, runID, fromFailedStep, newRunID)
			if err != nil {
				return Run{}, err
			}
			return s.launch(ctx, prepared, reused)
		},
	}, s.now())
}
