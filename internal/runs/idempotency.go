package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
)

// IdempotencyWindow is how long an Idempotency-Key holds its first answer.
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKeyLength bounds an Idempotency-Key, as Stripe's 255.
const MaxIdempotencyKeyLength = 255

// IdempotencyRecord is the first start made with an Idempotency-Key: which
// request it was (a hash of the workflow id and body) and the run it made.
// The key is kept only as its SHA-256, so no caller's key is stored.
type IdempotencyRecord struct {
	AccountID   string
	KeyHash     string
	RequestHash string
	RunID       string
	ExpiresAt   time.Time
}

// IdempotencyStore keeps the records (runsdb.Store does, with a TTL).
type IdempotencyStore interface {
	// Idempotency returns the live record of a key (domain.ErrNotFound if
	// there is none, or only an expired one).
	Idempotency(ctx context.Context, account, keyHash string) (IdempotencyRecord, error)
	// PutIdempotency stores rec unless a live record holds its key
	// (ErrExists then).
	PutIdempotency(ctx context.Context, rec IdempotencyRecord) error
}

func hashHex(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckIdempotencyKey refuses a key that is empty, longer than 255
// characters, or holds anything but printable ASCII.
func CheckIdempotencyKey(key string) error {
	bad := len(key) == 0 || len(key) > MaxIdempotencyKeyLength
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x20 || key[i] > 0x7e
	}
	if bad {
		return domain.Invalid(domain.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"})
	}
	return nil
}

// StartOnce is Start for a request with an Idempotency-Key (key "" is
// plain Start): the first request with a key starts the run; a repeat with
// the same key and the same request within 24 hours answers that same run
// (replayed reports so), and one with another request is a CONFLICT. A
// request refused (bad input, disabled workflow) records nothing, so the
// caller may fix it and send it again with the same key.
func (s *Service) StartOnce(ctx context.Context, req StartRequest, key string, body []byte) (run Run, replayed bool, err error) {
	if key == "" {
		run, err = s.Start(ctx, req)
		return run, false, err
	}
	if err := CheckIdempotencyKey(key); err != nil {
		return Run{}, false, err
	}
	if s.idempotency == nil {
		return Run{}, false, errors.New("runs: no idempotency store wired")
	}
	keyHash := hashHex([]byte(key))
	requestHash := hashHex([]byte(req.WorkflowID), body)
	rec, err := s.idempotency.Idempotency(ctx, req.AccountID, keyHash)
	switch {
	case err == nil:
		run, err = s.replay(ctx, req, rec, requestHash)
		return run, err == nil, err
	case !errors.Is(err, domain.ErrNotFound):
		return Run{}, false, err
	}
	prepared, err := s.prepare(ctx, req)
	if err != nil {
		return Run{}, false, err
	}
	rec = IdempotencyRecord{
		AccountID: req.AccountID, KeyHash: keyHash, RequestHash: requestHash, RunID: prepared.ID,
		ExpiresAt: prepared.CreatedAt.Add(IdempotencyWindow),
	}
	switch err := s.idempotency.PutIdempotency(ctx, rec); {
	case errors.Is(err, ErrExists):
		// Another request with the key got there first.
		if rec, err = s.idempotency.Idempotency(ctx, req.AccountID, keyHash); err != nil {
			return Run{}, false, err
		}
		run, err = s.replay(ctx, req, rec, requestHash)
		return run, err == nil, err
	case err != nil:
		return Run{}, false, err
	}
	run, err = s.launch(ctx, prepared, nil)
	return run, false, err
}

// replay answers a repeated key: the run its first request made. If that
// request died between recording the key and storing the run, the run is
// started now under the recorded id, so the key still names one run.
func (s *Service) replay(ctx context.Context, req StartRequest, rec IdempotencyRecord, requestHash string) (Run, error) {
	if rec.RequestHash != requestHash {
		return Run{}, domain.Errorf(domain.CodeConflict, "This Idempotency-Key was used with a different request in the last 24 hours; use a new key for a new request")
	}
	run, err := s.store.Get(ctx, req.AccountID, rec.RunID)
	if !errors.Is(err, domain.ErrNotFound) {
		return run, err
	}
	req.RunID = rec.RunID
	return s.Start(ctx, req)
}
