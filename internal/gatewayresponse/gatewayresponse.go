// Package gatewayresponse owns the bodies API Gateway itself answers with,
// before any route's function runs: a refused key, an unknown path, an
// authorizer that failed, a request over the stage's throttle or refused by
// the firewall. The CDK stack and template.yaml install them as Gateway
// Responses (and the firewall's rate rule as its custom response), and the
// local gateway answers with them, so a client sees the same envelope from
// all of them.
package gatewayresponse

import (
	"encoding/json"
	"fmt"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Response is one API Gateway gateway response in the contract's envelope.
type Response struct {
	// Type is API Gateway's gateway response type.
	Type string
	// StatusCode overrides API Gateway's status; 0 keeps it.
	StatusCode int
	Code       domain.Code
	Message    string
	// RetryAfter, when not 0, is the Retry-After header in seconds: a fixed
	// value, as the edge knows no counts (no X-RateLimit-* headers either).
	RetryAfter int
}

// The gateway responses the API installs.
//
// Every 4XX type API Gateway has either has its own entry below or belongs
// to a feature this API does not use, so DEFAULT_4XX answers nothing the
// stack can cause today: BAD_REQUEST_PARAMETERS (request validators check
// no parameters here), INVALID_API_KEY and QUOTA_EXCEEDED (API Gateway's own
// API keys and usage plans: the x-api-key header is this API's key, checked
// by the authorizer), EXPIRED_TOKEN and INVALID_SIGNATURE (IAM
// authorization), UNSUPPORTED_MEDIA_TYPE (strict passthrough; the functions
// answer 415 themselves). A change that turns one of them on gives it its
// entry. The 5XX types other than the authorizer's (API_CONFIGURATION_ERROR,
// INTEGRATION_FAILURE, INTEGRATION_TIMEOUT) are failures on our side and
// keep their status under DEFAULT_5XX's INTERNAL_ERROR body.
var (
	Unauthorized = Response{Type: "UNAUTHORIZED", StatusCode: 401, Code: domain.CodeUnauthorized, Message: domain.MessageUnauthorized}
	// API Gateway answers an unknown path (or method) with "Missing
	// Authentication Token"; the contract says 404.
	MissingAuthenticationToken = Response{Type: "MISSING_AUTHENTICATION_TOKEN", StatusCode: 404, Code: domain.CodeNotFound, Message: "The requested resource was not found"}
	// API Gateway found no resource for a request that passed the
	// authorizer: the same 404 as an unknown path.
	ResourceNotFound = Response{Type: "RESOURCE_NOT_FOUND", StatusCode: 404, Code: domain.CodeNotFound, Message: "The requested resource was not found"}
	AccessDenied     = Response{Type: "ACCESS_DENIED", StatusCode: 403, Code: domain.CodeForbidden, Message: domain.MessageForbidden}
	// The authorizer could not decide (its store could not be read):
	// authentication fails closed, and the client is told to come back.
	AuthorizerFailure = Response{Type: "AUTHORIZER_FAILURE", StatusCode: 503, Code: domain.CodeServiceUnavailable, Message: "The service is temporarily unavailable; retry shortly"}
	// The authorizer's Lambda returned an error (what it does when the key
	// store cannot be read), failed or timed out. API Gateway calls that a
	// configuration error and would answer 500 through DEFAULT_5XX; to the
	// client it is the same failure as AUTHORIZER_FAILURE.
	AuthorizerConfigurationError = Response{Type: "AUTHORIZER_CONFIGURATION_ERROR", StatusCode: 503, Code: domain.CodeServiceUnavailable, Message: AuthorizerFailure.Message}
	// The stage's throttle (or the account's) refused the request before
	// any function ran, so no key's counts are known: no X-RateLimit-*
	// headers, and Retry-After is the throttle's own refill of one second.
	Throttled = Response{Type: "THROTTLED", StatusCode: 429, Code: domain.CodeRateLimited,
		Message: "Rate limit exceeded. The API as a whole is receiving more requests than it admits; retry shortly.", RetryAfter: 1}
	// The firewall's managed rules blocked the request (deployments with
	// -c waf=true). Its rate rule answers with FirewallRateLimited instead.
	WAFFiltered     = Response{Type: "WAF_FILTERED", StatusCode: 403, Code: domain.CodeForbidden, Message: "The request was blocked by the API firewall"}
	RequestTooLarge = Response{Type: "REQUEST_TOO_LARGE", StatusCode: 413, Code: domain.CodePayloadTooLarge, Message: "The request body is too large"}
	// A request validator refused the body. None is installed (the
	// functions validate bodies with the contract's details); the local
	// gateway answers it for a body it could not read.
	BadRequestBody = Response{Type: "BAD_REQUEST_BODY", StatusCode: 400, Code: domain.CodeValidation, Message: "The request body is malformed"}
	// DEFAULT_4XX catches 4XX types without an entry of their own, none of
	// which this stack causes (see above). Its status is fixed at 403 so
	// that code and status agree whatever the type: the gateway refused the
	// request.
	Default4XX = Response{Type: "DEFAULT_4XX", StatusCode: 403, Code: domain.CodeForbidden, Message: "The request was refused by the API gateway"}
	// DEFAULT_5XX keeps the status API Gateway chose (StatusCode 0) and only
	// puts the body in the envelope.
	Default5XX = Response{Type: "DEFAULT_5XX", Code: domain.CodeInternal, Message: "An internal error occurred"}
)

// MethodNotAllowed answers a known path whose routes do not take the
// request's method. It is not one of API Gateway's response types: in AWS an
// ANY method with a MOCK integration on each path gives it, so no Lambda runs.
var MethodNotAllowed = Response{StatusCode: 405, Code: domain.CodeMethodNotAllowed, Message: "This method is not allowed on this resource"}

// Headers are put on every gateway response, as API Gateway mapping
// expressions: every response of the API carries its request id.
var Headers = map[string]string{"X-Request-Id": "context.requestId"}

// All lists every gateway response the API installs.
var All = []Response{
	Unauthorized, MissingAuthenticationToken, ResourceNotFound, AccessDenied,
	AuthorizerFailure, AuthorizerConfigurationError, Throttled, WAFFiltered,
	RequestTooLarge, BadRequestBody, Default4XX, Default5XX,
}

// FirewallRateWindowSeconds is the window of the firewall's per-IP rate rule.
// One minute, so its limit reads like the contract's ("per minute").
const FirewallRateWindowSeconds = 60

// FirewallRateLimited is what the firewall's per-IP rate rule answers (a WAF
// custom response, not a gateway response) when one source IP sends more than
// perMinute requests in a minute. WAF custom responses are static: no
// X-RateLimit-* headers and no X-Request-Id; Retry-After is the rule's
// window, after which an IP that stopped is counted afresh.
func FirewallRateLimited(perMinute int) Response {
	return Response{
		StatusCode: 429, Code: domain.CodeRateLimited,
		Message:    fmt.Sprintf("Rate limit exceeded. Limit: %d requests per minute per source IP.", perMinute),
		RetryAfter: FirewallRateWindowSeconds,
	}
}

// Body returns the response's JSON body in the contract's error envelope.
func (r Response) Body() string {
	type errorBody struct {
		Code    domain.Code `json:"code"`
		Message string      `json:"message"`
	}
	body, err := json.Marshal(struct {
		Success bool      `json:"success"`
		Error   errorBody `json:"error"`
	}{false, errorBody{r.Code, r.Message}})
	if err != nil {
		panic(err) // static strings always marshal
	}
	return string(body)
}

// ResponseHeaders returns the headers of the gateway response as API Gateway
// mapping expressions: Headers, and Retry-After as a static value when the
// response has one.
func (r Response) ResponseHeaders() map[string]string {
	out := make(map[string]string, len(Headers)+1)
	for name, value := range Headers {
		out[name] = value
	}
	if r.RetryAfter != 0 {
		out["Retry-After"] = fmt.Sprintf("'%d'", r.RetryAfter)
	}
	return out
}
