package gatewaytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bodies the authentication page gives, byte for byte.
const (
	UnauthorizedBody = `{"success":false,"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}`
	ForbiddenBody    = `{"success":false,"error":{"code":"FORBIDDEN","message":"Insufficient permissions for this operation"}}`
)

// Response is what a Call got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("body is not JSON: %q", r.Body)
	}
	return m
}

// ErrorCode is the body's error.code, "" if it has none.
func (r Response) ErrorCode(tb testing.TB) string {
	tb.Helper()
	e, _ := r.JSON(tb)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// Data is the body's data object.
func (r Response) Data(tb testing.TB) map[string]any {
	tb.Helper()
	d, ok := r.JSON(tb)["data"].(map[string]any)
	if !ok {
		tb.Fatalf("no data object in %d %s", r.Status, r.Body)
	}
	return d
}

// Call sends one request with an optional key and content type.
func Call(tb testing.TB, method, url, key, contentType string, body []byte) Response {
	tb.Helper()
	return CallWith(tb, method, url, key, contentType, nil, body)
}

// CallWith is Call with more request headers (If-Match, Idempotency-Key).
func CallWith(tb testing.TB, method, url, key, contentType string, header http.Header, body []byte) Response {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// SameJSON fails unless got is the JSON document want, whatever the spacing.
func SameJSON(tb testing.TB, got []byte, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("body %q is not JSON", got)
	}
	_ = json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		tb.Fatalf("body = %s\nwant   %s", got, want)
	}
}

// RequireRateLimitHeaders fails unless r carries the three rate-limit
// headers with limit and plausible values.
func RequireRateLimitHeaders(tb testing.TB, r Response, limit int) {
	tb.Helper()
	if got := r.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		tb.Fatalf("X-RateLimit-Limit = %q, want %d (status %d)", got, limit, r.Status)
	}
	remaining, err := strconv.Atoi(r.Header.Get("X-RateLimit-Remaining"))
	if err != nil || remaining < 0 || remaining > limit {
		tb.Fatalf("X-RateLimit-Remaining = %q", r.Header.Get("X-RateLimit-Remaining"))
	}
	reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil || reset < time.Now().Unix() || reset > time.Now().Add(3*time.Minute).Unix() {
		tb.Fatalf("X-RateLimit-Reset = %q is not a Unix time in the next minutes", r.Header.Get("X-RateLimit-Reset"))
	}
}

// SomeID is a well-formed id of each prefix that no test ever stores.
const SomeID = "01jc0000000000000000000000"

// ConcretePath fills a route's path parameters with well-formed ids of the
// right kind that name nothing.
func ConcretePath(path string) string {
	for _, p := range []struct{ param, prefix string }{
		{"{workflowId}", "wf_"}, {"/workflows/{id}", "/workflows/wf_"}, {"/runs/{id}", "/runs/run_"},
		{"/connections/{id}", "/connections/conn_"}, {"/api-keys/{id}", "/api-keys/key_"},
		{"{stepId}", ""},
	} {
		id := p.prefix + SomeID
		if p.param == "{stepId}" {
			id = "someStep" // a workflow's own step id, not one of ours
		}
		path = strings.ReplaceAll(path, p.param, id)
	}
	return path
}

// LockedBuffer is a log sink safe for the server's goroutines.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
