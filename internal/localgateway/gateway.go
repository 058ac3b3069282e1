// Package localgateway is API Gateway (REST) for one machine: for each request
// it matches the route table, builds the REQUEST authorizer event API Gateway
// would, applies the same gateway responses on deny, invokes the route's
// Lambda handler with the same proxy event (authorizer context included), and
// writes its response. So the code path under `make dev` is the Lambda code
// path, minus Lambda.
package localgateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Local stand-ins for what API Gateway puts in its events.
const (
	Stage     = "local"
	region    = "us-east-1"
	accountID = "000000000000"
	apiID     = "localapi"
	// maxPayloadBytes is API Gateway's own request limit (10 MB).
	maxPayloadBytes = 10 << 20
	// unauthorizedError is the error message by which a Lambda authorizer
	// tells API Gateway to answer 401 rather than 500.
	unauthorizedError = "Unauthorized"
)

// AuthorizerFunc is the REQUEST authorizer's Lambda handler.
type AuthorizerFunc func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Gateway serves the route table over HTTP.
type Gateway struct {
	functions  map[string]httpapi.LambdaHandler
	authorizer AuthorizerFunc
	logger     *slog.Logger
}

// New returns a Gateway that invokes functions[route.Function] for each route
// and authorize for every route that takes a key. Every route must have its
// function.
func New(functions map[string]httpapi.LambdaHandler, authorize AuthorizerFunc, logger *slog.Logger) (*Gateway, error) {
	for _, r := range routes.All {
		if functions[r.Function] == nil {
			return nil, fmt.Errorf("localgateway: no function for %s %s (%s)", r.Method, r.Path, r.Function)
		}
	}
	return &Gateway{functions: functions, authorizer: authorize, logger: logger}, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set(httpapi.HeaderRequestID, requestID)
	log := g.logger.With("request_id", requestID)
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in local gateway", "panic", fmt.Sprint(p))
			writeGatewayResponse(w, gatewayresponse.Default5XX, http.StatusBadGateway)
		}
	}()

	route, params, pathKnown := routes.Match(r.Method, r.URL.EscapedPath())
	if route == nil {
		if pathKnown {
			writeMethodNotAllowed(w, r.URL.EscapedPath())
			return
		}
		writeGatewayResponse(w, gatewayresponse.MissingAuthenticationToken, 0)
		return
	}
	if r.ContentLength > maxPayloadBytes {
		writeGatewayResponse(w, gatewayresponse.RequestTooLarge, 0)
		return
	}
	// Every function refuses a body over httpapi's limit, so no more than
	// that (and one byte to tell it is over) is read before the caller is
	// authenticated: a stranger cannot make this process hold 10 MB.
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.DefaultMaxBodyBytes+1))
	if err != nil {
		writeGatewayResponse(w, gatewayresponse.BadRequestBody, 0)
		return
	}

	requestContext := events.APIGatewayProxyRequestContext{
		AccountID:    accountID,
		ResourceID:   "local",
		Stage:        Stage,
		RequestID:    requestID,
		ResourcePath: route.Path,
		HTTPMethod:   r.Method,
		APIID:        apiID,
		// The path as the client sent it, as API Gateway gives it behind a
		// custom domain: the local API has no stage in its URLs, and
		// httpapi.PublicURL builds the links it returns from this.
		Path:             r.URL.Path,
		Protocol:         r.Proto,
		DomainName:       r.Host,
		Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
		RequestTime:      time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
		RequestTimeEpoch: time.Now().UnixMilli(),
	}
	r.Header.Set("X-Forwarded-Proto", "http") // as API Gateway sets it (https there)
	headers, multiHeaders := singleAndMulti(r.Header)
	// API Gateway sends null, not {}, for a request with no query string.
	var query map[string]string
	var multiQuery map[string][]string
	if values := queryValues(r.URL.RawQuery); len(values) > 0 {
		query, multiQuery = singleAndMulti(values)
	}

	if route.Authenticated() {
		// API Gateway does not call the authorizer when its identity source
		// (the x-api-key header) is absent: it answers 401 itself.
		if r.Header.Get(authcontext.HeaderAPIKey) == "" {
			writeGatewayResponse(w, gatewayresponse.Unauthorized, 0)
			return
		}
		methodArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", region, accountID, apiID, Stage, r.Method, r.URL.Path)
		resp, err := g.authorizer(r.Context(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: methodArn, Resource: route.Path, Path: r.URL.Path, HTTPMethod: r.Method,
			Headers: headers, MultiValueHeaders: multiHeaders,
			QueryStringParameters: query, MultiValueQueryStringParameters: multiQuery,
			PathParameters: params, StageVariables: map[string]string{},
			RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
				Path: requestContext.Path, AccountID: accountID, ResourceID: "local", Stage: Stage,
				RequestID: requestID, ResourcePath: route.Path, HTTPMethod: r.Method, APIID: apiID,
				Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: requestContext.Identity.SourceIP},
			},
		})
		switch {
		case err != nil && err.Error() == unauthorizedError:
			writeGatewayResponse(w, gatewayresponse.Unauthorized, 0)
			return
		case err != nil:
			log.Error("authorizer failed", "error", err)
			// API Gateway calls an authorizer that returned an error an
			// AUTHORIZER_CONFIGURATION_ERROR.
			writeGatewayResponse(w, gatewayresponse.AuthorizerConfigurationError, 0)
			return
		case !allows(resp.PolicyDocument, methodArn):
			writeGatewayResponse(w, gatewayresponse.AccessDenied, 0)
			return
		}
		requestContext.Authorizer = map[string]any{"principalId": resp.PrincipalID}
		for k, v := range resp.Context {
			// API Gateway hands context values to the integration as strings.
			requestContext.Authorizer[k] = fmt.Sprint(v)
		}
	}

	event := events.APIGatewayProxyRequest{
		Resource: route.Path, Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: headers, MultiValueHeaders: multiHeaders,
		QueryStringParameters: query, MultiValueQueryStringParameters: multiQuery,
		PathParameters: params, StageVariables: nil, RequestContext: requestContext,
	}
	if utf8.Valid(body) {
		event.Body = string(body)
	} else {
		event.Body, event.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	resp, err := g.functions[route.Function](r.Context(), event)
	if err != nil {
		log.Error("function failed", "function", route.Function, "error", err)
		writeGatewayResponse(w, gatewayresponse.Default5XX, http.StatusBadGateway)
		return
	}
	writeProxyResponse(w, resp)
}

func writeProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	// Headers are copied with the function's spelling, as API Gateway does.
	for k, v := range resp.Headers {
		w.Header()[k] = []string{v}
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header()[k] = append([]string(nil), vs...)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeGatewayResponse(w, gatewayresponse.Default5XX, http.StatusBadGateway)
			return
		}
		body = decoded
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// writeGatewayResponse answers as API Gateway's gateway response would.
// status is API Gateway's own status, used when the response keeps it.
func writeGatewayResponse(w http.ResponseWriter, gr gatewayresponse.Response, status int) {
	if gr.StatusCode != 0 {
		status = gr.StatusCode
	}
	w.Header().Set("Content-Type", "application/json")
	if gr.RetryAfter != 0 {
		w.Header().Set("Retry-After", fmt.Sprint(gr.RetryAfter))
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, gr.Body())
}

func writeMethodNotAllowed(w http.ResponseWriter, path string) {
	w.Header().Set("Allow", strings.Join(routes.AllowedMethods(path), ", "))
	writeGatewayResponse(w, gatewayresponse.MethodNotAllowed, 0)
}

// allows evaluates an authorizer policy for one method ARN the way API
// Gateway does for these simple policies: an explicit Deny wins, otherwise
// some Allow must match.
func allows(policy events.APIGatewayCustomAuthorizerPolicy, methodArn string) bool {
	allowed := false
	for _, st := range policy.Statement {
		for _, res := range st.Resource {
			if !arnMatches(res, methodArn) {
				continue
			}
			if strings.EqualFold(st.Effect, "Deny") {
				return false
			}
			if strings.EqualFold(st.Effect, "Allow") {
				allowed = true
			}
		}
	}
	return allowed
}

// arnMatches matches a policy resource against an ARN as IAM does: `*`
// stands for any run of characters (newlines included) and `?` for any one
// character; everything else matches itself. No regular expression: IAM's
// wildcards are not one, and a `.` in a regular expression stops at a newline.
func arnMatches(pattern, arn string) bool {
	p, s := []rune(pattern), []rune(arn)
	// The classic two-pointer glob match, with backtracking to the last star.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// singleAndMulti gives a header or query map in both of the proxy event's
// forms: the last value of each name, and all of them.
func singleAndMulti(values map[string][]string) (map[string]string, map[string][]string) {
	single := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range values {
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	return single, multi
}

// queryValues parses a query string as API Gateway hands it on: a value
// whose percent-encoding is broken (limit=%zz) is passed as it was sent, not
// dropped as url.ParseQuery drops it, so the function can refuse it.
func queryValues(raw string) map[string][]string {
	values := map[string][]string{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		values[unescapeOrRaw(name)] = append(values[unescapeOrRaw(name)], unescapeOrRaw(value))
	}
	return values
}

func unescapeOrRaw(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
