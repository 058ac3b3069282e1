// Package gatewaytest serves the whole API over real HTTP for end-to-end
// tests: the local gateway, the real Lambda handlers and the authorizer, on a
// fresh dynalite table.
package gatewaytest

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localgateway"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
)

// Env is a running API.
type Env struct {
	// URL is the server's root, e.g. http://127.0.0.1:41234; the API is under
	// URL + "/api/v1".
	URL   string
	Table dynamotest.Table
	Keys  *store.APIKeys
	Clock *Clock
}

// Options change the API under test.
type Options struct {
	// Limits replaces the default rate limits (nil keeps the contract's).
	Limits map[ratelimit.Category]int64
	// Logs receives the JSON logs (discarded if nil).
	Logs io.Writer
}

// MustStart serves the API until the test ends.
func MustStart(tb testing.TB, opts Options) *Env {
	tb.Helper()
	table := dynamotest.MustTable(tb)
	limits := ratelimit.DefaultConfig()
	for c, n := range opts.Limits {
		limits.Limits[c] = n
	}
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	clock := &Clock{}
	services := lambdaapp.NewServices(table.Client, table.Name, limits, logger)
	services.Limiter = ratelimit.New(store.NewRateCounter(table.Client, table.Name), limits, clock.Now, logger)
	gateway, err := localgateway.FromServices(services)
	if err != nil {
		tb.Fatal(err)
	}
	server := httptest.NewServer(gateway)
	tb.Cleanup(server.Close)
	return &Env{URL: server.URL, Table: table, Keys: services.Keys, Clock: clock}
}

// MustKey makes a key the way wfctl does (every scope unless scopes are
// given) and returns its plaintext and id.
func (e *Env) MustKey(tb testing.TB, account string, scopes ...domain.Scope) (plaintext, keyID string) {
	tb.Helper()
	plaintext, k := dynamotest.MustCreateKey(tb, e.Keys, account, func(k *domain.APIKey) {
		if len(scopes) > 0 {
			k.Scopes = domain.Scopes(scopes)
		}
	})
	return plaintext, k.ID
}

// Clock is the rate limiter's clock: the wall clock until Set.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the set time, or the wall clock if none was set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// Set fixes the limiter's clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
