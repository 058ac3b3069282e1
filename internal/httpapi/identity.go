package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/domain"
)

// Identity is who is calling, as the authorizer resolved it.
type Identity struct {
	AccountID   string
	KeyID       string
	RateLimitID string
	Scopes      domain.Scopes
	LastUsedAt  time.Time
	// ExpiresAt is when the calling key stops working; nil if never.
	ExpiresAt *time.Time
}

type identityKey struct{}

// IdentityOf returns the caller of an authenticated route (the zero Identity
// elsewhere).
func IdentityOf(ctx context.Context) *Identity {
	if id, ok := ctx.Value(identityKey{}).(*Identity); ok {
		return id
	}
	return &Identity{}
}

// identify reads the authorizer's context. Without one (a function invoked
// without the authorizer in front of it) the request is refused: fail closed.
func (p *pipeline) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
		id := &Identity{
			AccountID:   contextString(gw.Authorizer, authcontext.AccountID),
			KeyID:       contextString(gw.Authorizer, authcontext.KeyID),
			RateLimitID: contextString(gw.Authorizer, authcontext.RateLimitID),
			Scopes:      domain.ParseScopeList(contextString(gw.Authorizer, authcontext.Scopes)),
		}
		if ms, err := strconv.ParseInt(contextString(gw.Authorizer, authcontext.LastUsedAt), 10, 64); err == nil && ms > 0 {
			id.LastUsedAt = time.UnixMilli(ms)
		}
		if ms, err := strconv.ParseInt(contextString(gw.Authorizer, authcontext.ExpiresAt), 10, 64); err == nil && ms > 0 {
			t := time.UnixMilli(ms).UTC()
			id.ExpiresAt = &t
		}
		if contextString(gw.Authorizer, authcontext.Refused) == "true" {
			// The authorizer refused the key and left the answer to this
			// route (authorizer.ForSAMLocal): the same 401 API Gateway gives.
			Logger(r).InfoContext(r.Context(), "key refused by the authorizer")
			WriteError(w, r, domain.ErrUnauthorized)
			return
		}
		if id.AccountID == "" || id.KeyID == "" || id.RateLimitID == "" {
			Logger(r).ErrorContext(r.Context(), "request without authorizer context refused")
			WriteError(w, r, domain.ErrUnauthorized)
			return
		}
		*IdentityOf(r.Context()) = *id
		// Here, before the limiter and the scope check, so that a 429 and
		// a 403 say what the key may do too; a 401 (above) names none.
		w.Header().Set(HeaderKeyScopes, KeyScopes(id.Scopes))
		next.ServeHTTP(w, r)
	})
}

// HeaderKeyScopes is on every answer to a request whose key was accepted: the
// key's scopes, as GitHub's X-OAuth-Scopes, so that a client (the console)
// can tell what it may offer without trying.
const HeaderKeyScopes = "X-Key-Scopes"

// KeyScopes is the value of HeaderKeyScopes: the scopes in domain.AllScopes
// order, separated by a comma and a space ("workflows:read, runs:read").
func KeyScopes(scopes domain.Scopes) string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
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
