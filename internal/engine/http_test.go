package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
)

// seen is one request a test server received.
type seen struct {
	method, uri, body string
	header            http.Header
}

// target is an httptest server on 127.0.0.1 that records what it receives
// and answers with handle.
type target struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
}

func newTarget(t *testing.T, handle http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.requests = append(tg.requests, seen{method: r.Method, uri: r.RequestURI, body: string(body), header: r.Header.Clone()})
		tg.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) received() []seen {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]seen(nil), tg.requests...)
}

// localhostURL is the server's URL with "localhost" for "127.0.0.1": the same
// server under another host name, which counts as another origin.
func (tg *target) localhostURL() string {
	return strings.Replace(tg.URL, "127.0.0.1", "localhost", 1)
}

// loopbackDial dials for the tests and fails any that is not to 127.0.0.1
// or ::1, so that a refusal that came too late shows.
func loopbackDial(t *testing.T) dialFunc {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("dialled %s", address)
			return nil, errors.New("not loopback")
		}
		return d.DialContext(ctx, network, address)
	}
}

func httpEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	if opts.dial == nil {
		opts.dial = loopbackDial(t)
	}
	return testEngine(t, opts)
}

func httpStep(t *testing.T, with string, extra string) *Compiled {
	t.Helper()
	return oneStep(t, `{"id": "call", "type": "http", "with": `+with+extra+`}`)
}

func TestHTTPStepSendsTheRenderedRequest(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"ok": true, "id": 12345678901234567890}`)
	})
	c := httpStep(t, `{"method": "POST", "url": "`+tg.URL+`/orders/{{ .input.id }}?q={{ .input.q | @uri }}",
		"headers": {"X-Trace": "t-{{ .run.id }}", "Idempotency-Key": "mine"},
		"body": {"count": "{{ .input.n }}", "note": "n={{ .input.n }}", "fixed": 1.50}}`, "")
	rc := runContext(map[string]any{"id": "o-1", "q": "a b&c", "n": 3.0})
	res, err := httpEngine(t, Options{}).Execute(context.Background(), c, 0, rc, "run_1:call")
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, tg, 1)[0]
	if got.method != "POST" || got.uri != "/orders/o-1?q=a%20b%26c" {
		t.Errorf("request line %s %s", got.method, got.uri)
	}
	if got.body != `{"count":3,"note":"n=3","fixed":1.50}` {
		t.Errorf("body %s", got.body)
	}
	for name, want := range map[string]string{
		"Content-Type":    "application/json",
		"X-Trace":         "t-run_1",
		"Idempotency-Key": "run_1:call", // the engine's, over the step's own
		"User-Agent":      userAgent,
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
	out := res.Output.(map[string]any)
	if out["status"] != 201 {
		t.Errorf("status %v", out["status"])
	}
	headers := out["headers"].(map[string]any)
	if headers["x-multi"] != "a, b" || headers["content-type"] != "application/json; charset=utf-8" {
		t.Errorf("headers %v", headers)
	}
	if body := asJSON(t, out["body"]); body != `{"id":12345678901234567890,"ok":true}` {
		t.Errorf("body %s", body)
	}
}

func received(t *testing.T, tg *target, want int) []seen {
	t.Helper()
	got := tg.received()
	if len(got) != want {
		t.Fatalf("the target received %d requests, want %d", len(got), want)
	}
	return got
}

func TestHTTPBodyIsTextUnlessJSON(t *testing.T) {
	for _, tc := range []struct{ contentType, body, want string }{
		{"text/plain", `{"a": 1}`, `"{\"a\": 1}"`},
		{"application/json", `not json`, `"not json"`},
		{"application/problem+json", `{"a": 1}`, `{"a":1}`},
		{"application/json", `{"a": 1} {"b": 2}`, `"{\"a\": 1} {\"b\": 2}"`},
		{"application/json", ``, `""`},
	} {
		tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			fmt.Fprint(w, tc.body)
		})
		c := httpStep(t, `{"method": "GET", "url": "`+tg.URL+`"}`, "")
		res, err := httpEngine(t, Options{}).Execute(context.Background(), c, 0, runContext(nil), "k")
		if err != nil {
			t.Fatal(err)
		}
		if got := asJSON(t, res.Output.(map[string]any)["body"]); got != tc.want {
			t.Errorf("%s %q: body %s, want %s", tc.contentType, tc.body, got, tc.want)
		}
	}
}

func TestHTTPStatusFailures(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status     int
		retryAfter string
		retryable  bool
		wait       time.Duration
	}{
		{400, "", false, 0},
		{404, "", false, 0},
		{408, "", true, 0},
		{429, "7", true, 7 * time.Second},
		{429, "", true, 0},
		{500, "7", true, 0}, // Retry-After counts on 429 and 503 only
		{502, "", true, 0},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), true, 90 * time.Second},
	} {
		tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			w.WriteHeader(tc.status)
		})
		c := httpStep(t, `{"method": "GET", "url": "`+tg.URL+`"}`, "")
		_, err := httpEngine(t, Options{Now: func() time.Time { return now }}).Execute(context.Background(), c, 0, runContext(nil), "k")
		se := stepError(t, err)
		if se.Code != CodeHTTPStatus || se.Retryable != tc.retryable || se.RetryAfter != tc.wait || !strings.Contains(se.Message, fmt.Sprint(tc.status)) {
			t.Errorf("%d: got %+v", tc.status, se)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for value, want := range map[string]time.Duration{
		"":                        0,
		"0":                       0,
		"  120 ":                  2 * time.Minute,
		"-5":                      0,
		"1.5":                     0,
		"soon":                    0,
		"99999999999999999999999": maxRetryAfter,
		"2592001":                 maxRetryAfter,
		now.Add(time.Hour).Format(http.TimeFormat):  time.Hour,
		now.Add(-time.Hour).Format(http.TimeFormat): 0,
		"Tuesday, 01-Jan-30 12:00:30 GMT":           30 * time.Second, // RFC 850
		"Tue Jan  1 12:01:00 2030":                  time.Minute,      // asctime
	} {
		if got := parseRetryAfter(value, now); got != want {
			t.Errorf("%q: %v, want %v", value, got, want)
		}
	}
}

func TestHTTPResponseBodyIsCappedAt256KiB(t *testing.T) {
	size := 262144
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		n := size
		if r.URL.Path == "/over" {
			n++
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Repeat("x", n))
	})
	e := httpEngine(t, Options{})
	res, err := e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`/exact"}`, ""), 0, runContext(nil), "k")
	if err != nil {
		t.Fatalf("a body of exactly 256 KiB: %v", err)
	}
	if body := res.Output.(map[string]any)["body"].(string); len(body) != size {
		t.Errorf("body of %d bytes", len(body))
	}
	_, err = e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`/over"}`, ""), 0, runContext(nil), "k")
	if se := stepError(t, err); se.Code != CodeOutputTooLarge || se.Retryable {
		t.Errorf("one byte over: %+v", se)
	}
}

const (
	bearerConnection = "conn_01jc0000000000000000000001"
	basicConnection  = "conn_01jc0000000000000000000002"
	headerConnection = "conn_01jc0000000000000000000003"
	goneConnection   = "conn_01jc0000000000000000000004"
	brokenConnection = "conn_01jc0000000000000000000005"
)

func testCredentials(_ context.Context, id string) (connections.Credentials, error) {
	switch id {
	case bearerConnection:
		return connections.Credentials{Type: connections.TypeBearer, Token: "tok-123"}, nil
	case basicConnection:
		return connections.Credentials{Type: connections.TypeBasic, Username: "ada", Password: "pw:1"}, nil
	case headerConnection:
		return connections.Credentials{Type: connections.TypeHeader, Name: "X-Api-Key", Value: "key-456"}, nil
	case goneConnection:
		return connections.Credentials{}, domain.ErrNotFound
	}
	return connections.Credentials{}, errors.New("the key service is down")
}

// credentialHeaders are what each connection sets.
var credentialHeaders = map[string][2]string{
	bearerConnection: {"Authorization", "Bearer tok-123"},
	basicConnection:  {"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:pw:1"))},
	headerConnection: {"X-Api-Key", "key-456"},
}

func TestConnectionCredentialsGoToTheOwnOriginOnly(t *testing.T) {
	for connection, header := range credentialHeaders {
		t.Run(header[1], func(t *testing.T) {
			other := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
				if to := r.URL.Query().Get("to"); to != "" {
					http.Redirect(w, r, to, http.StatusFound)
					return
				}
				fmt.Fprint(w, "elsewhere")
			})
			own := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/same":
					http.Redirect(w, r, "/landed", http.StatusFound)
				case "/away":
					// 127.0.0.1 and localhost are other hosts, as another
					// port is another origin.
					http.Redirect(w, r, other.localhostURL()+"/landed", http.StatusTemporaryRedirect)
				case "/away-and-back":
					http.Redirect(w, r, other.URL+"/back?to="+url.QueryEscape("http://"+r.Host+"/returned"), http.StatusFound)
				default:
					fmt.Fprint(w, "here")
				}
			})
			e := httpEngine(t, Options{Credentials: testCredentials})
			run := func(path string) {
				t.Helper()
				c := httpStep(t, `{"method": "POST", "url": "`+own.URL+path+`", "connection": "`+connection+`", "body": {"a": 1}}`, "")
				if _, err := e.Execute(context.Background(), c, 0, runContext(nil), "run_1:call"); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			}
			run("/same")
			run("/away")
			run("/away-and-back")
			ownSeen, otherSeen := own.received(), other.received()
			// own: /same, /landed, /away, /away-and-back, /returned.
			if len(ownSeen) != 5 || len(otherSeen) != 2 {
				t.Fatalf("own received %d, other %d", len(ownSeen), len(otherSeen))
			}
			for i, want := range []bool{true, true, true, true, false} {
				if got := ownSeen[i].header.Get(header[0]) == header[1]; got != want {
					t.Errorf("own %s: credentials sent %v, want %v", ownSeen[i].uri, got, want)
				}
			}
			for _, s := range otherSeen {
				if s.header.Get(header[0]) != "" || s.header.Get("Authorization") != "" {
					t.Errorf("another origin received credentials at %s", s.uri)
				}
				if s.header.Get("Idempotency-Key") != "run_1:call" {
					t.Errorf("the redirect lost the Idempotency-Key at %s", s.uri)
				}
			}
			if otherSeen[0].method != "POST" || otherSeen[0].body != `{"a":1}` {
				t.Errorf("a 307 keeps the method and body: %s %q", otherSeen[0].method, otherSeen[0].body)
			}
		})
	}
}

func TestConnectionThatIsGoneFailsTheStep(t *testing.T) {
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	e := httpEngine(t, Options{Credentials: testCredentials})
	_, err := e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`", "connection": "`+goneConnection+`"}`, ""), 0, runContext(nil), "k")
	if se := stepError(t, err); se.Code != CodeConnectionNotFound || se.Retryable {
		t.Errorf("gone: %+v", se)
	}
	_, err = e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`", "connection": "`+brokenConnection+`"}`, ""), 0, runContext(nil), "k")
	var se *StepError
	if err == nil || errors.As(err, &se) {
		t.Errorf("credentials that could not be opened: %v, want the engine's own error", err)
	}
	received(t, tg, 0)
}

func TestRedirectsStopAfterFive(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	})
	_, err := httpEngine(t, Options{}).Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`/"}`, ""), 0, runContext(nil), "k")
	if se := stepError(t, err); se.Code != CodeTooManyRedirects || se.Retryable {
		t.Errorf("got %+v", se)
	}
	received(t, tg, 1+MaxRedirects)
}

func TestLoopbackModeRefusesOtherHostsWithoutDNSOrDialling(t *testing.T) {
	for _, address := range []string{
		"http://10.0.0.1/", "http://example.com/", "http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.2/", "http://[::ffff:127.0.0.1]/", "http://0x7f000001/", "http://localhost.example/",
		"http://[fe80::1%25eth0]/", "https://metadata.google.internal/",
	} {
		c := httpStep(t, `{"method": "GET", "url": "`+address+`"}`, "")
		_, err := testEngine(t, Options{dial: refuseDial(t)}).Execute(context.Background(), c, 0, runContext(nil), "k")
		if se := stepError(t, err); se.Code != CodeTargetRefused || se.Retryable {
			t.Errorf("%s: got %+v", address, se)
		}
	}
}

func TestRedirectToARefusedTargetIsRefused(t *testing.T) {
	for _, to := range []string{"http://169.254.169.254/latest/meta-data/", "http://example.com/", "http://10.0.0.1:8080/"} {
		tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
		_, err := httpEngine(t, Options{}).Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`"}`, ""), 0, runContext(nil), "k")
		if se := stepError(t, err); se.Code != CodeTargetRefused {
			t.Errorf("a redirect to %s: got %+v", to, se)
		}
	}
}

func TestDefaultModeRefusesLoopbackTargets(t *testing.T) {
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	// DNS answers as /etc/hosts would; nothing is dialled.
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		// localhost names are loopback by definition: never looked up.
		t.Errorf("DNS lookup of %q", host)
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
	}
	e := New(Options{lookup: lookup, dial: refuseDial(t)})
	for _, address := range []string{tg.URL, tg.localhostURL(), "http://[::1]:1/", "http://[::ffff:127.0.0.1]:1/", "http://api.localhost:1/", "http://LOCALHOST.:1/"} {
		_, err := e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+address+`"}`, ""), 0, runContext(nil), "k")
		if se := stepError(t, err); se.Code != CodeTargetRefused || se.Retryable {
			t.Errorf("%s: got %+v", address, se)
		}
	}
	received(t, tg, 0)
}

func TestAllowPrivateModeReachesLoopback(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	e := httpEngine(t, Options{Policy: OutboundPolicy{Mode: TargetsPublicAndPrivate}})
	res, err := e.Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+tg.URL+`"}`, ""), 0, runContext(nil), "k")
	if err != nil || res.Output.(map[string]any)["body"] != "ok" {
		t.Errorf("got %+v, %v", res, err)
	}
}

// The default mode judges each address DNS answers and dials only those it
// allows, by address. Nothing is sent: the dial hook records and fails.
func TestGuardedDialerDialsOnlyAllowedAddresses(t *testing.T) {
	var dialled []string
	d := &guardedDialer{
		policy: OutboundPolicy{},
		lookup: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("::ffff:192.168.1.1")}, nil
		},
		dial: func(_ context.Context, _, address string) (net.Conn, error) {
			dialled = append(dialled, address)
			return nil, errors.New("not dialled in tests")
		},
	}
	if _, err := d.DialContext(context.Background(), "tcp", "shop.example:443"); err == nil {
		t.Fatal("the hook's error is the answer")
	}
	if fmt.Sprint(dialled) != "[203.0.113.7:443]" {
		t.Errorf("dialled %v, want only the public address", dialled)
	}
	d.lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00:ec2::254")}, nil
	}
	dialled = nil
	_, err := d.DialContext(context.Background(), "tcp", "internal.example:80")
	var refusal *refusedError
	if !errors.As(err, &refusal) || len(dialled) != 0 {
		t.Errorf("only private answers: %v, dialled %v", err, dialled)
	}
}

func TestHTTPTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c := httpStep(t, `{"method": "GET", "url": "`+tg.URL+`"}`, `, "timeoutSeconds": 1`)
	_, err := httpEngine(t, Options{}).Execute(context.Background(), c, 0, runContext(nil), "k")
	if se := stepError(t, err); se.Code != CodeTimeout || !se.Retryable {
		t.Errorf("got %+v", se)
	}
}

func TestConnectionErrorIsRetryable(t *testing.T) {
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	closed := tg.URL
	tg.Close()
	_, err := httpEngine(t, Options{}).Execute(context.Background(), httpStep(t, `{"method": "GET", "url": "`+closed+`/path?token=secret"}`, ""), 0, runContext(nil), "k")
	se := stepError(t, err)
	if se.Code != CodeConnectionError || !se.Retryable || strings.Contains(se.Message, "secret") {
		t.Errorf("got %+v", se)
	}
}

func TestRenderedRequestIsChecked(t *testing.T) {
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	e := httpEngine(t, Options{})
	rc := runContext(map[string]any{"line": "a\r\nX-Injected: 1"})
	c := httpStep(t, `{"method": "GET", "url": "`+tg.URL+`", "headers": {"X-Note": "{{ .input.line }}"}}`, "")
	_, err := e.Execute(context.Background(), c, 0, rc, "k")
	if se := stepError(t, err); se.Code != CodeInvalidRequest || se.Retryable {
		t.Errorf("got %+v", se)
	}
	received(t, tg, 0)
}

// Point 4 of issue 13: a request over a bound fails the step with
// REQUEST_TOO_LARGE, not retried, and nothing is sent; a request at each
// bound is sent.
func TestRequestsOverTheBoundsAreNotSent(t *testing.T) {
	tg := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	e := httpEngine(t, Options{Credentials: testCredentials})
	base := tg.URL + "/b/"
	pathFor := func(urlBytes int) string { return strings.Repeat("p", urlBytes-len(base)) }
	// A header's size is its name and value: X-Fill and 8186 bytes is 8 KiB.
	fill := func(n int) string { return strings.Repeat("h", n-len("X-Fill")) }
	manyHeaders := func(each, count int) string {
		var pairs []string
		for i := range count {
			name := fmt.Sprintf("X-Fill-%02d", i)
			pairs = append(pairs, fmt.Sprintf("%q: %q", name, strings.Repeat("v", each-len(name))))
		}
		return "{" + strings.Join(pairs, ", ") + "}"
	}
	for _, tc := range []struct {
		name, with string
		input      map[string]any
		sent       bool
	}{
		{"a body of 256 KiB", `{"method": "POST", "url": "` + base + `", "body": "{{ .input.s }}"}`, map[string]any{"s": strings.Repeat("b", 256<<10-2)}, true},
		{"a body of 256 KiB and a byte", `{"method": "POST", "url": "` + base + `", "body": "{{ .input.s }}"}`, map[string]any{"s": strings.Repeat("b", 256<<10-1)}, false},
		{"a body of 50 MB", `{"method": "POST", "url": "` + base + `", "body": {"a": "{{ .input.s }}"}}`, map[string]any{"s": strings.Repeat("b", 50<<20)}, false},
		{"a URL of 8 KiB", `{"method": "GET", "url": "` + base + `{{ .input.s }}"}`, map[string]any{"s": pathFor(8 << 10)}, true},
		{"a URL of 8 KiB and a byte", `{"method": "GET", "url": "` + base + `{{ .input.s }}"}`, map[string]any{"s": pathFor(8<<10 + 1)}, false},
		{"a URL over 8 KiB once escaped", `{"method": "GET", "url": "` + base + `{{ .input.s }}"}`, map[string]any{"s": strings.Repeat("/", 3<<10)}, false},
		{"a header of 8 KiB", `{"method": "GET", "url": "` + base + `", "headers": {"X-Fill": "{{ .input.s }}"}}`, map[string]any{"s": fill(8 << 10)}, true},
		{"a header of 8 KiB and a byte", `{"method": "GET", "url": "` + base + `", "headers": {"X-Fill": "{{ .input.s }}"}}`, map[string]any{"s": fill(8<<10 + 1)}, false},
		{"headers of 30 KiB", `{"method": "GET", "url": "` + base + `", "headers": ` + manyHeaders(6<<10, 5) + `}`, nil, true},
		{"headers of 36 KiB", `{"method": "GET", "url": "` + base + `", "headers": ` + manyHeaders(6<<10, 6) + `}`, nil, false},
		// Every header sent counts: the engine's own (User-Agent and
		// Idempotency-Key, 53 bytes here) and the connection's (X-Api-Key,
		// 16): 32700 bytes of the step's own fit without the connection's.
		{"headers just under 32 KiB", `{"method": "GET", "url": "` + base + `", "headers": ` + manyHeaders(8175, 4) + `}`, nil, true},
		{"the same headers and a credential", `{"method": "GET", "url": "` + base + `", "connection": "` + headerConnection + `", "headers": ` + manyHeaders(8175, 4) + `}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tg.received())
			_, err := e.Execute(context.Background(), httpStep(t, tc.with, ""), 0, runContext(tc.input), "run_1:call")
			sent := len(tg.received()) > before
			if tc.sent {
				if err != nil || !sent {
					t.Fatalf("at the bound: %v, sent %v", err, sent)
				}
				return
			}
			se := stepError(t, err)
			if se.Code != CodeRequestTooLarge || se.Retryable || sent {
				t.Errorf("over the bound: %+v, sent %v", se, sent)
			}
			if strings.Contains(se.Message, "hhhh") || strings.Contains(se.Message, "bbbb") || strings.Contains(se.Message, "key-456") {
				t.Errorf("the message quotes the request: %.200s", se.Message)
			}
		})
	}
}
