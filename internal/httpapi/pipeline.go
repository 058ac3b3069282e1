// Package httpapi is the request pipeline every route function runs, and
// nothing else: request id and access log, identity (from the authorizer's
// context), the rate limiter, lastUsedAt, the scope check, path ids that
// cannot be ours, body checks, the error envelope, and the JSON, list and time
// helpers the features' handlers write with. It imports no feature and no
// store: each feature's handler is handed to Handler, and the pipeline's
// writes go through the small interfaces below.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Limiter decides whether a request may proceed; see ratelimit.Limiter.
type Limiter interface {
	Allow(ctx context.Context, subject string, c ratelimit.Category) ratelimit.Decision
}

// UsageRecorder records that the key presented as plaintext was used at
// `at`, at most once per staleAfter per key. An error is logged and the
// request goes on: lastUsedAt is information, not a control.
type UsageRecorder interface {
	RecordUse(ctx context.Context, plaintext string, at time.Time, staleAfter time.Duration) error
}

// DefaultMaxBodyBytes is the largest request body the API takes: 256 KiB,
// well under DynamoDB's 400 KB item limit.
const DefaultMaxBodyBytes = 256 << 10

// LastUsedInterval is how stale lastUsedAt may get: it costs one write per
// key per interval.
const LastUsedInterval = time.Minute

// DefaultRequestTimeout bounds everything a route function does for one
// request, its DynamoDB calls included: the route Lambdas have 10 s, and a
// hung dependency must end in an answer in the envelope, not in Lambda's own
// timeout (which API Gateway answers with a bare 502 after the full wait).
const DefaultRequestTimeout = 8 * time.Second

// Deps are what the pipeline works with.
type Deps struct {
	Limiter        Limiter
	Usage          UsageRecorder
	Logger         *slog.Logger
	Now            func() time.Time
	MaxBodyBytes   int64
	RequestTimeout time.Duration
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
	if d.RequestTimeout == 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
}

// Handler returns the complete http.Handler of one route: the pipeline, in
// this order, in front of the feature's handler. Identity comes first so the
// limiter knows whose window to count; the limiter comes before the scope
// check so that a 403 carries the rate-limit headers and counts too; ids are
// checked after the scope so a key without the scope learns nothing about
// ids; the body is read last, once the caller is known to be allowed.
func Handler(route *routes.Route, feature http.Handler, deps Deps) http.Handler {
	deps.defaults()
	p := &pipeline{Deps: deps, route: route}
	h := p.checkBody(feature)
	h = p.checkPathIDs(h)
	if route.Authenticated() {
		h = p.requireScope(h)
		h = p.recordUse(h)
	}
	h = p.limit(h)
	if route.Authenticated() {
		h = p.identify(h)
	}
	return p.observe(h)
}

type pipeline struct {
	Deps
	route *routes.Route
}

// NotImplemented is the handler of a route whose feature is not built yet:
// its function still authenticates, limits and checks the scope, so its
// limits and headers already hold.
var NotImplemented http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, domain.Errorf(domain.CodeNotImplemented, "This endpoint is not available yet"))
})
