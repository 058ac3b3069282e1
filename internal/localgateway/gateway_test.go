package localgateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localgateway"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// The bodies the authentication page gives, byte for byte.
const (
	unauthorizedBody = `{"success":false,"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}`
	forbiddenBody    = `{"success":false,"error":{"code":"FORBIDDEN","message":"Insufficient permissions for this operation"}}`
)

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("body is not JSON: %q", r.body)
	}
	return m
}

func (r response) errorCode(tb testing.TB) string {
	tb.Helper()
	e, _ := r.json(tb)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func call(tb testing.TB, method, url, key, contentType string, body []byte) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
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
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func sameJSON(tb testing.TB, got []byte, want string) {
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

func requireRateLimitHeaders(tb testing.TB, r response, limit int) {
	tb.Helper()
	if got := r.header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		tb.Fatalf("X-RateLimit-Limit = %q, want %d (status %d)", got, limit, r.status)
	}
	remaining, err := strconv.Atoi(r.header.Get("X-RateLimit-Remaining"))
	if err != nil || remaining < 0 || remaining > limit {
		tb.Fatalf("X-RateLimit-Remaining = %q", r.header.Get("X-RateLimit-Remaining"))
	}
	reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil || reset < time.Now().Unix() || reset > time.Now().Add(3*time.Minute).Unix() {
		tb.Fatalf("X-RateLimit-Reset = %q is not a Unix time in the next minutes", r.header.Get("X-RateLimit-Reset"))
	}
}

func concretePath(path string) string {
	path = strings.ReplaceAll(path, "{id}", "wf_01jc0000000000000000000000")
	return strings.ReplaceAll(path, "{workflowId}", "wf_01jc0000000000000000000000")
}

func TestGatewayResponses(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	api := env.URL + routes.BasePath
	key, _ := env.MustKey(t, "acct_gw")

	t.Run("an unknown path is 404 NOT_FOUND in the envelope", func(t *testing.T) {
		r := call(t, "GET", api+"/nothing-here", key, "", nil)
		if r.status != 404 || r.errorCode(t) != "NOT_FOUND" || r.json(t)["success"] != false {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Fatal("no X-Request-Id")
		}
	})

	t.Run("a wrong method on a known path is 405 with Allow", func(t *testing.T) {
		r := call(t, "PATCH", api+"/workflows", key, "", nil)
		if r.status != 405 || r.errorCode(t) != "METHOD_NOT_ALLOWED" || r.header.Get("Allow") != "GET, POST" {
			t.Fatalf("got %d %s Allow=%q", r.status, r.body, r.header.Get("Allow"))
		}
	})

	for _, tc := range []struct{ name, key string }{
		{"a missing key", ""},
		{"a malformed key", "not-a-key"},
		{"the page's example key", "wfk_abc123def456ghi789jkl012mno345pq"},
		{"a well-formed unknown key", func() string { k, _ := apikey.Generate(); return k }()},
	} {
		t.Run(tc.name+" gets the page's 401 body on every authenticated route", func(t *testing.T) {
			for _, route := range routes.All {
				if !route.Authenticated() {
					continue
				}
				r := call(t, route.Method, env.URL+concretePath(route.Path), tc.key, "", nil)
				if r.status != 401 {
					t.Fatalf("%s %s: status %d", route.Method, route.Path, r.status)
				}
				sameJSON(t, r.body, unauthorizedBody)
				if r.header.Get("X-Request-Id") == "" {
					t.Fatalf("%s %s: no X-Request-Id", route.Method, route.Path)
				}
			}
		})
	}

	t.Run("every route answers with the rate-limit headers and a request id", func(t *testing.T) {
		for _, route := range routes.All {
			r := call(t, route.Method, env.URL+concretePath(route.Path), key, "application/json", []byte(`{}`))
			if r.status == 401 || r.status == 403 || r.status >= 500 && r.status != 501 {
				t.Fatalf("%s %s: status %d %s", route.Method, route.Path, r.status, r.body)
			}
			limit := ratelimit.DefaultConfig().Limits[route.Category]
			requireRateLimitHeaders(t, r, int(limit))
			if !httpapi.Implemented(route) && (r.status != 501 || r.errorCode(t) != "NOT_IMPLEMENTED") {
				t.Fatalf("%s %s is not built yet but answered %d %s", route.Method, route.Path, r.status, r.body)
			}
		}
	})

	t.Run("a key without the route's scope gets the page's 403 body, with rate-limit headers", func(t *testing.T) {
		readOnly, _ := env.MustKey(t, "acct_gw", domain.ScopeRunsRead)
		for _, route := range routes.All {
			if !route.Authenticated() || route.Scope == domain.ScopeRunsRead {
				continue
			}
			r := call(t, route.Method, env.URL+concretePath(route.Path), readOnly, "", nil)
			if r.status != 403 {
				t.Fatalf("%s %s: status %d", route.Method, route.Path, r.status)
			}
			sameJSON(t, r.body, forbiddenBody)
			requireRateLimitHeaders(t, r, int(ratelimit.DefaultConfig().Limits[route.Category]))
		}
	})
}

func TestBodies(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	url := env.URL + routes.BasePath + "/auth/api-keys"
	key, _ := env.MustKey(t, "acct_bodies")
	before := len(mustList(t, url, key))

	tests := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code        string
		field       string
	}{
		{"a body that is not JSON by its type is 415", "text/plain", []byte(`{"name":"x","scopes":["runs:read"]}`), 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"a JSON body without a content type is 415", "", []byte(`{"name":"x","scopes":["runs:read"]}`), 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"a body over 256 KiB is 413", "application/json", append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 300<<10)...), 413, "PAYLOAD_TOO_LARGE", ""},
		{"malformed JSON is 400", "application/json", []byte(`{"name":`), 400, "VALIDATION_ERROR", "body"},
		{"an unknown field is 400 naming it", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"admin":true}`), 400, "VALIDATION_ERROR", "admin"},
		{"a field of the wrong type is 400 naming it", "application/json", []byte(`{"name":5,"scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"a missing name is 400", "application/json", []byte(`{"scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"an unknown scope is 400", "application/json", []byte(`{"name":"x","scopes":["runs:write"]}`), 400, "VALIDATION_ERROR", "scopes"},
		{"no scopes is 400", "application/json", []byte(`{"name":"x","scopes":[]}`), 400, "VALIDATION_ERROR", "scopes"},
		{"an expiry in the past is 400", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"expiresAt":"2020-01-01T00:00:00Z"}`), 400, "VALIDATION_ERROR", "expiresAt"},
		{"charset on the JSON type is fine", "application/json; charset=utf-8", []byte(`{"name":"x","scopes":["runs:read"]}`), 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", url, key, tt.contentType, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code == "" {
				return
			}
			if r.errorCode(t) != tt.code {
				t.Fatalf("code %q, want %q", r.errorCode(t), tt.code)
			}
			if tt.field != "" {
				details, _ := r.json(t)["error"].(map[string]any)["details"].([]any)
				if len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
					t.Fatalf("details = %v, want field %q", details, tt.field)
				}
			}
		})
	}
	t.Run("bad bodies change nothing", func(t *testing.T) {
		if after := len(mustList(t, url, key)); after != before+1 {
			t.Fatalf("%d keys after, want %d (only the one good request made one)", after, before+1)
		}
	})
}

func mustList(tb testing.TB, url, key string) []any {
	tb.Helper()
	r := call(tb, "GET", url+"?limit=100", key, "", nil)
	if r.status != 200 {
		tb.Fatalf("list: %d %s", r.status, r.body)
	}
	items, _ := r.json(tb)["data"].([]any)
	return items
}

func TestKeyManagement(t *testing.T) {
	var logs lockedBuffer
	env := gatewaytest.MustStart(t, gatewaytest.Options{Logs: &logs})
	url := env.URL + routes.BasePath + "/auth/api-keys"
	admin, adminID := env.MustKey(t, "acct_keys")
	var secrets []string

	create := func(t *testing.T, key, body string) response {
		t.Helper()
		return call(t, "POST", url, key, "application/json", []byte(body))
	}

	t.Run("creating a key shows its plaintext once, and the key works", func(t *testing.T) {
		r := create(t, admin, `{"name":"Production API Key","scopes":["workflows:read","workflows:write","workflows:execute"]}`)
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		data := r.json(t)["data"].(map[string]any)
		plaintext, _ := data["key"].(string)
		secrets = append(secrets, plaintext, apikey.Hash(plaintext))
		if apikey.Validate(plaintext) != nil || data["prefix"] != plaintext[:8] || data["status"] != "active" ||
			data["name"] != "Production API Key" || !strings.HasPrefix(data["id"].(string), "key_") {
			t.Fatalf("create answered %s", r.body)
		}
		if r.header.Get("Location") != routes.BasePath+"/auth/api-keys/"+data["id"].(string) {
			t.Fatalf("Location = %q", r.header.Get("Location"))
		}
		if w := call(t, "GET", env.URL+routes.BasePath+"/workflows", plaintext, "", nil); w.status == 401 || w.status == 403 {
			t.Fatalf("the new key was refused: %d", w.status)
		}
		listed := call(t, "GET", url, admin, "", nil)
		if bytes.Contains(listed.body, []byte(plaintext)) || bytes.Contains(listed.body, []byte(apikey.Hash(plaintext))) {
			t.Fatal("the listing shows a key or a hash")
		}
		for _, item := range mustList(t, url, admin) {
			k := item.(map[string]any)
			if _, has := k["key"]; has {
				t.Fatal("a listed key has a key field")
			}
			for _, field := range []string{"id", "name", "prefix", "scopes", "createdAt", "lastUsedAt", "expiresAt", "status"} {
				if _, ok := k[field]; !ok {
					t.Fatalf("listed key lacks %s: %v", field, k)
				}
			}
		}
	})

	t.Run("a key cannot grant a scope it does not hold", func(t *testing.T) {
		limited, _ := env.MustKey(t, "acct_keys", domain.ScopeKeysWrite, domain.ScopeRunsRead)
		r := create(t, limited, `{"name":"escalate","scopes":["runs:read","workflows:write"]}`)
		if r.status != 403 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		sameJSON(t, r.body, forbiddenBody)
		if r := create(t, limited, `{"name":"fine","scopes":["runs:read"]}`); r.status != 201 {
			t.Fatalf("granting a held scope: %d %s", r.status, r.body)
		} else {
			secrets = append(secrets, r.json(t)["data"].(map[string]any)["key"].(string))
		}
	})

	t.Run("another account's key id is 404 for revoke and roll", func(t *testing.T) {
		_, otherID := env.MustKey(t, "acct_someone_else")
		for _, r := range []response{
			call(t, "DELETE", url+"/"+otherID, admin, "", nil),
			call(t, "POST", url+"/"+otherID+"/roll", admin, "", nil),
			call(t, "DELETE", url+"/key_nonsense", admin, "", nil),
		} {
			if r.status != 404 || r.errorCode(t) != "NOT_FOUND" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}
	})

	t.Run("a revoked key is refused on its very next request", func(t *testing.T) {
		victim, victimID := env.MustKey(t, "acct_keys")
		if r := call(t, "GET", url, victim, "", nil); r.status != 200 {
			t.Fatalf("before: %d", r.status)
		}
		r := call(t, "DELETE", url+"/"+victimID, admin, "", nil)
		if r.status != 200 || r.json(t)["data"].(map[string]any)["status"] != "revoked" {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		r = call(t, "GET", url, victim, "", nil)
		if r.status != 401 {
			t.Fatalf("after revoke: %d", r.status)
		}
		sameJSON(t, r.body, unauthorizedBody)
	})

	t.Run("rolling gives a new key with the same name and scopes; the old one lasts the grace period", func(t *testing.T) {
		old, oldID := env.MustKey(t, "acct_keys", domain.ScopeWorkflowsRead, domain.ScopeKeysRead)
		r := call(t, "POST", url+"/"+oldID+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":3600}`))
		if r.status != 201 {
			t.Fatalf("roll: %d %s", r.status, r.body)
		}
		data := r.json(t)["data"].(map[string]any)
		fresh := data["key"].(string)
		secrets = append(secrets, fresh, old)
		if data["rolledFrom"] != oldID || data["id"] == oldID || data["name"] != "test key" ||
			len(data["scopes"].([]any)) != 2 {
			t.Fatalf("roll answered %s", r.body)
		}
		for name, key := range map[string]string{"new": fresh, "old, in its grace period": old} {
			if r := call(t, "GET", url, key, "", nil); r.status != 200 {
				t.Fatalf("the %s key got %d", name, r.status)
			}
		}
	})

	t.Run("rolling with no grace period ends the old key at once", func(t *testing.T) {
		old, oldID := env.MustKey(t, "acct_keys")
		if r := call(t, "POST", url+"/"+oldID+"/roll", admin, "", nil); r.status != 201 {
			t.Fatalf("roll: %d %s", r.status, r.body)
		}
		if r := call(t, "GET", url, old, "", nil); r.status != 401 {
			t.Fatalf("old key after roll: %d", r.status)
		}
		if r := call(t, "POST", url+"/"+oldID+"/roll", admin, "", nil); r.status != 409 {
			t.Fatalf("rolling an expired key: %d %s", r.status, r.body)
		}
	})

	t.Run("a key may not roll a key with scopes it lacks", func(t *testing.T) {
		weak, _ := env.MustKey(t, "acct_keys", domain.ScopeKeysWrite)
		if r := call(t, "POST", url+"/"+adminID+"/roll", weak, "", nil); r.status != 403 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("the grace period is bounded", func(t *testing.T) {
		_, id := env.MustKey(t, "acct_keys")
		r := call(t, "POST", url+"/"+id+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":86401}`))
		if r.status != 400 || r.errorCode(t) != "VALIDATION_ERROR" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("lastUsedAt is set once a key is used", func(t *testing.T) {
		for _, item := range mustList(t, url, admin) {
			k := item.(map[string]any)
			if k["id"] == adminID && k["lastUsedAt"] == nil {
				t.Fatal("the admin key has been used but shows no lastUsedAt")
			}
		}
	})

	t.Run("pages follow nextCursor, newest first, without repeats", func(t *testing.T) {
		seen := map[string]bool{}
		next := ""
		var previous string
		for pages := 0; pages < 50; pages++ {
			r := call(t, "GET", url+"?limit=2&cursor="+next, admin, "", nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			m := r.json(t)
			for _, item := range m["data"].([]any) {
				id := item.(map[string]any)["id"].(string)
				if seen[id] || (previous != "" && id > previous) {
					t.Fatalf("%s repeated or out of order", id)
				}
				seen[id], previous = true, id
			}
			c, _ := m["meta"].(map[string]any)["nextCursor"].(string)
			if c == "" {
				break
			}
			next = c
		}
		if len(seen) != len(mustList(t, url, admin)) {
			t.Fatalf("paging saw %d keys, one page of 100 shows %d", len(seen), len(mustList(t, url, admin)))
		}
		for _, bad := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=garbage"} {
			if r := call(t, "GET", url+bad, admin, "", nil); r.status != 400 {
				t.Fatalf("%s: %d", bad, r.status)
			}
		}
	})

	t.Run("no key or hash is ever logged", func(t *testing.T) {
		secrets = append(secrets, admin, apikey.Hash(admin))
		for _, s := range secrets {
			if strings.Contains(logs.String(), s) {
				t.Fatalf("a key or hash appears in the logs")
			}
		}
		if !strings.Contains(logs.String(), `"request_id"`) {
			t.Fatal("the logs hold no request lines; the check above proves nothing")
		}
	})
}

func TestRateLimits(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: 3}})
	url := env.URL + routes.BasePath + "/workflows"
	key, keyID := env.MustKey(t, "acct_limits")

	t.Run("the fourth write in a minute is 429 with the page's body and Retry-After", func(t *testing.T) {
		env.Clock.Set(time.Now())
		for i := 2; i >= 0; i-- {
			r := call(t, "POST", url, key, "", nil)
			if r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(i) {
				t.Fatalf("remaining = %q, want %d", r.header.Get("X-RateLimit-Remaining"), i)
			}
		}
		r := call(t, "POST", url, key, "", nil)
		if r.status != 429 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		sameJSON(t, r.body, `{"success":false,"error":{"code":"RATE_LIMITED","message":"Rate limit exceeded. Limit: 3 requests per minute."}}`)
		requireRateLimitHeaders(t, r, 3)
		if r.header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("remaining on a 429 = %q", r.header.Get("X-RateLimit-Remaining"))
		}
		retry, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 121 {
			t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
		}
		if r := call(t, "GET", url, key, "", nil); r.status == 429 {
			t.Fatal("reads were limited by writes")
		}

		reset, _ := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
		env.Clock.Set(time.Unix(reset, 0))
		if r := call(t, "POST", url, key, "", nil); r.status == 429 {
			t.Fatalf("a request at X-RateLimit-Reset was refused: %s", r.body)
		}
	})

	t.Run("rolling a key does not reset its window", func(t *testing.T) {
		env.Clock.Set(time.Now().Add(10 * time.Minute))
		admin, _ := env.MustKey(t, "acct_limits")
		r := call(t, "POST", env.URL+routes.BasePath+"/auth/api-keys/"+keyID+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":60}`))
		if r.status != 201 {
			t.Fatalf("roll: %d %s", r.status, r.body)
		}
		fresh := r.json(t)["data"].(map[string]any)["key"].(string)
		call(t, "POST", url, key, "", nil)
		call(t, "POST", url, key, "", nil)
		r = call(t, "POST", url, fresh, "", nil)
		if r.header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("the rolled key's first write shows remaining %q, want 0 (window shared with the old key)", r.header.Get("X-RateLimit-Remaining"))
		}
		if r := call(t, "POST", url, fresh, "", nil); r.status != 429 {
			t.Fatalf("the rolled key got a fresh window: %d", r.status)
		}
	})

	t.Run("webhooks are limited per source IP with the same headers", func(t *testing.T) {
		env.Clock.Set(time.Now())
		r := call(t, "POST", env.URL+routes.BasePath+"/webhooks/wf_01jc0000000000000000000000", "", "application/json", []byte(`{}`))
		requireRateLimitHeaders(t, r, 10000)
	})
}

func TestAuthenticationFailsClosed(t *testing.T) {
	dead := dynamotest.MustUnreachableClient(t)
	gw, err := localgateway.FromServices(lambdaapp.NewServices(dead, "none", ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gw)
	defer server.Close()
	key, _ := apikey.Generate()
	r := call(t, "GET", server.URL+routes.BasePath+"/workflows", key, "", nil)
	if r.status != 503 || r.errorCode(t) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("with the key store down: %d %s", r.status, r.body)
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDynamoDBCallsPerRoute counts the DynamoDB calls one request makes on
// each route, for docs/performance.md (`make bench` prints the table). The key
// was used just before, so lastUsedAt needs no write: that costs one more
// UpdateItem per key at most once a minute.
func TestDynamoDBCallsPerRoute(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_calls")
	call(t, "GET", env.URL+routes.BasePath+"/workflows", key, "", nil) // sets lastUsedAt

	for _, route := range routes.All {
		path, body, contentType := concretePath(route.Path), []byte(nil), ""
		switch route.Function {
		case "create-api-key":
			body, contentType = []byte(`{"name":"n","scopes":["runs:read"]}`), "application/json"
		case "revoke-api-key", "roll-api-key":
			_, id := env.MustKey(t, "acct_calls")
			path = strings.Replace(route.Path, "{id}", id, 1)
		}
		env.Table.Calls.Reset()
		r := call(t, route.Method, env.URL+path, key, contentType, body)
		calls := env.Table.Calls.Snapshot()
		t.Logf("%-7s %-36s %3d  %d calls %v", route.Method, route.Path, r.status, env.Table.Calls.Total(), calls)

		want := map[string]int{"UpdateItem": 1} // the limiter
		if route.Authenticated() {
			want["GetItem"] = 1 // the authorizer
		}
		switch route.Function {
		case "list-api-keys":
			want["Query"], want["BatchGetItem"] = 1, 1
		case "create-api-key":
			want["PutItem"] = 2
		case "revoke-api-key":
			want["GetItem"], want["UpdateItem"] = 2, 2
		case "roll-api-key":
			want["GetItem"], want["PutItem"], want["UpdateItem"] = 4, 2, 2
		}
		for op, n := range want {
			if calls[op] != n {
				t.Errorf("%s %s: %s called %d times, want %d (all calls: %v)", route.Method, route.Path, op, calls[op], n, calls)
			}
		}
		total := 0
		for _, n := range want {
			total += n
		}
		// Least privilege, shown: the route's function is granted exactly
		// the actions it was seen to call (the authorizer's GetItem is the
		// authorizer's own).
		called := map[string]int{}
		for op, n := range calls {
			called["dynamodb:"+op] = n
		}
		if route.Authenticated() {
			called[routes.ActionGetItem]--
		}
		var used []string
		for action, n := range called {
			if n > 0 {
				used = append(used, action)
			}
		}
		granted := slices.Clone(routes.DynamoDBActions[route.Function])
		slices.Sort(used)
		slices.Sort(granted)
		if !slices.Equal(used, granted) {
			t.Errorf("%s %s: called %v, but its function is granted %v", route.Method, route.Path, used, granted)
		}
		if env.Table.Calls.Total() != total {
			t.Errorf("%s %s: %d calls, want %d (%v)", route.Method, route.Path, env.Table.Calls.Total(), total, calls)
		}
	}
}
