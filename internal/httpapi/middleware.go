package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/routes"
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
func (h *handlers) observe(route routes.Route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.Now()
		gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
		requestID := gw.RequestID
		if requestID == "" {
			requestID = newRequestID()
		}
		w.Header().Set(HeaderRequestID, requestID)
		log := h.Logger.With("request_id", requestID, "route", route.Function)
		ctx := context.WithValue(r.Context(), loggerKey{}, log)
		// identify fills this in; the access log below reads it back.
		r = r.WithContext(context.WithValue(ctx, identityKey{}, &Identity{}))
		for name, value := range pathParams(r.Context()) {
			r.SetPathValue(name, value)
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, r, errors.New("panic"))
				}
			}
			log.InfoContext(r.Context(), "request",
				"method", r.Method, "status", rec.status,
				"duration_ms", h.Now().Sub(start).Milliseconds(),
				"account_id", identityOf(r.Context()).AccountID,
				"key_id", identityOf(r.Context()).KeyID)
		}()
		next.ServeHTTP(rec, r)
	})
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Identity is who is calling, as the authorizer resolved it.
type Identity struct {
	AccountID   string
	KeyID       string
	RateLimitID string
	Scopes      domain.Scopes
	LastUsedAt  time.Time
}

type identityKey struct{}

func identityOf(ctx context.Context) *Identity {
	if id, ok := ctx.Value(identityKey{}).(*Identity); ok {
		return id
	}
	return &Identity{}
}

// identify reads the authorizer's context. Without one (a function invoked
// without the authorizer in front of it) the request is refused: fail closed.
func (h *handlers) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
		id := &Identity{
			AccountID:   contextString(gw.Authorizer, authorizer.ContextAccountID),
			KeyID:       contextString(gw.Authorizer, authorizer.ContextKeyID),
			RateLimitID: contextString(gw.Authorizer, authorizer.ContextRateLimitID),
			Scopes:      domain.ParseScopeList(contextString(gw.Authorizer, authorizer.ContextScopes)),
		}
		if ms, err := strconv.ParseInt(contextString(gw.Authorizer, authorizer.ContextLastUsedAt), 10, 64); err == nil && ms > 0 {
			id.LastUsedAt = time.UnixMilli(ms)
		}
		if id.AccountID == "" || id.KeyID == "" || id.RateLimitID == "" {
			logger(r).ErrorContext(r.Context(), "request without authorizer context refused")
			writeError(w, r, &domain.Error{Code: domain.CodeUnauthorized, Message: domain.MessageUnauthorized})
			return
		}
		*identityOf(r.Context()) = *id
		next.ServeHTTP(w, r)
	})
}

// contextString reads an authorizer context value. API Gateway passes them
// on as strings, but a number or boolean is read too.
func contextString(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// limit applies the rate limit of the route's category: per key (shared by
// keys rolled from one another) or, for webhooks, per source IP. It sets the
// rate-limit headers first, so that every later answer, a 403 included,
// carries them. An admitted request also refreshes the key's lastUsedAt when
// it is over a minute old.
func (h *handlers) limit(route routes.Route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject := "ip:" + sourceIP(r)
		id := identityOf(r.Context())
		if route.Authenticated() {
			subject = "key:" + id.RateLimitID
		}
		now := h.Now()
		d := h.Limiter.Allow(r.Context(), subject, route.Category)
		// Assigned, not Set, to keep the spelling of the authentication page
		// (X-RateLimit-…) rather than Go's canonical X-Ratelimit-….
		w.Header()[HeaderRateLimitLimit] = []string{strconv.FormatInt(d.Limit, 10)}
		w.Header()[HeaderRateLimitRemaining] = []string{strconv.FormatInt(d.Remaining, 10)}
		w.Header()[HeaderRateLimitReset] = []string{strconv.FormatInt(d.Reset.Unix(), 10)}
		if !d.Allowed {
			w.Header().Set("Retry-After", strconv.FormatInt(d.RetryAfter, 10))
			writeError(w, r, domain.Errorf(domain.CodeRateLimited, "Rate limit exceeded. Limit: %d requests per minute.", d.Limit))
			return
		}
		if route.Authenticated() && now.Sub(id.LastUsedAt) >= lastUsedInterval {
			key := r.Header.Get(authorizer.HeaderAPIKey)
			if err := h.Keys.TouchLastUsed(r.Context(), apikey.Hash(key), now, lastUsedInterval); err != nil {
				logger(r).WarnContext(r.Context(), "could not record lastUsedAt", "error", err)
			}
		}
		next.ServeHTTP(w, r)
	})
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
func (h *handlers) requireScope(scope domain.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !identityOf(r.Context()).Scopes.Has(scope) {
			writeError(w, r, &domain.Error{Code: domain.CodeForbidden, Message: domain.MessageForbidden})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkBody enforces the body rules of the contract for POST and PUT: over
// the size limit → 413; a non-empty body that is not application/json → 415.
// It buffers the body so handlers can read it again.
func (h *handlers) checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := domain.Errorf(domain.CodePayloadTooLarge, "The request body must not exceed %d bytes", h.MaxBodyBytes)
		if r.ContentLength > h.MaxBodyBytes {
			writeError(w, r, tooLarge)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
		if err != nil {
			writeError(w, r, fmt.Errorf("read body: %w", err))
			return
		}
		if int64(len(body)) > h.MaxBodyBytes {
			writeError(w, r, tooLarge)
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mediaType != "application/json" {
				writeError(w, r, domain.Errorf(domain.CodeUnsupportedMediaType, "The request body must be application/json"))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
