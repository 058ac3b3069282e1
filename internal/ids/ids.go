// Package ids makes the API's resource identifiers: a type prefix and a
// lowercase ULID, so ids are opaque, unique and sort by creation time.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// The prefixes of the API's resource ids.
const (
	PrefixWorkflow   = "wf_"
	PrefixRun        = "run_"
	PrefixConnection = "conn_"
	PrefixKey        = "key_"
	PrefixRateLimit  = "rl_"
	// PrefixEvent begins the id of a run's event (a notification), which
	// its receiver gets as the delivery's Idempotency-Key.
	PrefixEvent = "evt_"
)

// entropy is made on the first New, not at package initialisation: its
// buffered reader is 22 KB and about 0.1 ms of every cold start of the
// functions that link this package for its prefixes alone (the reads).
var (
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
)

// New returns prefix followed by a fresh ULID made at t. Ids made in the same
// millisecond still sort in the order they were made.
func New(prefix string, t time.Time) string {
	mu.Lock()
	if entropy == nil {
		entropy = ulid.Monotonic(rand.Reader, 0)
	}
	id := ulid.MustNew(ulid.Timestamp(t), entropy)
	mu.Unlock()
	return prefix + strings.ToLower(id.String())
}

// Derived returns prefix followed by a ULID made at t whose random part is
// the first 80 bits of SHA-256(seed): the same seed and time always make
// the same id (a start delivered twice finds the first one), and ids still
// sort by time. t must be before the year 10889, which a ULID holds.
func Derived(prefix string, t time.Time, seed string) string {
	sum := sha256.Sum256([]byte(seed))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t)) // fails only after the year 10889
	_ = id.SetEntropy(sum[:10])       // exactly 10 bytes
	return prefix + strings.ToLower(id.String())
}

// Valid reports whether s looks like an id made by New with prefix. Handlers
// use it to answer 404 for garbage without a database read.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(strings.ToUpper(rest))
	return err == nil
}
