// Package e2e_test runs the examples of the authentication page
// (shared/seed/authentication.txt), kept as files in e2e/seed/, against the
// whole API served over real HTTP, and holds the answers to what the page
// says: its error bodies, its rate-limit headers, its key management.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// The error bodies of the authentication page, as it shows them.
const (
	pageUnauthorized = `{
  "success": false,
  "error": {
    "code": "UNAUTHORIZED",
    "message": "Invalid or missing API key"
  }
}`
	pageForbidden = `{
  "success": false,
  "error": {
    "code": "FORBIDDEN",
    "message": "Insufficient permissions for this operation"
  }
}`
	// The page's 429 body, with the limit the rate-limit test sets.
	pageRateLimited = `{
  "success": false,
  "error": {
    "code": "RATE_LIMITED",
    "message": "Rate limit exceeded. Limit: 2 requests per minute."
  }
}`
)

// placeholderKey is the key the page's examples show: well-shaped text, not
// a key, so the API must refuse it.
const placeholderKey = "wfk_your_api_key_here"

// answer is what an example printed: the status, headers and body it got.
type answer struct {
	Status  int
	Headers http.Header
	Body    string
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.Status, a.Body) }

// json decodes the body.
func (a answer) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.Body), &m); err != nil {
		tb.Fatalf("body is not a JSON object: %q", a.Body)
	}
	return m
}

// parseAnswer reads the one JSON line an example prints. Header values are
// a string (fetch, requests) or a list of strings (curl).
func parseAnswer(out []byte) (answer, error) {
	var raw struct {
		Status  int                        `json:"status"`
		Headers map[string]json.RawMessage `json:"headers"`
		Body    string                     `json:"body"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &raw); err != nil {
		return answer{}, fmt.Errorf("the example did not print one JSON object: %w", err)
	}
	a := answer{Status: raw.Status, Headers: http.Header{}, Body: raw.Body}
	for name, value := range raw.Headers {
		var one string
		var many []string
		switch {
		case json.Unmarshal(value, &one) == nil:
			a.Headers.Add(name, one)
		case json.Unmarshal(value, &many) == nil:
			for _, v := range many {
				a.Headers.Add(name, v)
			}
		default:
			return answer{}, fmt.Errorf("header %s is %s", name, value)
		}
	}
	return a, nil
}

// toolchain is what runs the examples: curl, node, the compiled TypeScript,
// and a Python that has requests.
type toolchain struct {
	seed string // e2e/seed
	bash string
	curl string
	node string
	root string

	tsOnce   sync.Once
	compiled string // the TypeScript example compiled by tsc
	tsErr    error
	tsOut    string // where tsc writes

	pyOnce sync.Once
	python string // a Python that has requests
	pyErr  error
}

// mustToolchain finds the tools, failing (never skipping) with what to
// install when one is missing. The TypeScript example is compiled when first
// run, so that a missing compiler fails its tests alone.
func mustToolchain(tb testing.TB) *toolchain {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("run the e2e tests from e2e/ in the repository (no go.mod in %s)", root)
	}
	tc := &toolchain{seed: filepath.Join(root, "e2e", "seed")}
	tc.bash = mustLookPath(tb, "bash", "install bash")
	tc.curl = mustLookPath(tb, "curl", "install curl (apt-get install curl)")
	tc.node = mustLookPath(tb, "node", "install Node.js 20 or newer")

	tc.root = root
	tc.tsOut = tb.TempDir()
	return tc
}

// mustCompiledTS type-checks and compiles the TypeScript example with the
// pinned tsc, once, and returns the compiled file.
func (tc *toolchain) mustCompiledTS(tb testing.TB) string {
	tb.Helper()
	tc.tsOnce.Do(func() { tc.compiled, tc.tsErr = tc.compileTS() })
	if tc.tsErr != nil {
		tb.Fatal(tc.tsErr)
	}
	return tc.compiled
}

func (tc *toolchain) compileTS() (string, error) {
	tsc := filepath.Join(tc.root, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		return "", fmt.Errorf("the pinned TypeScript compiler is missing (%s): run `npm ci` at the repository root", tsc)
	}
	if _, err := os.Stat(filepath.Join(tc.root, "node_modules", "@types", "node", "package.json")); err != nil {
		return "", fmt.Errorf("the TypeScript example needs Node's types: package.json must pin @types/node and `npm ci` install it")
	}
	out := tc.tsOut
	cmd := exec.Command(tsc, "--project", filepath.Join(tc.seed, "tsconfig.json"), "--outDir", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tsc could not type-check and compile e2e/seed/fetch.ts: %v\n%s", err, msg)
	}
	// The compiled example uses top-level await: node must load it as a module.
	if err := os.WriteFile(filepath.Join(out, "package.json"), []byte(`{"type": "module"}`), 0o644); err != nil {
		return "", err
	}
	return filepath.Join(out, "fetch.js"), nil
}

func mustLookPath(tb testing.TB, name, hint string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not on PATH: %s; the seed examples need it", name, hint)
	}
	return path
}

// mustPython returns $PYTHON, else the repository's .venv, else python3,
// once it has checked that it can import requests. It is looked for when the
// Python example first runs, so that a missing Python fails its tests alone.
func (tc *toolchain) mustPython(tb testing.TB) string {
	tb.Helper()
	tc.pyOnce.Do(func() { tc.python, tc.pyErr = findPython(tc.root) })
	if tc.pyErr != nil {
		tb.Fatal(tc.pyErr)
	}
	return tc.python
}

func findPython(root string) (string, error) {
	python := os.Getenv("PYTHON")
	switch {
	case python != "":
		if _, err := exec.LookPath(python); err != nil {
			return "", fmt.Errorf("PYTHON=%s cannot be run: %v (make test creates .venv from requirements-dev.txt)", python, err)
		}
	case fileExists(filepath.Join(root, ".venv", "bin", "python")):
		python = filepath.Join(root, ".venv", "bin", "python")
	default:
		var err error
		if python, err = exec.LookPath("python3"); err != nil {
			return "", fmt.Errorf("python3 is not on PATH: install Python 3, or set PYTHON; the Python example needs it")
		}
	}
	if out, err := exec.Command(python, "-c", "import requests").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s cannot import requests, which the Python example needs: pip install requests (requirements-dev.txt)\n%s", python, out)
	}
	return python, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// example is one example of the page, run as a command.
type example struct {
	name string
	argv func(tb testing.TB, tc *toolchain) []string
}

// listWorkflowsExamples are the page's calls of GET /api/v1/workflows.
var listWorkflowsExamples = []example{
	{"the curl example", func(_ testing.TB, tc *toolchain) []string {
		return []string{tc.bash, tc.script("curl.sh"), "list-workflows"}
	}},
	{"the curl example in its environment-variable form", func(_ testing.TB, tc *toolchain) []string {
		return []string{tc.bash, tc.script("curl.sh"), "env-variable"}
	}},
	{"the JavaScript fetch example", func(_ testing.TB, tc *toolchain) []string {
		return []string{tc.node, tc.script("fetch.mjs"), "list-workflows"}
	}},
	{"the TypeScript fetch example", func(tb testing.TB, tc *toolchain) []string { return []string{tc.node, tc.mustCompiledTS(tb)} }},
	{"the Python requests example", func(tb testing.TB, tc *toolchain) []string {
		return []string{tc.mustPython(tb), tc.script("requests_example.py")}
	}},
}

func (tc *toolchain) script(name string) string { return filepath.Join(tc.seed, name) }

// run runs argv with the base URL and the given variables (and nothing of
// the caller's own WORKFLOWS_* or KEY_ID), and reads what it printed.
func (tc *toolchain) run(tb testing.TB, baseURL string, vars map[string]string, argv []string) answer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = tc.seed
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "WORKFLOWS_") || name == "KEY_ID" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	// The test server is on loopback: no proxy may stand between.
	cmd.Env = append(cmd.Env, "WORKFLOWS_BASE_URL="+baseURL, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s failed: %v\nstdout: %s\nstderr: %s", strings.Join(argv, " "), err, stdout.String(), stderr.String())
	}
	a, err := parseAnswer(stdout.Bytes())
	if err != nil {
		tb.Fatalf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(argv, " "), err, stdout.String(), stderr.String())
	}
	return a
}

// exchange is one request and response that passed the recording proxy.
type exchange struct {
	Method, Path, APIKey string
	Status               int
	Header               http.Header
	Body                 []byte
}

// recordingProxy stands between the examples and the API: it records every
// exchange, including those an example does not print (the 429 that
// fetchWithRetry waits out), and, when timeTravel is on, moves the rate
// limiter's clock to a 429's X-RateLimit-Reset before the client sees it, so
// that waiting until then takes no time.
type recordingProxy struct {
	target string
	clock  *gatewaytest.Clock

	mu         sync.Mutex
	exchanges  []exchange
	timeTravel bool
}

func mustRecordingProxy(tb testing.TB, env *gatewaytest.Env) (*recordingProxy, string) {
	tb.Helper()
	p := &recordingProxy{target: env.URL, clock: env.Clock}
	server := httptest.NewServer(p)
	tb.Cleanup(server.Close)
	return p, server.URL
}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	res, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}

	p.mu.Lock()
	p.exchanges = append(p.exchanges, exchange{
		Method: r.Method, Path: r.URL.Path, APIKey: r.Header.Get("x-api-key"),
		Status: res.StatusCode, Header: res.Header.Clone(), Body: body,
	})
	if p.timeTravel && res.StatusCode == http.StatusTooManyRequests {
		if reset, err := strconv.ParseInt(res.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			p.clock.Set(time.Unix(reset, 0))
		}
	}
	p.mu.Unlock()

	// Copied as spelt, as a gateway would.
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
}

// since returns the exchanges recorded after the first n.
func (p *recordingProxy) since(n int) []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.exchanges[n:])
}

func (p *recordingProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exchanges)
}

func (p *recordingProxy) setTimeTravel(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeTravel = on
}

// requireEveryResponseHeaders holds every exchange to the page and API.md:
// each response has an X-Request-Id, and each authenticated one (every
// status but the gateway's 401) the three rate-limit headers.
func requireEveryResponseHeaders(t *testing.T, p *recordingProxy) {
	t.Helper()
	t.Run("every response had an X-Request-Id and every authenticated one the rate-limit headers", func(t *testing.T) {
		all := p.since(0)
		if len(all) == 0 {
			t.Fatal("no request reached the API")
		}
		for _, x := range all {
			if x.Header.Get(httpapi.HeaderRequestID) == "" {
				t.Errorf("%s %s → %d has no X-Request-Id", x.Method, x.Path, x.Status)
			}
			if x.Status == http.StatusUnauthorized {
				continue
			}
			for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				if _, err := strconv.ParseInt(x.Header.Get(name), 10, 64); err != nil {
					t.Errorf("%s %s → %d: %s = %q, want an integer", x.Method, x.Path, x.Status, name, x.Header.Get(name))
				}
			}
		}
	})
}

// requirePageBody compares a body with one of the page's, as JSON.
func requirePageBody(tb testing.TB, a answer, wantStatus int, pageBody string) {
	tb.Helper()
	var got, want any
	if err := json.Unmarshal([]byte(pageBody), &want); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal([]byte(a.Body), &got); err != nil {
		tb.Fatalf("status %d, body %q is not JSON", a.Status, a.Body)
	}
	if a.Status != wantStatus || !reflect.DeepEqual(got, want) {
		tb.Fatalf("got %d %s\nwant %d %s", a.Status, a.Body, wantStatus, compact(pageBody))
	}
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

// requireRateLimitHeaders checks the page's three headers on an answer:
// the limit, a remaining count within it, and a reset after now (the
// limiter's now, which the rate-limit test sets) but within two windows.
func requireRateLimitHeaders(tb testing.TB, a answer, limit int64, now time.Time) (remaining int64, reset time.Time) {
	tb.Helper()
	if got := a.Headers.Get("X-RateLimit-Limit"); got != strconv.FormatInt(limit, 10) {
		tb.Fatalf("X-RateLimit-Limit = %q, want %d (answer %s)", got, limit, a)
	}
	remaining, err := strconv.ParseInt(a.Headers.Get("X-RateLimit-Remaining"), 10, 64)
	if err != nil || remaining < 0 || remaining > limit {
		tb.Fatalf("X-RateLimit-Remaining = %q, want 0 to %d", a.Headers.Get("X-RateLimit-Remaining"), limit)
	}
	unix, err := strconv.ParseInt(a.Headers.Get("X-RateLimit-Reset"), 10, 64)
	reset = time.Unix(unix, 0)
	if err != nil || reset.Before(now.Truncate(time.Second)) || reset.After(now.Add(2*time.Minute)) {
		tb.Fatalf("X-RateLimit-Reset = %q, want a Unix time in the two minutes after %d", a.Headers.Get("X-RateLimit-Reset"), now.Unix())
	}
	if a.Headers.Get(httpapi.HeaderRequestID) == "" {
		tb.Fatalf("no X-Request-Id")
	}
	return remaining, reset
}

// requireListedWorkflows checks the answer to GET /workflows from a key that
// may read them: the list, or 501 NOT_IMPLEMENTED while the workflows
// feature has not landed (it still authenticates, limits and checks scope).
func requireListedWorkflows(tb testing.TB, a answer) {
	tb.Helper()
	body := a.json(tb)
	if !routes.ListWorkflows.Built {
		e, _ := body["error"].(map[string]any)
		if a.Status != http.StatusNotImplemented || body["success"] != false || e["code"] != string(domain.CodeNotImplemented) {
			tb.Fatalf("got %s, want 501 NOT_IMPLEMENTED until workflows land", a)
		}
		return
	}
	if _, isList := body["data"].([]any); a.Status != http.StatusOK || body["success"] != true || !isList {
		tb.Fatalf("got %s, want 200 with the list of workflows", a)
	}
}

func TestTheListWorkflowsExamples(t *testing.T) {
	tc := mustToolchain(t)
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	proxy, baseURL := mustRecordingProxy(t, env)
	readLimit := ratelimit.DefaultConfig().Limits[ratelimit.CategoryRead]

	for _, ex := range listWorkflowsExamples {
		t.Run(ex.name, func(t *testing.T) {
			t.Run("sends the key in x-api-key and gets through with the rate-limit headers", func(t *testing.T) {
				key, _ := env.MustKey(t, "acct_reader", domain.ScopeWorkflowsRead)
				before := proxy.count()
				a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": key}, ex.argv(t, tc))
				requireListedWorkflows(t, a)
				remaining, _ := requireRateLimitHeaders(t, a, readLimit, time.Now())
				if remaining != readLimit-1 {
					t.Errorf("X-RateLimit-Remaining = %d after a key's first request, want %d", remaining, readLimit-1)
				}
				sent := proxy.since(before)
				if len(sent) != 1 || sent[0].Method != http.MethodGet || sent[0].Path != "/api/v1/workflows" || sent[0].APIKey != key {
					t.Errorf("the example sent %+v, want one GET /api/v1/workflows with the key in x-api-key", sent)
				}
			})

			t.Run("gets the page's 403 body, with the rate-limit headers, from a key without workflows:read", func(t *testing.T) {
				key, _ := env.MustKey(t, "acct_reader", domain.ScopeKeysRead, domain.ScopeRunsRead)
				a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": key}, ex.argv(t, tc))
				requirePageBody(t, a, http.StatusForbidden, pageForbidden)
				requireRateLimitHeaders(t, a, readLimit, time.Now())
			})

			t.Run("gets the page's 401 body for the page's placeholder key", func(t *testing.T) {
				a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": placeholderKey}, ex.argv(t, tc))
				requirePageBody(t, a, http.StatusUnauthorized, pageUnauthorized)
			})

			t.Run("gets the page's 401 body when WORKFLOWS_API_KEY is not set", func(t *testing.T) {
				a := tc.run(t, baseURL, nil, ex.argv(t, tc))
				requirePageBody(t, a, http.StatusUnauthorized, pageUnauthorized)
			})
		})
	}
	requireEveryResponseHeaders(t, proxy)
}

// keyView is an API key as the key routes show it.
type keyView struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Prefix     string   `json:"prefix"`
	Scopes     []string `json:"scopes"`
	Status     string   `json:"status"`
	Key        *string  `json:"key"`
	CreatedAt  string   `json:"createdAt"`
	LastUsedAt string   `json:"lastUsedAt"`
}

func mustKeyData[T any](tb testing.TB, a answer, wantStatus int) T {
	tb.Helper()
	var body struct {
		Success bool `json:"success"`
		Data    T    `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil || a.Status != wantStatus || !body.Success {
		tb.Fatalf("got %s, want %d and success", a, wantStatus)
	}
	return body.Data
}

var keyFormat = regexp.MustCompile(`^wfk_[a-z0-9]{32}$`)

func TestTheAPIKeyManagementExamples(t *testing.T) {
	tc := mustToolchain(t)
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	proxy, baseURL := mustRecordingProxy(t, env)
	curl := func(name string) []string { return []string{tc.bash, tc.script("curl.sh"), name} }
	limits := ratelimit.DefaultConfig().Limits
	admin, adminID := env.MustKey(t, "acct_keys", domain.AllScopes...)
	var created keyView
	var createdKey string

	t.Run("List API Keys shows the account's keys without their secrets", func(t *testing.T) {
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": admin}, curl("list-api-keys"))
		keys := mustKeyData[[]keyView](t, a, http.StatusOK)
		requireRateLimitHeaders(t, a, limits[ratelimit.CategoryRead], time.Now())
		if len(keys) != 1 || keys[0].ID != adminID || keys[0].Status != "active" || keys[0].Key != nil {
			t.Fatalf("keys = %+v, want the one active key %s, without its plaintext", keys, adminID)
		}
		if strings.Contains(a.Body, admin) {
			t.Fatal("the listing holds a key's plaintext")
		}
	})

	t.Run("Create API Key answers 201 with the new key, shown once, in the page's format", func(t *testing.T) {
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": admin}, curl("create-api-key"))
		created = mustKeyData[keyView](t, a, http.StatusCreated)
		requireRateLimitHeaders(t, a, limits[ratelimit.CategoryWrite], time.Now())
		if created.Key == nil || !keyFormat.MatchString(*created.Key) {
			t.Fatalf("created key = %+v, want a plaintext wfk_ + 32 of [a-z0-9]", created)
		}
		createdKey = *created.Key
		wantScopes := []string{"workflows:read", "workflows:write", "workflows:execute"}
		if created.Name != "Production API Key" || !reflect.DeepEqual(created.Scopes, wantScopes) || created.Status != "active" {
			t.Errorf("created = %+v, want the page's name and scopes, active", created)
		}
		if !strings.HasPrefix(created.ID, "key_") || !strings.HasPrefix(createdKey, created.Prefix) || created.Prefix == "" {
			t.Errorf("id %q, prefix %q: want a key_ id and a prefix of the key", created.ID, created.Prefix)
		}
	})
	if createdKey == "" {
		t.FailNow()
	}

	t.Run("the new key works with the page's examples", func(t *testing.T) {
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": createdKey}, curl("list-workflows"))
		requireListedWorkflows(t, a)
	})

	t.Run("the new key is listed by prefix, never by its plaintext, with when it was last used", func(t *testing.T) {
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": admin}, curl("list-api-keys"))
		keys := mustKeyData[[]keyView](t, a, http.StatusOK)
		i := slices.IndexFunc(keys, func(k keyView) bool { return k.ID == created.ID })
		if i < 0 || keys[i].Prefix != created.Prefix || keys[i].Key != nil || strings.Contains(a.Body, createdKey) {
			t.Fatalf("listing %s: want %s listed by prefix %q only", a.Body, created.ID, created.Prefix)
		}
		// API.md: lastUsedAt is at most a minute stale; the new key was used
		// just now, by the previous example.
		lastUsed, err := time.Parse(time.RFC3339, keys[i].LastUsedAt)
		if err != nil || time.Since(lastUsed) > time.Minute || time.Until(lastUsed) > time.Second {
			t.Errorf("lastUsedAt of the key just used = %q, want an RFC 3339 time within the last minute", keys[i].LastUsedAt)
		}
	})

	t.Run("a key may not create a key with scopes it lacks", func(t *testing.T) {
		weak, _ := env.MustKey(t, "acct_keys", domain.ScopeKeysWrite, domain.ScopeWorkflowsRead)
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": weak}, curl("create-api-key"))
		requirePageBody(t, a, http.StatusForbidden, pageForbidden)
	})

	t.Run("Revoke API Key answers with the key, revoked", func(t *testing.T) {
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": admin, "KEY_ID": created.ID}, curl("revoke-api-key"))
		revoked := mustKeyData[keyView](t, a, http.StatusOK)
		requireRateLimitHeaders(t, a, limits[ratelimit.CategoryWrite], time.Now())
		if revoked.ID != created.ID || revoked.Status != "revoked" || revoked.Key != nil {
			t.Fatalf("revoked = %+v, want %s with status revoked", revoked, created.ID)
		}
	})

	for _, ex := range listWorkflowsExamples {
		t.Run("the revoked key gets the page's 401 body on its next request with "+ex.name, func(t *testing.T) {
			a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": createdKey}, ex.argv(t, tc))
			requirePageBody(t, a, http.StatusUnauthorized, pageUnauthorized)
		})
	}

	t.Run("another account's key id is not found, not forbidden", func(t *testing.T) {
		_, otherID := env.MustKey(t, "acct_other", domain.ScopeKeysRead)
		a := tc.run(t, baseURL, map[string]string{"WORKFLOWS_API_KEY": admin, "KEY_ID": otherID}, curl("revoke-api-key"))
		if e, _ := a.json(t)["error"].(map[string]any); a.Status != http.StatusNotFound || e["code"] != string(domain.CodeNotFound) {
			t.Fatalf("got %s, want 404 NOT_FOUND", a)
		}
	})
	requireEveryResponseHeaders(t, proxy)
}

func TestTheRateLimitExamples(t *testing.T) {
	const writeLimit = 2
	tc := mustToolchain(t)
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: writeLimit}})
	proxy, baseURL := mustRecordingProxy(t, env)
	curl := func(name string) []string { return []string{tc.bash, tc.script("curl.sh"), name} }

	// mustUseUpWrites makes the limit's worth of writes with the create-key
	// example, checking that each gets through and counts Remaining down.
	mustUseUpWrites := func(t *testing.T, vars map[string]string, now time.Time) {
		t.Helper()
		for i := int64(1); i <= writeLimit; i++ {
			a := tc.run(t, baseURL, vars, curl("create-api-key"))
			mustKeyData[keyView](t, a, http.StatusCreated)
			if remaining, _ := requireRateLimitHeaders(t, a, writeLimit, now); remaining != writeLimit-i {
				t.Fatalf("write %d: X-RateLimit-Remaining = %d, want %d", i, remaining, writeLimit-i)
			}
		}
	}

	t.Run("on the wall clock", func(t *testing.T) {
		key, _ := env.MustKey(t, "acct_limits", domain.AllScopes...)
		vars := map[string]string{"WORKFLOWS_API_KEY": key}

		t.Run("the first writes of the minute get through, counting X-RateLimit-Remaining down", func(t *testing.T) {
			mustUseUpWrites(t, vars, time.Now())
		})

		t.Run("the next write gets the page's 429 body with the limit, Retry-After and the headers", func(t *testing.T) {
			a := tc.run(t, baseURL, vars, curl("create-api-key"))
			now := time.Now()
			requirePageBody(t, a, http.StatusTooManyRequests, pageRateLimited)
			remaining, reset := requireRateLimitHeaders(t, a, writeLimit, now)
			if remaining != 0 || !reset.After(now) {
				t.Errorf("Remaining %d, Reset %d: want 0 and a reset after now (%d)", remaining, reset.Unix(), now.Unix())
			}
			retryAfter, err := strconv.ParseInt(a.Headers.Get("Retry-After"), 10, 64)
			wait := reset.Sub(now)
			if err != nil || retryAfter < 1 || time.Duration(retryAfter)*time.Second < wait-2*time.Second || time.Duration(retryAfter)*time.Second > wait+2*time.Second {
				t.Errorf("Retry-After = %q, want the seconds until X-RateLimit-Reset (%s)", a.Headers.Get("Retry-After"), wait.Round(time.Second))
			}
		})

		t.Run("reads have their own limit and still get through", func(t *testing.T) {
			a := tc.run(t, baseURL, vars, curl("list-api-keys"))
			mustKeyData[[]keyView](t, a, http.StatusOK)
			requireRateLimitHeaders(t, a, ratelimit.DefaultConfig().Limits[ratelimit.CategoryRead], time.Now())
		})
	})

	t.Run("on a limiter clock the test moves", func(t *testing.T) {
		// The limiter's clock stands still, ten minutes back: the test
		// decides when time passes, and fetchWithRetry's wait (Reset minus
		// the wall clock) ends at once. gatewaytest's clock drives only the
		// limiter, so Retry-After (from the handlers' wall clock) is not
		// checked here.
		now := time.Now().Add(-10 * time.Minute).Truncate(time.Minute).Add(20 * time.Second)
		env.Clock.Set(now)
		key, _ := env.MustKey(t, "acct_limits", domain.AllScopes...)
		vars := map[string]string{"WORKFLOWS_API_KEY": key}
		mustUseUpWrites(t, vars, now)

		a := tc.run(t, baseURL, vars, curl("create-api-key"))
		requirePageBody(t, a, http.StatusTooManyRequests, pageRateLimited)
		_, reset := requireRateLimitHeaders(t, a, writeLimit, now)

		t.Run("fetchWithRetry waits for X-RateLimit-Reset and then gets through", func(t *testing.T) {
			before := proxy.count()
			proxy.setTimeTravel(true)
			defer proxy.setTimeTravel(false)
			a := tc.run(t, baseURL, vars, []string{tc.node, tc.script("fetch.mjs"), "fetch-with-retry"})
			mustKeyData[keyView](t, a, http.StatusCreated)

			sent := proxy.since(before)
			statuses := make([]int, len(sent))
			for i, x := range sent {
				statuses[i] = x.Status
			}
			if !slices.Equal(statuses, []int{http.StatusTooManyRequests, http.StatusCreated}) {
				t.Fatalf("fetchWithRetry saw %v, want a 429 and then, retried at its reset, a 201", statuses)
			}
			requirePageBody(t, answer{Status: sent[0].Status, Body: string(sent[0].Body)}, http.StatusTooManyRequests, pageRateLimited)
			if got := sent[0].Header.Get("X-RateLimit-Reset"); got != strconv.FormatInt(reset.Unix(), 10) {
				t.Errorf("a second 429's X-RateLimit-Reset = %s, want the first's %d: a rejected request must not use up quota", got, reset.Unix())
			}
			if !env.Clock.Now().Equal(reset) {
				t.Errorf("the retry went at %s, want exactly X-RateLimit-Reset %s", env.Clock.Now(), reset)
			}
		})
	})
	requireEveryResponseHeaders(t, proxy)
}
