// Package gatewayresponse owns the bodies API Gateway itself answers with,
// before any route's function runs: a refused key, an unknown path, an
// authorizer that failed. The CDK stack and template.yaml install them as
// Gateway Responses and the local gateway answers with them, so a client sees
// the same envelope from both.
package gatewayresponse

import (
	"encoding/json"

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
}

// The gateway responses the API installs.
var (
	Unauthorized = Response{"UNAUTHORIZED", 401, domain.CodeUnauthorized, domain.MessageUnauthorized}
	// API Gateway answers an unknown path (or method) with "Missing
	// Authentication Token"; the contract says 404.
	MissingAuthenticationToken = Response{"MISSING_AUTHENTICATION_TOKEN", 404, domain.CodeNotFound, "The requested resource was not found"}
	AccessDenied               = Response{"ACCESS_DENIED", 403, domain.CodeForbidden, domain.MessageForbidden}
	// The authorizer failed (its store could not be read): authentication
	// fails closed, and the client is told to come back.
	AuthorizerFailure = Response{"AUTHORIZER_FAILURE", 503, domain.CodeServiceUnavailable, "The service is temporarily unavailable; retry shortly"}
	Throttled         = Response{"THROTTLED", 429, domain.CodeRateLimited, "Too many requests"}
	RequestTooLarge   = Response{"REQUEST_TOO_LARGE", 413, domain.CodePayloadTooLarge, "The request body is too large"}
	// The defaults keep the status API Gateway chose (StatusCode 0) and only
	// put the body in the envelope.
	Default4XX = Response{"DEFAULT_4XX", 0, domain.CodeValidation, "The request could not be processed"}
	Default5XX = Response{"DEFAULT_5XX", 0, domain.CodeInternal, "An internal error occurred"}
)

// MethodNotAllowed answers a known path whose routes do not take the
// request's method. It is not one of API Gateway's response types: in AWS an
// ANY method with a MOCK integration on each path gives it, so no Lambda runs.
var MethodNotAllowed = Response{"", 405, domain.CodeMethodNotAllowed, "This method is not allowed on this resource"}

// Headers are put on every gateway response, as API Gateway mapping
// expressions: every response of the API carries its request id.
var Headers = map[string]string{"X-Request-Id": "context.requestId"}

// All lists every gateway response the API installs.
var All = []Response{Unauthorized, MissingAuthenticationToken, AccessDenied, AuthorizerFailure, Throttled, RequestTooLarge, Default4XX, Default5XX}

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
