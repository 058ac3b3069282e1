// Package contract holds an exchange (a request and the API's answer) to the
// OpenAPI document of package openapi. Tests and test harnesses use it; no
// Lambda links it, so it may depend on a full validator.
//
// It uses github.com/getkin/kin-openapi, which validates OpenAPI 3.1 schemas
// as JSON Schema 2020-12 (type arrays such as [string, "null"], const,
// additionalProperties: false), and adds what kin-openapi leaves out: a status
// the operation does not document, a header it does not document, and the
// answers the gateway gives to requests that match no operation.
//
// Security is not validated: whether a key is good is the server's business,
// and a 401 is a documented answer like any other.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/workflowsapi/workflows/internal/openapi"
)

// ErrNoOperation is what Check returns (wrapped) for a request that matches
// no operation of the document, an unknown path or a method a path does not
// take, when the answer is the gateway's 404 NOT_FOUND or 405
// METHOD_NOT_ALLOWED (with an Allow header naming the path's methods). The
// document does not cover such exchanges; the caller decides whether they
// are expected. Any other answer to such a request is a *ResponseError.
var ErrNoOperation = errors.New("contract: the request matches no operation of the document")

// RequestError reports a request outside the contract. Harnesses that send
// bad requests on purpose (expecting 400, 413 or 415) expect it; the answer
// to the request was within the contract, or Check would have returned a
// *ResponseError instead.
type RequestError struct {
	Method, Path string
	Operation    string // the operationId
	Err          error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("contract: the request %s %s (%s) is outside the contract: %v", e.Method, e.Path, e.Operation, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// ResponseError reports an answer outside the contract: the server's fault,
// whatever the request was.
type ResponseError struct {
	Method, Path string
	Operation    string // the operationId; empty when no operation matched
	Status       int
	Err          error
	// RequestProblem is set when the request was outside the contract too.
	// It is context for the reader, not a cause: errors.As(err,
	// **RequestError) does not match a ResponseError, so a harness that
	// tolerates bad requests still fails on a bad answer.
	RequestProblem *RequestError
}

func (e *ResponseError) Error() string {
	op := e.Operation
	if op == "" {
		op = "no operation"
	}
	msg := fmt.Sprintf("contract: the answer %d to %s %s (%s) is outside the contract: %v", e.Status, e.Method, e.Path, op, e.Err)
	if e.RequestProblem != nil {
		msg += fmt.Sprintf(" (and the request was outside it too: %v)", e.RequestProblem.Err)
	}
	return msg
}

func (e *ResponseError) Unwrap() error { return e.Err }

// Validator checks exchanges against the document. It is safe for concurrent
// use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads the document of package openapi and checks it is a valid
// OpenAPI document.
func New() (*Validator, error) {
	return load(openapi.JSON())
}

// textBodies are the text media types the document answers with besides
// JSON (the console's page and assets). kin-openapi decodes only the types
// registered with it, and refuses a body of any other type, so these are
// registered as plain text: their schema is {type: string}.
var textBodies = []string{"text/html", "text/javascript", "text/css"}

var registerTextBodies = sync.OnceFunc(func() {
	for _, mediaType := range textBodies {
		if openapi3filter.RegisteredBodyDecoder(mediaType) == nil {
			openapi3filter.RegisterBodyDecoder(mediaType, openapi3filter.PlainBodyDecoder)
		}
	}
})

func load(document []byte) (*Validator, error) {
	registerTextBodies()
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("contract: load the document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: the document is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: route the document: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// OperationID names the operation a request is for (its method and its full
// path, /api/v1/…), or returns an error wrapping ErrNoOperation. Harnesses
// use it to tell which operations their traffic covered.
func (v *Validator) OperationID(req *http.Request) (string, error) {
	route, _, err := v.router.FindRoute(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s %s", ErrNoOperation, req.Method, req.URL.Path)
	}
	return route.Operation.OperationID, nil
}

// Check holds one exchange to the document. req.URL.Path is the full path
// (/api/v1/…; against a deployed stage, without the stage's prefix); reqBody
// and respBody are the bodies as sent (req.Body and resp.Body are not read). It returns nil for an exchange within the
// contract; a *ResponseError when the answer is outside it (an undocumented
// status, a body that does not match its schema, including a field the
// schema does not list, an undocumented X-…, Retry-After, Location or Allow
// header, a missing required header); else a *RequestError when only the
// request is outside it; or an error wrapping ErrNoOperation (see there).
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	// http.Header lookups expect canonical names; a response written through
	// a ResponseRecorder keeps the server's spelling (X-RateLimit-Limit), so
	// the headers are canonicalized first.
	header := canonical(resp.Header)
	req = withoutTrailingSlash(req)
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		return v.checkNoOperation(req, resp.StatusCode, header, respBody, err)
	}
	op := route.Operation

	reqErr := v.checkRequest(req, reqBody, route, pathParams)

	respErr := v.checkResponse(req, reqBody, route, pathParams, resp.StatusCode, header, respBody)
	if respErr != nil {
		return &ResponseError{
			Method: req.Method, Path: req.URL.Path, Operation: op.OperationID, Status: resp.StatusCode,
			Err: respErr, RequestProblem: reqErr,
		}
	}
	if reqErr != nil {
		return reqErr
	}
	return nil
}

func (v *Validator) checkRequest(req *http.Request, body []byte, route *routers.Route, pathParams map[string]string) *RequestError {
	input := &openapi3filter.RequestValidationInput{
		Request:    withBody(req, body),
		PathParams: pathParams,
		Route:      route,
		Options:    requestOptions(),
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		return &RequestError{Method: req.Method, Path: req.URL.Path, Operation: route.Operation.OperationID, Err: err}
	}
	return nil
}

func requestOptions() *openapi3filter.Options {
	o := &openapi3filter.Options{
		// The validator must not judge keys: every operation documents
		// its 401.
		AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
	}
	o.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return o
}

func (v *Validator) checkResponse(req *http.Request, reqBody []byte, route *routers.Route, pathParams map[string]string, status int, header http.Header, body []byte) error {
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not documented for %s (documented: %s)", status, route.Operation.OperationID, documentedStatuses(route.Operation))
	}
	response := ref.Value

	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(schemaErrorMessage)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: withBody(req, reqBody), PathParams: pathParams, Route: route,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return err
	}
	// kin-openapi skips the body when the answer documents no content.
	if len(response.Content) == 0 && len(bytes.TrimSpace(body)) > 0 {
		return fmt.Errorf("status %d documents no body, yet it has one", status)
	}
	return undocumentedHeaders(header, response.Headers)
}

// checkNoOperation accepts the gateway's own answer to a request the document
// does not cover: 404 for an unknown path, 405 with Allow for a known path
// and another method, each in the error envelope with a request id.
func (v *Validator) checkNoOperation(req *http.Request, status int, header http.Header, body []byte, routeErr error) error {
	fail := func(err error) error {
		return &ResponseError{Method: req.Method, Path: req.URL.Path, Status: status, Err: err}
	}
	wantStatus, wantCode := http.StatusNotFound, "NOT_FOUND"
	var allowed []string
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		wantStatus, wantCode = http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"
		allowed = v.allowedMethods(req)
	}
	if status != wantStatus {
		return fail(fmt.Errorf("no operation matches (%v), so the answer must be the gateway's %d, not %d", routeErr, wantStatus, status))
	}
	if err := v.checkErrorBody(body, wantCode); err != nil {
		return fail(err)
	}
	if header.Get("X-Request-Id") == "" {
		return fail(errors.New(`response header "X-Request-Id" missing`))
	}
	documented := openapi3.Headers{"X-Request-Id": &openapi3.HeaderRef{}}
	if allowed != nil {
		var got []string
		for _, m := range strings.Split(header.Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "" {
				got = append(got, m)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, allowed) {
			return fail(fmt.Errorf("the Allow header is %q, the path takes %s", header.Get("Allow"), strings.Join(allowed, ", ")))
		}
		documented["Allow"] = &openapi3.HeaderRef{}
	}
	if err := undocumentedHeaders(header, documented); err != nil {
		return fail(err)
	}
	return fmt.Errorf("%w: %s %s (answered %d)", ErrNoOperation, req.Method, req.URL.Path, status)
}

// allowedMethods lists, sorted, the methods the document has operations for
// on the request's path.
func (v *Validator) allowedMethods(req *http.Request) []string {
	var out []string
	for _, m := range []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"} {
		probe := req.Clone(context.Background())
		probe.Method = m
		if _, _, err := v.router.FindRoute(probe); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func (v *Validator) checkErrorBody(body []byte, wantCode string) error {
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	envelope := v.doc.Components.Schemas["ErrorEnvelope"].Value
	if err := envelope.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("the body is not the error envelope: %w", err)
	}
	if code := value.(map[string]any)["error"].(map[string]any)["code"]; code != wantCode {
		return fmt.Errorf("error code %v, want %s", code, wantCode)
	}
	return nil
}

// Headers the API neither sets nor documents, which AWS puts on answers:
// API Gateway's x-amzn-RequestId, x-amz-apigw-id and X-Amzn-Trace-Id, and
// CloudFront's X-Amz-Cf-Id, X-Amz-Cf-Pop and X-Cache on edge-optimized
// endpoints. Holding the document to them would fail every deployed exchange.
var infrastructureHeaderPrefixes = []string{"X-Amz", "X-Cache"}

// undocumentedHeaders fails on a header the contract controls (X-…,
// Retry-After, Location, Allow) that the answer does not document. Other
// headers (Content-Type, Date, Content-Length) are HTTP's, not the API's.
func undocumentedHeaders(header http.Header, documented openapi3.Headers) error {
	var extra []string
	for name := range header {
		if !controlled(name) {
			continue
		}
		found := false
		for d := range documented {
			if strings.EqualFold(d, name) {
				found = true
				break
			}
		}
		if !found {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("response headers %s are not documented for this answer", strings.Join(extra, ", "))
	}
	return nil
}

func controlled(name string) bool {
	name = http.CanonicalHeaderKey(name)
	for _, p := range infrastructureHeaderPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	switch name {
	case "Retry-After", "Location", "Allow":
		return true
	}
	return strings.HasPrefix(name, "X-")
}

func documentedStatuses(op *openapi3.Operation) string {
	var out []string
	for code := range op.Responses.Map() {
		out = append(out, code)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func canonical(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, values := range h {
		key := http.CanonicalHeaderKey(name)
		out[key] = append(out[key], values...)
	}
	return out
}

// withBody gives the validator its own copy of the request with the body as
// sent, so that neither validation reads (or closes) the caller's.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// schemaErrorMessage keeps schema errors to a line naming the field:
// kin-openapi's default prints the whole schema and value. An error that
// wraps the JSON Schema 2020-12 validator's (Origin set) keeps the default,
// which is that validator's own short account of each failing field.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	if err.Origin != nil {
		return ""
	}
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// withoutTrailingSlash matches a path with a trailing slash as the path
// without it, as API Gateway REST and the local gateway serve it.
func withoutTrailingSlash(req *http.Request) *http.Request {
	if len(req.URL.Path) <= 1 || !strings.HasSuffix(req.URL.Path, "/") {
		return req
	}
	trimmed := req.Clone(req.Context())
	trimmed.URL.Path = strings.TrimSuffix(req.URL.Path, "/")
	trimmed.URL.RawPath = ""
	return trimmed
}
