package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/jsonbody"
	"github.com/workflowsapi/workflows/internal/jsondepth"
)

// HeaderRequestID is on every response.
const HeaderRequestID = "X-Request-Id"

// The rate-limit headers, on every response that went through the limiter.
const (
	HeaderRateLimitLimit     = "X-RateLimit-Limit"
	HeaderRateLimitRemaining = "X-RateLimit-Remaining"
	HeaderRateLimitReset     = "X-RateLimit-Reset"
)

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	log    *slog.Logger // the request's, for writes that have no request (WriteData)
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// observe gives the request its id (API Gateway's, when there is one),
// recovers from panics, sets path values from the proxy event, and writes
// one access-log line. Nothing here logs a header or a body.
func (p *pipeline) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := p.Now()
		gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
		requestID := gw.RequestID
		if requestID == "" {
			requestID = newRequestID()
		}
		w.Header().Set(HeaderRequestID, requestID)
		log := p.Logger.With("request_id", requestID, "route", p.route.Function)
		ctx, cancel := context.WithTimeout(r.Context(), p.RequestTimeout)
		defer cancel()
		ctx = context.WithValue(ctx, loggerKey{}, log)
		// identify fills this in; the access log below reads it back.
		r = r.WithContext(context.WithValue(ctx, identityKey{}, &Identity{}))
		for name, value := range pathParams(r.Context()) {
			r.SetPathValue(name, value)
		}
		rec := &statusRecorder{ResponseWriter: w, log: log}
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(v))
				if rec.status == 0 {
					WriteError(rec, r, errors.New("panic"))
				}
			}
			log.InfoContext(r.Context(), "request",
				"method", r.Method, "status", rec.status,
				"duration_ms", p.Now().Sub(start).Milliseconds(),
				"account_id", IdentityOf(r.Context()).AccountID,
				"key_id", IdentityOf(r.Context()).KeyID)
		}()
		next.ServeHTTP(rec, r)
	})
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// limit applies the rate limit of the route's category: per key (shared by
// keys rolled from one another) or, for routes without a key, per source IP.
// It sets the rate-limit headers first, so that every later answer, a 403
// included, carries them.
func (p *pipeline) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject := "ip:" + sourceIP(r)
		if p.route.Authenticated() {
			subject = "key:" + IdentityOf(r.Context()).RateLimitID
		}
		d := p.Limiter.Allow(r.Context(), subject, p.route.Category)
		// Assigned, not Set, to keep the spelling of the authentication page
		// (X-RateLimit-…) rather than Go's canonical X-Ratelimit-….
		w.Header()[HeaderRateLimitLimit] = []string{strconv.FormatInt(d.Limit, 10)}
		w.Header()[HeaderRateLimitRemaining] = []string{strconv.FormatInt(d.Remaining, 10)}
		w.Header()[HeaderRateLimitReset] = []string{strconv.FormatInt(d.Reset.Unix(), 10)}
		if !d.Allowed {
			w.Header().Set("Retry-After", strconv.FormatInt(d.RetryAfter, 10))
			WriteError(w, r, domain.Errorf(domain.CodeRateLimited, "Rate limit exceeded. Limit: %d requests per minute.", d.Limit))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recordUse refreshes the calling key's lastUsedAt when it is over
// LastUsedInterval old, for an admitted request. The authorizer's context
// says when it was last recorded, but that is stale under concurrency (many
// requests see the same old value) and with the authorizer cache on, so the
// process also remembers which keys it recorded lately: at most one write per
// key per interval per process, however many requests race.
func (p *pipeline) recordUse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := p.Now()
		id := IdentityOf(r.Context())
		if p.Usage != nil && now.Sub(id.LastUsedAt) >= LastUsedInterval && recentUses.claim(id.KeyID, now) {
			if err := p.Usage.RecordUse(r.Context(), r.Header.Get(authcontext.HeaderAPIKey), now, LastUsedInterval); err != nil {
				Logger(r).WarnContext(r.Context(), "could not record lastUsedAt", "error", err)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recentUses is this process's memory of when it last recorded each key's
// use.
var recentUses = &useGate{last: map[string]time.Time{}}

type useGate struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// maxRememberedKeys bounds the gate's memory; past it, entries older than
// the interval (which no longer hold anything back) are dropped.
const maxRememberedKeys = 10000

// claim reports whether the caller should record keyID's use at now: true
// for the first request per key per LastUsedInterval in this process.
func (g *useGate) claim(keyID string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.last[keyID]; ok && now.Sub(last) < LastUsedInterval && !now.Before(last) {
		return false
	}
	if len(g.last) >= maxRememberedKeys {
		for k, t := range g.last {
			if now.Sub(t) >= LastUsedInterval {
				delete(g.last, k)
			}
		}
	}
	g.last[keyID] = now
	return true
}

func sourceIP(r *http.Request) string {
	gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
	if gw.Identity.SourceIP != "" {
		return gw.Identity.SourceIP
	}
	return r.RemoteAddr
}

// requireScope answers 403 with the authentication page's body when the key
// lacks the route's scope.
func (p *pipeline) requireScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IdentityOf(r.Context()).Scopes.Has(p.route.Scope) {
			WriteError(w, r, domain.ErrForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkPathIDs answers 404 for a path parameter that cannot be one of our
// ids (wrong prefix, not a ULID, control characters): no feature reads
// anything for it, and every feature gets this for free.
func (p *pipeline) checkPathIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, prefix := range p.route.PathIDs {
			if !ids.Valid(prefix, r.PathValue(name)) {
				WriteError(w, r, domain.ErrNotFound)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkBody enforces the body rules of the contract for POST and PUT: over
// the size limit → 413; a non-empty body that is not application/json → 415;
// a JSON body nested deeper than jsondepth.MaxDepth → 400. It buffers the body so handlers can read it again.
func (p *pipeline) checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := domain.Errorf(domain.CodePayloadTooLarge, "The request body must not exceed %d bytes", p.MaxBodyBytes)
		if r.ContentLength > p.MaxBodyBytes {
			WriteError(w, r, tooLarge)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, p.MaxBodyBytes+1))
		if err != nil {
			WriteError(w, r, fmt.Errorf("read body: %w", err))
			return
		}
		if int64(len(body)) > p.MaxBodyBytes {
			WriteError(w, r, tooLarge)
			return
		}
		if !jsonbody.None(body) {
			mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || !strings.EqualFold(mediaType, "application/json") {
				WriteError(w, r, domain.Errorf(domain.CodeUnsupportedMediaType, "The request body must be application/json"))
				return
			}
			// Before anything decodes it: decoders recurse once per level.
			// A run's input, a webhook delivery and a definition are held
			// to the depth every step output is held to.
			if jsondepth.Bytes(body, jsondepth.MaxDepth) {
				WriteError(w, r, domain.Invalid(domain.FieldError{Field: "body", Message: fmt.Sprintf("nests deeper than %d levels", jsondepth.MaxDepth)}))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
