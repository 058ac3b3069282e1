package openapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/openapi/contract"
)

// exchange is one request and its answer, written by hand: these are unit
// tests of the validator, not of the server.
type exchange struct {
	method, path string
	reqHeader    http.Header
	reqBody      string
	status       int
	respHeader   http.Header
	respBody     string
}

// limited is the headers of an answer to a key that went through the
// limiter, spelled as the server spells them (not canonical), as a
// ResponseRecorder keeps them.
func limited(extra ...string) http.Header {
	h := public()
	h["X-Key-Scopes"] = []string{"workflows:read, keys:read, keys:write"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = []string{extra[i+1]}
	}
	return h
}

// public is the headers of an answer that went through the limiter on an
// operation that takes no key.
func public() http.Header {
	h := http.Header{}
	h["X-Request-Id"] = []string{"3f1c2a9e-0d4b-4c55-9e0a-6b7d8c9e0f12"}
	h["X-RateLimit-Limit"] = []string{"1000"}
	h["X-RateLimit-Remaining"] = []string{"999"}
	h["X-RateLimit-Reset"] = []string{"1795800060"}
	h["Content-Type"] = []string{"application/json"}
	return h
}

// console is the headers of an answer of the console, with contentType.
func console(contentType string, extra ...string) http.Header {
	h := public()
	h["Content-Type"] = []string{contentType}
	h["Content-Security-Policy"] = []string{"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Referrer-Policy"] = []string{"no-referrer"}
	h["X-Frame-Options"] = []string{"DENY"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = []string{extra[i+1]}
	}
	return h
}

const consoleETag = `"0123456789abcdef0123456789abcdef"`

// gateway is the headers of an answer API Gateway gives before the limiter.
func gateway() http.Header {
	return http.Header{"X-Request-Id": {"3f1c2a9e-0d4b-4c55-9e0a-6b7d8c9e0f12"}, "Content-Type": {"application/json"}}
}

func without(h http.Header, name string) http.Header {
	h = h.Clone()
	delete(h, name)
	return h
}

func jsonBody() http.Header { return http.Header{"Content-Type": {"application/json"}} }

const (
	keyView = `{"id":"key_01m8f3kh97fqjtzndq2504gybq","name":"Production API Key","prefix":"wfk_c1ic",` +
		`"scopes":["workflows:read","workflows:write"],"createdAt":"2026-11-27T18:17:12.231Z",` +
		`"lastUsedAt":null,"expiresAt":"2027-01-01T00:00:00.000Z","status":"active"}`
	newKey = `{"id":"key_01m8f3kh97fqjtzndq2504gybq","name":"Production API Key","prefix":"wfk_c1ic",` +
		`"scopes":["workflows:read"],"createdAt":"2026-11-27T18:17:12.231Z","lastUsedAt":null,` +
		`"expiresAt":null,"status":"active","key":"wfk_c1ic99t51f9wswq6lsocfwkyu92lmx8h"}`
	rolledKey = `{"id":"key_01m8f71cx7msgv33p2fy6363qs","name":"Production API Key","prefix":"wfk_61wa",` +
		`"scopes":["workflows:read"],"createdAt":"2026-11-27T19:17:12.231Z","lastUsedAt":null,` +
		`"expiresAt":null,"status":"active","key":"wfk_61waivv5mybv3mskth5d2ftaxtpwtaec",` +
		`"rolledFrom":"key_01m8f3kh97fqjtzndq2504gybq"}`
	keysPath = "/api/v1/auth/api-keys"
)

func errorBody(code, message string) string {
	return `{"success":false,"error":{"code":"` + code + `","message":"` + message + `"}}`
}

func (e exchange) check(t *testing.T, v *contract.Validator) error {
	t.Helper()
	req := httptest.NewRequest(e.method, "http://localhost:3000"+e.path, strings.NewReader(e.reqBody))
	for k, vs := range e.reqHeader {
		req.Header[k] = vs
	}
	resp := &http.Response{StatusCode: e.status, Header: e.respHeader}
	return v.Check(req, []byte(e.reqBody), resp, []byte(e.respBody))
}

// outcome names the kind of result Check gave.
func outcome(err error) string {
	var respErr *contract.ResponseError
	var reqErr *contract.RequestError
	switch {
	case err == nil:
		return "within the contract"
	case errors.As(err, &respErr):
		return "an answer outside the contract"
	case errors.As(err, &reqErr):
		return "a request outside the contract"
	case errors.Is(err, contract.ErrNoOperation):
		return "no operation"
	default:
		return "an unexpected error"
	}
}

const (
	within      = "within the contract"
	badAnswer   = "an answer outside the contract"
	badRequest  = "a request outside the contract"
	noOperation = "no operation"
)

func TestTheContractValidator(t *testing.T) {
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	list := `{"success":true,"data":[` + keyView + `],"meta":{"nextCursor":null}}`
	tests := []struct {
		name string
		exchange
		want string
	}{
		{"accepts a page of keys with every header", exchange{
			method: "GET", path: keysPath + "?limit=10", status: 200, respHeader: limited(), respBody: list}, within},
		{"accepts a next cursor as a string", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(),
			respBody: `{"success":true,"data":[],"meta":{"nextCursor":"abc"}}`}, within},
		{"accepts a created key with its Location", exchange{
			method: "POST", path: keysPath, reqHeader: jsonBody(), reqBody: `{"name":"Production API Key","scopes":["workflows:read"]}`,
			status: 201, respHeader: limited("Location", keysPath+"/key_01m8f3kh97fqjtzndq2504gybq"),
			respBody: `{"success":true,"data":` + newKey + `}`}, within},
		{"accepts a rolled key naming the key it replaces", exchange{
			method: "POST", path: keysPath + "/key_01m8f3kh97fqjtzndq2504gybq/roll", status: 201, respHeader: limited(),
			respBody: `{"success":true,"data":` + rolledKey + `}`}, within},
		{"accepts the gateway's 401 with only a request id", exchange{
			method: "GET", path: keysPath, status: 401, respHeader: gateway(),
			respBody: errorBody("UNAUTHORIZED", "Invalid or missing API key")}, within},
		{"accepts a 429 with Retry-After", exchange{
			method: "DELETE", path: keysPath + "/key_01m8f3kh97fqjtzndq2504gybq", status: 429,
			respHeader: limited("Retry-After", "12"),
			respBody:   errorBody("RATE_LIMITED", "Rate limit exceeded. Limit: 100 requests per minute.")}, within},

		{"rejects an undocumented status", exchange{
			method: "GET", path: keysPath, status: 409, respHeader: limited(),
			respBody: errorBody("CONFLICT", "no")}, badAnswer},
		{"rejects an undocumented field in a response body", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(),
			respBody: strings.Replace(list, `"status":"active"`, `"status":"active","hash":"0f0f"`, 1)}, badAnswer},
		{"rejects an undocumented field in the envelope", exchange{
			method: "DELETE", path: keysPath + "/key_01m8f3kh97fqjtzndq2504gybq", status: 200, respHeader: limited(),
			respBody: `{"success":true,"data":` + keyView + `,"meta":{"nextCursor":null}}`}, badAnswer},
		{"rejects the plaintext key in a listing", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(),
			respBody: `{"success":true,"data":[` + newKey + `],"meta":{"nextCursor":null}}`}, badAnswer},
		{"rejects an undocumented X- header", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited("X-Debug-Account", "acct_1"), respBody: list}, badAnswer},
		{"rejects Retry-After on an answer that is not a 429", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited("Retry-After", "1"), respBody: list}, badAnswer},
		{"rejects rate-limit headers on the gateway's 401", exchange{
			method: "GET", path: keysPath, status: 401, respHeader: limited(),
			respBody: errorBody("UNAUTHORIZED", "Invalid or missing API key")}, badAnswer},
		{"rejects a missing X-Request-Id", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: without(limited(), "X-Request-Id"), respBody: list}, badAnswer},
		{"rejects a missing rate-limit header on a 403", exchange{
			method: "GET", path: keysPath, status: 403, respHeader: without(limited(), "X-RateLimit-Reset"),
			respBody: errorBody("FORBIDDEN", "Insufficient permissions for this operation")}, badAnswer},
		{"rejects a created key without its Location", exchange{
			method: "POST", path: keysPath, reqHeader: jsonBody(), reqBody: `{"name":"n","scopes":["runs:read"]}`,
			status: 201, respHeader: limited(), respBody: `{"success":true,"data":` + newKey + `}`}, badAnswer},
		{"rejects a 429 without Retry-After", exchange{
			method: "GET", path: keysPath, status: 429, respHeader: limited(),
			respBody: errorBody("RATE_LIMITED", "Rate limit exceeded. Limit: 1000 requests per minute.")}, badAnswer},
		{"rejects a rate-limit header that is not an integer", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited("X-RateLimit-Remaining", "many"), respBody: list}, badAnswer},
		{"rejects lastUsedAt that is neither a timestamp nor null", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(),
			respBody: strings.Replace(list, `"lastUsedAt":null`, `"lastUsedAt":0`, 1)}, badAnswer},
		{"rejects a timestamp that is not UTC with milliseconds", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(),
			respBody: strings.Replace(list, `2026-11-27T18:17:12.231Z`, `2026-11-27T19:17:12+01:00`, 1)}, badAnswer},
		{"rejects an error code that does not belong to the status", exchange{
			method: "DELETE", path: keysPath + "/key_nonsense", status: 404, respHeader: limited(),
			respBody: errorBody("FORBIDDEN", "Insufficient permissions for this operation")}, badAnswer},
		{"rejects a 401 message other than the authentication page's", exchange{
			method: "GET", path: keysPath, status: 401, respHeader: gateway(),
			respBody: errorBody("UNAUTHORIZED", "Unauthorized")}, badAnswer},
		{"rejects a body that is not JSON", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited(), respBody: `<html>`}, badAnswer},
		{"rejects a 501 from a route that is built (every route is, now)", exchange{
			method: "GET", path: "/api/v1/runs", status: 501, respHeader: limited(),
			respBody: errorBody("NOT_IMPLEMENTED", "This endpoint is not available yet")}, badAnswer},

		{"tells a bad query answered 400 from a bad answer", exchange{
			method: "GET", path: keysPath + "?limit=0", status: 400, respHeader: limited(),
			respBody: `{"success":false,"error":{"code":"VALIDATION_ERROR","message":"limit: must be an integer from 1 to 100",` +
				`"details":[{"field":"limit","message":"must be an integer from 1 to 100"}]}}`}, badRequest},
		{"tells an unknown body field answered 400 from a bad answer", exchange{
			method: "POST", path: keysPath, reqHeader: jsonBody(), reqBody: `{"name":"x","scopes":["runs:read"],"admin":true}`,
			status: 400, respHeader: limited(), respBody: errorBody("VALIDATION_ERROR", "admin: is not a known field")}, badRequest},
		{"tells a text body answered 415 from a bad answer", exchange{
			method: "POST", path: keysPath, reqHeader: http.Header{"Content-Type": {"text/plain"}}, reqBody: `{"name":"x","scopes":["runs:read"]}`,
			status: 415, respHeader: limited(), respBody: errorBody("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json")}, badRequest},
		{"blames the server when a bad request gets a bad answer", exchange{
			method: "GET", path: keysPath + "?limit=0", status: 200, respHeader: limited("X-Debug", "1"), respBody: list}, badAnswer},

		{"rejects an answer to a key without X-Key-Scopes", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: without(limited(), "X-Key-Scopes"), respBody: list}, badAnswer},
		{"rejects a 403 without X-Key-Scopes", exchange{
			method: "GET", path: keysPath, status: 403, respHeader: without(limited(), "X-Key-Scopes"),
			respBody: errorBody("FORBIDDEN", "Insufficient permissions for this operation")}, badAnswer},
		{"rejects X-Key-Scopes on the gateway's 401", exchange{
			method: "GET", path: keysPath, status: 401, respHeader: func() http.Header { h := gateway(); h.Set("X-Key-Scopes", "keys:read"); return h }(),
			respBody: errorBody("UNAUTHORIZED", "Invalid or missing API key")}, badAnswer},
		{"rejects X-Key-Scopes that is not a list of scopes", exchange{
			method: "GET", path: keysPath, status: 200, respHeader: limited("X-Key-Scopes", "keys:read,keys:write"), respBody: list}, badAnswer},

		{"accepts the console's page at the root", exchange{
			method: "GET", path: "/console", status: 200,
			respHeader: console("text/html; charset=utf-8", "ETag", consoleETag, "Cache-Control", "no-cache"), respBody: "<!doctype html>"}, within},
		{"accepts the console's 304", exchange{
			method: "GET", path: "/console", reqHeader: http.Header{"If-None-Match": {consoleETag}}, status: 304,
			respHeader: without(console("", "ETag", consoleETag, "Cache-Control", "no-cache"), "Content-Type")}, within},
		{"accepts the console's redirect from a trailing slash", exchange{
			method: "GET", path: "/console/", status: 308, respHeader: without(console("", "Location", "../console"), "Content-Type")}, within},
		{"accepts a console script", exchange{
			method: "GET", path: "/console/console.0123456789ab.js", status: 200,
			respHeader: console("text/javascript; charset=utf-8", "ETag", consoleETag, "Cache-Control", "public, max-age=31536000, immutable"),
			respBody:   "'use strict';"}, within},
		{"accepts a console stylesheet", exchange{
			method: "GET", path: "/console/console.0123456789ab.css", status: 200,
			respHeader: console("text/css; charset=utf-8", "ETag", consoleETag, "Cache-Control", "public, max-age=31536000, immutable"),
			respBody:   "body{}"}, within},
		{"accepts a console 404 in the envelope", exchange{
			method: "GET", path: "/console/console.js", status: 404, respHeader: console("application/json"),
			respBody: errorBody("NOT_FOUND", "The resource was not found")}, within},
		{"rejects the console's page without its security headers", exchange{
			method: "GET", path: "/console", status: 200,
			respHeader: without(console("text/html", "ETag", consoleETag, "Cache-Control", "no-cache"), "Content-Security-Policy"), respBody: "<html>"}, badAnswer},
		{"rejects a console page with another policy", exchange{
			method: "GET", path: "/console", status: 200,
			respHeader: console("text/html", "ETag", consoleETag, "Cache-Control", "no-cache", "Content-Security-Policy", "default-src *"), respBody: "<html>"}, badAnswer},
		{"rejects a console asset kept for less than a year", exchange{
			method: "GET", path: "/console/console.0123456789ab.js", status: 200,
			respHeader: console("text/javascript", "ETag", consoleETag, "Cache-Control", "no-cache"), respBody: "1"}, badAnswer},
		{"rejects the console page as JSON", exchange{
			method: "GET", path: "/console", status: 200,
			respHeader: console("application/json", "ETag", consoleETag, "Cache-Control", "no-cache"), respBody: "{}"}, badAnswer},
		{"rejects X-Key-Scopes on the console", exchange{
			method: "GET", path: "/console", status: 200,
			respHeader: console("text/html", "ETag", consoleETag, "Cache-Control", "no-cache", "X-Key-Scopes", "keys:read"), respBody: "<html>"}, badAnswer},
		{"reports the console under the base path as no operation", exchange{
			method: "GET", path: "/api/v1/console", status: 404, respHeader: gateway(),
			respBody: errorBody("NOT_FOUND", "The requested resource was not found")}, noOperation},

		{"reports an unknown path answered 404 by the gateway as no operation", exchange{
			method: "GET", path: "/api/v1/nothing-here", status: 404, respHeader: gateway(),
			respBody: errorBody("NOT_FOUND", "The requested resource was not found")}, noOperation},
		{"rejects rate-limit headers on the gateway's 405", exchange{
			method: "PATCH", path: "/api/v1/workflows", status: 405, respHeader: without(limited("Allow", "GET, POST"), "X-RateLimit-Limit"),
			respBody: errorBody("METHOD_NOT_ALLOWED", "This method is not allowed on this resource")}, badAnswer},
		{"reports a wrong method answered 405 by the gateway as no operation", exchange{
			method: "PATCH", path: "/api/v1/workflows", status: 405, respHeader: func() http.Header { h := gateway(); h.Set("Allow", "GET, POST"); return h }(),
			respBody: errorBody("METHOD_NOT_ALLOWED", "This method is not allowed on this resource")}, noOperation},
		{"rejects a 405 whose Allow leaves out a method of the path", exchange{
			method: "PATCH", path: "/api/v1/workflows", status: 405, respHeader: func() http.Header { h := gateway(); h.Set("Allow", "GET"); return h }(),
			respBody: errorBody("METHOD_NOT_ALLOWED", "This method is not allowed on this resource")}, badAnswer},
		{"rejects an unknown path answered anything but 404", exchange{
			method: "GET", path: "/api/v1/nothing-here", status: 200, respHeader: limited(), respBody: list}, badAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(t, v)
			if got := outcome(err); got != tt.want {
				t.Fatalf("got %s, want %s: %v", got, tt.want, err)
			}
		})
	}

	t.Run("names the request's problem in the error of a bad answer to a bad request", func(t *testing.T) {
		err := exchange{method: "GET", path: keysPath + "?limit=0", status: 200, respHeader: limited("X-Debug", "1"), respBody: list}.check(t, v)
		var respErr *contract.ResponseError
		if !errors.As(err, &respErr) || respErr.RequestProblem == nil || respErr.Operation != "list-api-keys" {
			t.Fatalf("%#v", err)
		}
	})
	t.Run("names the operation of a request", func(t *testing.T) {
		id, err := v.OperationID(httptest.NewRequest("POST", keysPath+"/key_01m8f3kh97fqjtzndq2504gybq/roll", nil))
		if err != nil || id != "roll-api-key" {
			t.Fatalf("%q %v", id, err)
		}
		if _, err := v.OperationID(httptest.NewRequest("GET", "/api/v1/nothing-here", nil)); !errors.Is(err, contract.ErrNoOperation) {
			t.Fatalf("an unknown path: %v", err)
		}
	})
}
