// Package authorizer is the API Gateway REST REQUEST authorizer: it resolves
// the x-api-key header to an account, a key id and scopes.
package authorizer

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/keys"
)

// ErrUnauthorized is the error API Gateway turns into its UNAUTHORIZED
// gateway response (401): the message must be exactly "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// KeyLookup finds a key by the hash of its plaintext. It returns
// domain.ErrNotFound if no key has that hash; any other error means the store
// could not be read.
type KeyLookup interface {
	ByHash(ctx context.Context, hash string) (key keys.Key, storedHash string, err error)
}

// Authorizer resolves keys.
type Authorizer struct {
	keys   KeyLookup
	now    func() time.Time
	logger *slog.Logger
}

// LookupTimeout bounds the key lookup. The authorizer's Lambda has 5 s and
// API Gateway waits on it before every route: a hung DynamoDB must become a
// 503 the caller can retry, well before the Lambda itself times out (which
// API Gateway answers with a bare 500 after the full timeout).
const LookupTimeout = 2500 * time.Millisecond

// New returns an Authorizer. now may be nil for the wall clock.
func New(keys KeyLookup, now func() time.Time, logger *slog.Logger) *Authorizer {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Authorizer{keys: keys, now: now, logger: logger}
}

// Handle is the Lambda handler. A missing, malformed, unknown, revoked or
// expired key gets ErrUnauthorized; a malformed one (including a bad
// checksum) is turned away before any store read. A store that cannot be read
// gets a plain error, which API Gateway answers as
// AUTHORIZER_CONFIGURATION_ERROR, mapped to the same 503 as AUTHORIZER_FAILURE:
// authentication fails closed.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	log := a.logger.With("request_id", req.RequestContext.RequestID)
	key, single := headerValue(req, authcontext.HeaderAPIKey)
	if !single {
		// Two keys on one request: checking one and recording the use of
		// another would let a caller hide a leaked key's use. One credential
		// per request.
		log.InfoContext(ctx, "key refused", "reason", "more than one x-api-key")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if err := apikey.Validate(key); err != nil {
		log.InfoContext(ctx, "key refused", "reason", "malformed")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	hash := apikey.Hash(key)
	lookupCtx, cancel := context.WithTimeout(ctx, LookupTimeout)
	k, storedHash, err := a.keys.ByHash(lookupCtx, hash)
	cancel()
	if errors.Is(err, domain.ErrNotFound) {
		log.InfoContext(ctx, "key refused", "reason", "unknown")
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if err != nil {
		log.ErrorContext(ctx, "key store unavailable", "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("key store unavailable")
	}
	if !apikey.HashesEqual(hash, storedHash) {
		log.ErrorContext(ctx, "key store returned a different hash", "key_id", k.ID)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if status := k.Status(a.now()); status != keys.StatusActive {
		log.InfoContext(ctx, "key refused", "reason", string(status), "key_id", k.ID)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	lastUsed, expires := int64(0), int64(0)
	if k.LastUsedAt != nil {
		lastUsed = k.LastUsedAt.UnixMilli()
	}
	if k.ExpiresAt != nil {
		expires = k.ExpiresAt.UnixMilli()
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: k.ID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{WholeAPI(req.MethodArn)},
			}},
		},
		Context: map[string]any{
			authcontext.AccountID:   k.AccountID,
			authcontext.KeyID:       k.ID,
			authcontext.Scopes:      k.Scopes.String(),
			authcontext.RateLimitID: k.RateLimitID,
			authcontext.LastUsedAt:  strconv.FormatInt(lastUsed, 10),
			authcontext.ExpiresAt:   strconv.FormatInt(expires, 10),
		},
	}, nil
}

// WholeAPI turns a method ARN (arn:aws:execute-api:region:account:api/stage/
// METHOD/path) into one that covers every method and path of the API's stage.
// The policy is then right for any route, so a cached answer can be reused
// across routes; scopes are checked by each route's function.
func WholeAPI(methodArn string) string {
	arn, rest, ok := strings.Cut(methodArn, ":execute-api:")
	if !ok {
		return methodArn
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return methodArn
	}
	return arn + ":execute-api:" + parts[0] + "/" + parts[1] + "/*"
}

// headerValue returns the value of the header name, and single=false if the
// request carries it more than once (under one spelling or several). API
// Gateway puts the last value in Headers and all of them in
// MultiValueHeaders; both are read, so neither can hide a second value.
func headerValue(req events.APIGatewayCustomAuthorizerRequestTypeRequest, name string) (value string, single bool) {
	var values []string
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) {
			values = append(values, vs...)
		}
	}
	var fromSingle []string
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			fromSingle = append(fromSingle, v)
		}
	}
	switch {
	case len(values) == 0 && len(fromSingle) == 0:
		return "", true
	case len(values) == 0:
		return fromSingle[0], len(fromSingle) == 1
	case len(values) > 1 || len(fromSingle) > 1 || (len(fromSingle) == 1 && fromSingle[0] != values[0]):
		return "", false
	default:
		return values[0], true
	}
}

// Handler is the function's Lambda handler: Handle, or under `sam local`
// (which sets AWS_SAM_LOCAL=true in every function's container, and which
// Lambda itself never sets) ForSAMLocal(Handle).
func (a *Authorizer) Handler(getenv func(string) string) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if getenv("AWS_SAM_LOCAL") == "true" {
		return ForSAMLocal(a.Handle)
	}
	return a.Handle
}

// ForSAMLocal makes a refused key a 401 under `sam local start-api`. SAM has
// no gateway responses: it answers an authorizer's Unauthorized error with
// 502 {"message":"Internal server error"} and a Deny policy with its own 403.
// So a refusal is passed on as an Allow with no identity and
// authcontext.Refused set, and the route's pipeline, which refuses any
// request without an account (httpapi's identify), answers the contract's
// exact 401. A store failure stays an error (SAM's 502; AWS's 503).
func ForSAMLocal(handle func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		resp, err := handle(ctx, req)
		if !errors.Is(err, ErrUnauthorized) {
			return resp, err
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "refused",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action:   []string{"execute-api:Invoke"},
					Effect:   "Allow",
					Resource: []string{WholeAPI(req.MethodArn)},
				}},
			},
			Context: map[string]any{authcontext.Refused: "true"},
		}, nil
	}
}
