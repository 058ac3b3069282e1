package httpapi_test

import (
	"os"
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

// The pipeline through the local gateway, on every route of the table.
func TestEveryRoute(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_gw")

	t.Run("every route answers with the rate-limit headers and a request id", func(t *testing.T) {
		for _, route := range routes.All {
			r := gatewaytest.Call(t, route.Method, env.URL+gatewaytest.ConcretePath(route.Path), key, "application/json", []byte(`{}`))
			// A delivery without a signature is the receiving route's own 401,
			// given after the pipeline.
			unsigned := route == &routes.ReceiveWebhook && r.Status == 401
			if !unsigned && (r.Status == 401 || r.Status == 403 || r.Status >= 500 && r.Status != 501) {
				t.Fatalf("%s %s: status %d %s", route.Method, route.Path, r.Status, r.Body)
			}
			limit := ratelimit.DefaultConfig().Limits[route.Category]
			gatewaytest.RequireRateLimitHeaders(t, r, int(limit))
			if !route.Built && (r.Status != 501 || r.ErrorCode(t) != "NOT_IMPLEMENTED") {
				t.Fatalf("%s %s is not built yet but answered %d %s", route.Method, route.Path, r.Status, r.Body)
			}
		}
	})

	t.Run("a key without the route's scope gets the page's 403 body, with rate-limit headers", func(t *testing.T) {
		readOnly, _ := env.MustKey(t, "acct_gw", domain.ScopeRunsRead)
		for _, route := range routes.All {
			if !route.Authenticated() || route.Scope == domain.ScopeRunsRead {
				continue
			}
			r := gatewaytest.Call(t, route.Method, env.URL+gatewaytest.ConcretePath(route.Path), readOnly, "", nil)
			if r.Status != 403 {
				t.Fatalf("%s %s: status %d", route.Method, route.Path, r.Status)
			}
			gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
			gatewaytest.RequireRateLimitHeaders(t, r, int(ratelimit.DefaultConfig().Limits[route.Category]))
		}
	})
}

// X-Key-Scopes says, on every answer after the key was accepted, what the
// key may do: in domain.AllScopes order, whatever order it was issued in.
func TestTheKeyScopesHeader(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_scopes", domain.ScopeRunsRead, domain.ScopeWorkflowsExecute, domain.ScopeWorkflowsRead)
	const want = "workflows:read, workflows:execute, runs:read"
	requireScopes := func(t *testing.T, r gatewaytest.Response, wantStatus int) {
		t.Helper()
		if r.Status != wantStatus {
			t.Fatalf("status %d, want %d: %s", r.Status, wantStatus, r.Body)
		}
		if got := r.Header.Values(httpapi.HeaderKeyScopes); len(got) != 1 || got[0] != want {
			t.Errorf("X-Key-Scopes %q, want %q", got, want)
		}
	}

	t.Run("on a 200", func(t *testing.T) {
		requireScopes(t, gatewaytest.Call(t, "GET", env.URL+routes.ListWorkflows.Path, key, "", nil), 200)
	})
	t.Run("on a 403 for a scope the key lacks", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", env.URL+routes.CreateConnection.Path, key, "application/json", []byte(`{}`))
		requireScopes(t, r, 403)
		gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
	})
	t.Run("on a 404 of the feature's", func(t *testing.T) {
		requireScopes(t, gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/runs/run_01jc0000000000000000000000", key, "", nil), 404)
	})
	t.Run("not on a 401, with a bad key or none", func(t *testing.T) {
		for _, bad := range []string{"", "wfk_00000000000000000000000000000000", "not-a-key"} {
			r := gatewaytest.Call(t, "GET", env.URL+routes.ListWorkflows.Path, bad, "", nil)
			if r.Status != 401 {
				t.Fatalf("key %q: status %d", bad, r.Status)
			}
			if got, set := r.Header[httpapi.HeaderKeyScopes]; set {
				t.Errorf("key %q: a 401 with X-Key-Scopes %q", bad, got)
			}
		}
	})
	t.Run("not on a route that takes no key, even when one is sent", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", env.URL+routes.GetOpenAPI.Path, key, "", nil)
		if _, set := r.Header[httpapi.HeaderKeyScopes]; r.Status != 200 || set {
			t.Errorf("status %d, X-Key-Scopes %q", r.Status, r.Header.Values(httpapi.HeaderKeyScopes))
		}
	})
	t.Run("the value is the scopes joined by a comma and a space", func(t *testing.T) {
		if got := httpapi.KeyScopes(domain.Scopes{domain.ScopeWorkflowsRead}); got != "workflows:read" {
			t.Errorf("one scope: %q", got)
		}
		if got := httpapi.KeyScopes(domain.Scopes(domain.AllScopes)); got != "workflows:read, workflows:write, workflows:execute, runs:read, "+
			"connections:read, connections:write, keys:read, keys:write" {
			t.Errorf("every scope: %q", got)
		}
	})
}

func TestRateLimits(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: 3, ratelimit.CategoryPublic: 2}})
	url := env.URL + routes.BasePath + "/workflows"
	key, _ := env.MustKey(t, "acct_limits")

	t.Run("the fourth write in a minute is 429 with the page's body and Retry-After", func(t *testing.T) {
		env.Clock.Set(time.Now())
		for i := 2; i >= 0; i-- {
			r := gatewaytest.Call(t, "POST", url, key, "", nil)
			if r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(i) {
				t.Fatalf("remaining = %q, want %d", r.Header.Get("X-RateLimit-Remaining"), i)
			}
		}
		r := gatewaytest.Call(t, "POST", url, key, "", nil)
		if r.Status != 429 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		gatewaytest.SameJSON(t, r.Body, `{"success":false,"error":{"code":"RATE_LIMITED","message":"Rate limit exceeded. Limit: 3 requests per minute."}}`)
		gatewaytest.RequireRateLimitHeaders(t, r, 3)
		if got := r.Header.Get(httpapi.HeaderKeyScopes); got == "" {
			t.Error("a 429 after the key was accepted carries no X-Key-Scopes")
		}
		if r.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("remaining on a 429 = %q", r.Header.Get("X-RateLimit-Remaining"))
		}
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 121 {
			t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
		if r := gatewaytest.Call(t, "GET", url, key, "", nil); r.Status == 429 {
			t.Fatal("reads were limited by writes")
		}

		reset, _ := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
		env.Clock.Set(time.Unix(reset, 0))
		if r := gatewaytest.Call(t, "POST", url, key, "", nil); r.Status == 429 {
			t.Fatalf("a request at X-RateLimit-Reset was refused: %s", r.Body)
		}
	})

	t.Run("webhooks are limited per source IP with the same headers", func(t *testing.T) {
		env.Clock.Set(time.Now())
		r := gatewaytest.Call(t, "POST", env.URL+routes.BasePath+"/webhooks/wf_01jc0000000000000000000000", "", "application/json", []byte(`{}`))
		gatewaytest.RequireRateLimitHeaders(t, r, 10000)
	})

	t.Run("the OpenAPI document takes no key and is limited per source IP", func(t *testing.T) {
		env.Clock.Set(time.Now().Add(20 * time.Minute))
		doc := env.URL + routes.GetOpenAPI.Path
		for i := 1; i >= 0; i-- {
			r := gatewaytest.Call(t, "GET", doc, "", "", nil)
			if r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(i) {
				t.Fatalf("%d, remaining %q, want 200 and %d", r.Status, r.Header.Get("X-RateLimit-Remaining"), i)
			}
		}
		r := gatewaytest.Call(t, "GET", doc, key, "", nil)
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("the third read of the document in a minute: %d %s", r.Status, r.Body)
		}
	})
}

// hostileIDs are path parameters that cannot be one of our ids: control
// characters (which the proxy adapter could not parse), another kind's
// prefix, a bad ULID, bytes that are not UTF-8, a path traversal.
var hostileIDs = []string{
	"%C3%95%C3%9A%C2%9Bwr%C2%9B%0Eu", "abc%0Adef", "abc%00def", "key_01JC0000000000000000000000%0A",
	"wf_01jc0000000000000000000000x", "run_zzzzzzzzzzzzzzzzzzzzzzzzzz", "%FF%FE", "..%2F..%2Fetc", "%20",
}

func TestIDsThatCannotBeOursAre404(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_ids")
	for _, route := range routes.All {
		if len(route.PathIDs) == 0 {
			continue
		}
		for _, id := range hostileIDs {
			path := route.Path
			for param := range route.PathIDs {
				path = strings.ReplaceAll(path, "{"+param+"}", id)
			}
			path = strings.ReplaceAll(path, "{stepId}", "someStep") // a step id of the workflow's, not one of ours
			t.Run(route.Method+" "+path+" is 404 after authentication and the limiter, with no read", func(t *testing.T) {
				env.Table.Calls.Reset()
				r := gatewaytest.Call(t, route.Method, env.URL+path, key, "application/json", []byte(`{}`))
				if r.Status != 404 || r.ErrorCode(t) != string(domain.CodeNotFound) {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				gatewaytest.RequireRateLimitHeaders(t, r, int(ratelimit.DefaultConfig().Limits[route.Category]))
				calls := env.Table.Calls.Snapshot()
				wantGets := 0
				if route.Authenticated() {
					wantGets = 1 // the authorizer's
				}
				if calls["GetItem"] != wantGets || calls["Query"] != 0 || calls["BatchGetItem"] != 0 || calls["PutItem"] != 0 {
					t.Fatalf("DynamoDB calls %v: the resource was read or written", calls)
				}
			})
		}
	}
}

// TestLastUsedAtIsWrittenOncePerKeyPerProcess sends 1000 reads, 50 at a
// time, with a key never used before: every request's authorizer context
// says lastUsedAt is stale, and the process must still write it once.
func TestLastUsedAtIsWrittenOncePerKeyPerProcess(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryRead: 100000}})
	key, _ := env.MustKey(t, "acct_usage")
	url := env.URL + routes.ListWorkflows.Path
	env.Table.Calls.Reset()
	const requests, parallel = 1000, 50
	var wg sync.WaitGroup
	work := make(chan struct{}, requests)
	for range requests {
		work <- struct{}{}
	}
	close(work)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if r := gatewaytest.Call(t, "GET", url, key, "", nil); r.Status == 401 || r.Status == 429 {
					t.Errorf("status %d", r.Status)
				}
			}
		}()
	}
	wg.Wait()
	calls := env.Table.Calls.Snapshot()
	// One UpdateItem per request is the limiter's; the rest are lastUsedAt.
	lastUsedWrites := calls["UpdateItem"] - requests
	t.Logf("%d requests: %d lastUsedAt writes (%v)", requests, lastUsedWrites, calls)
	if lastUsedWrites != 1 {
		t.Fatalf("%d lastUsedAt writes for %d requests with one key, want 1", lastUsedWrites, requests)
	}
}
