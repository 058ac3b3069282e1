// Package httpapi is the API's HTTP layer: the middleware every route runs
// through (request id, logging, identity, rate limit, scope, body checks), the
// handlers, and the adapter that serves them from an API Gateway proxy event.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
)

// KeyStore is what the key routes and the identity middleware need of the
// key store. Methods return domain.ErrNotFound for a key that is absent or
// another account's, and store.ErrBadCursor for a cursor it did not make.
type KeyStore interface {
	Create(ctx context.Context, k domain.APIKey, hash string) error
	ByID(ctx context.Context, account, keyID string) (domain.APIKey, error)
	List(ctx context.Context, account string, limit int, cursor string) (store.Page[domain.APIKey], error)
	Revoke(ctx context.Context, account, keyID string, at time.Time) (domain.APIKey, error)
	ExpireBy(ctx context.Context, account, keyID string, at time.Time) (domain.APIKey, error)
	TouchLastUsed(ctx context.Context, hash string, at time.Time, staleAfter time.Duration) error
}

// Limiter decides whether a request may proceed; see ratelimit.Limiter.
type Limiter interface {
	Allow(ctx context.Context, subject string, c ratelimit.Category) ratelimit.Decision
}

// DefaultMaxBodyBytes is the largest request body the API takes: 256 KiB,
// well under DynamoDB's 400 KB item limit.
const DefaultMaxBodyBytes = 256 << 10

// lastUsedInterval is how stale lastUsedAt may get: it costs one write per
// key per interval.
const lastUsedInterval = time.Minute

// Deps are what the handlers work with.
type Deps struct {
	Keys         KeyStore
	Limiter      Limiter
	Logger       *slog.Logger
	Now          func() time.Time
	MaxBodyBytes int64
}

func (d *Deps) defaults() {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBodyBytes == 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
}

// implementations binds function names of the route table to handlers.
// Routes missing here answer 501 NOT_IMPLEMENTED after authentication, rate
// limiting and the scope check, so their limits and headers already hold.
var implementations = map[string]func(*handlers, http.ResponseWriter, *http.Request){
	"list-api-keys":  (*handlers).listKeys,
	"create-api-key": (*handlers).createKey,
	"revoke-api-key": (*handlers).revokeKey,
	"roll-api-key":   (*handlers).rollKey,
}

// Implemented reports whether the route's feature is built.
func Implemented(r routes.Route) bool {
	_, ok := implementations[r.Function]
	return ok
}

type handlers struct{ Deps }

// Handler returns the complete http.Handler of one route.
func Handler(route routes.Route, deps Deps) http.Handler {
	deps.defaults()
	h := &handlers{deps}
	var final http.Handler = http.HandlerFunc(notImplemented)
	if impl, ok := implementations[route.Function]; ok {
		final = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { impl(h, w, r) })
	}
	final = h.checkBody(final)
	if route.Authenticated() {
		final = h.requireScope(route.Scope, final)
	}
	final = h.limit(route, final)
	if route.Authenticated() {
		final = h.identify(final)
	}
	return h.observe(route, final)
}

func notImplemented(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, domain.Errorf(domain.CodeNotImplemented, "This endpoint is not available yet"))
}
