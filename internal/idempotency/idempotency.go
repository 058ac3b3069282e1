// Package idempotency is Idempotency-Key as Stripe has it, for every POST
// that creates something (a run start, a retry; the signal and notify
// routes when they come): the first request with a key creates, a repeat
// with the same key and the same request within Window answers what the
// first one created (and creates nothing), and a repeat with another
// request is 409 CONFLICT. "The same request" is the same route, the same
// resource in its path and the same JSON body as a value (Fingerprint), not
// as bytes. Only hashes are stored: of the key (no caller's key is kept)
// and of the request. It is a leaf: a feature hands Do its own Creation and
// a Store (runsdb.Store is one).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonbody"
)

// Window is how long an Idempotency-Key holds its first answer.
const Window = 24 * time.Hour

// MaxKeyLength bounds an Idempotency-Key, as Stripe's 255.
const MaxKeyLength = 255

// Header is the request header a key comes in.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer that is the recorded one of an earlier
// request with the same key.
const ReplayedHeader = "Idempotent-Replayed"

// Record is the first request made with a key: which request it was (its
// Fingerprint) and the id of what it created.
type Record struct {
	AccountID string
	// KeyHash is KeyHash(key).
	KeyHash string
	// RequestHash is the request's Fingerprint.
	RequestHash string
	// ResultID is the id of what the first request created (a run).
	ResultID  string
	ExpiresAt time.Time
}

// ErrTaken: a live record holds the key already (another request with it
// got there first).
var ErrTaken = errors.New("idempotency: the key is recorded already")

// Store keeps the records, with a TTL.
type Store interface {
	// Idempotency returns the live record of a key (domain.ErrNotFound if
	// there is none, or only an expired one).
	Idempotency(ctx context.Context, account, keyHash string) (Record, error)
	// PutIdempotency stores rec unless a live record holds its key
	// (ErrTaken then): one conditional write, so of requests racing with
	// one key exactly one records it.
	PutIdempotency(ctx context.Context, rec Record) error
}

// KeyHash is what is stored of a key: hex SHA-256 of the key and a NUL (the
// spelling of the first release's records, which stay readable).
func KeyHash(key string) string {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	return hex.EncodeToString(h.Sum(nil))
}

// CheckKey refuses a key that is empty, longer than 255 characters, or
// holds anything but printable ASCII.
func CheckKey(key string) error {
	bad := len(key) == 0 || len(key) > MaxKeyLength
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x20 || key[i] > 0x7e
	}
	if bad {
		return domain.Invalid(domain.FieldError{Field: Header, Message: "must be 1 to 255 printable ASCII characters"})
	}
	return nil
}

// ParseHeader reads the Idempotency-Key header: absent is "" (no
// idempotency); given, it must be given once and pass CheckKey. An empty or
// repeated key is refused rather than taken for none: a client that meant
// to send one would otherwise create twice on a retry.
func ParseHeader(h http.Header) (string, error) {
	values := h.Values(Header)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], CheckKey(values[0])
	}
	return "", domain.Invalid(domain.FieldError{Field: Header, Message: "must be given once"})
}

// Request is what a key is held to.
type Request struct {
	// Operation names the route, as the route table writes it ("POST
	// /runs/{id}/retry"): one key used on two routes is two requests.
	Operation string
	// Target is the resource the path names (the workflow started, the run
	// retried).
	Target string
	// Body is the body as sent, a JSON value; none is {}.
	Body []byte
	// Legacy, if not "", is the hash a record written before Fingerprint
	// existed holds for this same request; it matches too, so a replay
	// across the release that brought Fingerprint is not a 409. It can go
	// once Window has passed since that release.
	Legacy string
}

// Fingerprint is the request's hash as a record keeps it: SHA-256 over the
// operation, the target and the body's Digest. A body that is not one JSON
// value is a VALIDATION_ERROR (the routes have refused it before).
func (r Request) Fingerprint() (string, error) {
	body, err := jsonbody.Text(r.Body)
	if err != nil {
		return "", err
	}
	digest, err := Digest(body)
	if err != nil {
		return "", domain.Invalid(domain.FieldError{Field: "body", Message: "is not one JSON value"})
	}
	h := sha256.New()
	h.Write([]byte("idempotency-request/v2\x00"))
	h.Write([]byte(r.Operation))
	h.Write([]byte{0})
	h.Write([]byte(r.Target))
	h.Write([]byte{0})
	h.Write(digest[:])
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Creation is what one POST creates, as Do runs it.
type Creation[T any] struct {
	// Prepare checks the request and readies what it creates: the id it
	// will have, and commit, which creates it under that id. A refusal
	// records nothing, so the caller may fix the request and send it again
	// with the same key.
	Prepare func(ctx context.Context) (id string, commit func(context.Context) (T, error), err error)
	// Existing returns what the first request with the key created (id is
	// the recorded one). If that request stopped between recording the key
	// and creating, Existing creates it now, under id: creating under an id
	// is itself idempotent (the store refuses a taken id), so the key still
	// names one thing however many repeats race.
	Existing func(ctx context.Context, id string) (T, error)
}

// errOtherRequest answers a key used with another request.
var errOtherRequest = domain.Errorf(domain.CodeConflict, "This Idempotency-Key was used with a different request in the last 24 hours; use a new key for a new request")

// Do creates once per key: the first request with key runs c.Prepare,
// records the key, then commits; a repeat with the same request within
// Window answers c.Existing of the recorded id (replayed true); one with
// another request is CONFLICT. now is when the record starts its Window.
func Do[T any](ctx context.Context, store Store, account, key string, req Request, c Creation[T], now time.Time) (result T, replayed bool, err error) {
	var zero T
	if err := CheckKey(key); err != nil {
		return zero, false, err
	}
	if store == nil {
		return zero, false, errors.New("idempotency: no store wired")
	}
	fingerprint, err := req.Fingerprint()
	if err != nil {
		return zero, false, err
	}
	keyHash := KeyHash(key)
	replay := func(rec Record) (T, bool, error) {
		if rec.RequestHash != fingerprint && (req.Legacy == "" || rec.RequestHash != req.Legacy) {
			return zero, false, errOtherRequest
		}
		result, err := c.Existing(ctx, rec.ResultID)
		return result, err == nil, err
	}
	rec, err := store.Idempotency(ctx, account, keyHash)
	switch {
	case err == nil:
		return replay(rec)
	case !errors.Is(err, domain.ErrNotFound):
		return zero, false, err
	}
	id, commit, err := c.Prepare(ctx)
	if err != nil {
		return zero, false, err
	}
	rec = Record{AccountID: account, KeyHash: keyHash, RequestHash: fingerprint, ResultID: id, ExpiresAt: now.Add(Window)}
	switch err := store.PutIdempotency(ctx, rec); {
	case errors.Is(err, ErrTaken):
		// Another request with the key recorded it first: answer as its
		// repeat. Read strongly, so the winner's record is seen.
		if rec, err = store.Idempotency(ctx, account, keyHash); err != nil {
			return zero, false, err
		}
		return replay(rec)
	case err != nil:
		return zero, false, err
	}
	result, err = commit(ctx)
	return result, false, err
}
