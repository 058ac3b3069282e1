package gatewaytest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/workflowsapi/workflows/internal/openapi/contract"
)

var (
	validatorOnce sync.Once
	validator     *contract.Validator
	validatorErr  error
)

// checkContract holds every exchange that passes through the harness to the
// OpenAPI document: an answer with a status, field or header the document
// does not give fails the test that caused it. A request outside the
// contract is the test's own doing (tests send bad bodies on purpose), so
// only the answer to it is held, as are requests that match no operation
// (the gateway's 404 and 405, which contract checks itself).
func checkContract(tb testing.TB, next http.Handler) http.Handler {
	validatorOnce.Do(func() { validator, validatorErr = contract.New() })
	if validatorErr != nil {
		tb.Fatalf("load the OpenAPI document: %v", validatorErr)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)

		sent := r.Clone(r.Context())
		sent.Body = io.NopCloser(bytes.NewReader(body))
		resp := &http.Response{StatusCode: rec.status, Header: w.Header().Clone(), Request: sent}
		err := validator.Check(sent, body, resp, rec.body.Bytes())
		var requestOnly *contract.RequestError
		switch {
		case err == nil, errors.Is(err, contract.ErrNoOperation), errors.As(err, &requestOnly):
		default:
			tb.Errorf("an answer outside the OpenAPI document: %v\n  body: %s", err, rec.body.Bytes())
		}
	})
}

// recorder passes a response through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// CheckContract is the same check in front of any handler, such as a proxy
// to `sam local start-api`: the SAM suite holds SAM's answers to the
// document as the other suites hold the local gateway's.
func CheckContract(tb testing.TB, next http.Handler) http.Handler { return checkContract(tb, next) }
