// Package ids makes the API's resource identifiers: a type prefix and a
// lowercase ULID, so ids are opaque, unique and sort by creation time.
package ids

import (
	"crypto/rand"
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
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns prefix followed by a fresh ULID made at t. Ids made in the same
// millisecond still sort in the order they were made.
func New(prefix string, t time.Time) string {
	mu.Lock()
	id := ulid.MustNew(ulid.Timestamp(t), entropy)
	mu.Unlock()
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
