// The local gateway's tests cover how it mimics API Gateway: routing, the
// gateway responses, the authorizer call and its policy. What the functions
// behind it do is tested with their features and the pipeline.
package localgateway_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestGatewayResponses(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	api := env.URL + routes.BasePath
	key, _ := env.MustKey(t, "acct_gw")

	t.Run("an unknown path is 404 NOT_FOUND in the envelope", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", api+"/nothing-here", key, "", nil)
		if r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" || r.JSON(t)["success"] != false {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Fatal("no X-Request-Id")
		}
	})

	t.Run("a wrong method on a known path is 405 with Allow", func(t *testing.T) {
		r := gatewaytest.Call(t, "PATCH", api+"/workflows", key, "", nil)
		if r.Status != 405 || r.ErrorCode(t) != "METHOD_NOT_ALLOWED" || r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("got %d %s Allow=%q", r.Status, r.Body, r.Header.Get("Allow"))
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
				r := gatewaytest.Call(t, route.Method, env.URL+gatewaytest.ConcretePath(route.Path), tc.key, "", nil)
				if r.Status != 401 {
					t.Fatalf("%s %s: status %d", route.Method, route.Path, r.Status)
				}
				gatewaytest.SameJSON(t, r.Body, gatewaytest.UnauthorizedBody)
				if r.Header.Get("X-Request-Id") == "" {
					t.Fatalf("%s %s: no X-Request-Id", route.Method, route.Path)
				}
			}
		})
	}
}

func TestAuthenticationFailsClosed(t *testing.T) {
	dead := dynamotest.MustUnreachableClient(t)
	gw, err := localapp.Gateway(lambdaapp.New(dead, "none", ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)), localapp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gw)
	defer server.Close()
	key, _ := apikey.Generate()
	r := gatewaytest.Call(t, "GET", server.URL+routes.BasePath+"/workflows", key, "", nil)
	if r.Status != 503 || r.ErrorCode(t) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("with the key store down: %d %s", r.Status, r.Body)
	}
}

// TestAHungEngineIs503WithinTheAuthorizersDeadline freezes DynamoDB the way
// kill -STOP does (connections accepted, never answered): the caller gets
// 503 in the envelope once the authorizer's lookup deadline passes, not a
// hang. The time it took is logged for docs/performance.md, not asserted.
func TestAHungEngineIs503WithinTheAuthorizersDeadline(t *testing.T) {
	gw, err := localapp.Gateway(lambdaapp.New(dynamotest.MustHungClient(t), "hung", ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)), localapp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gw)
	defer server.Close()
	key, _ := apikey.Generate()
	start := time.Now()
	r := gatewaytest.Call(t, "GET", server.URL+routes.ListAPIKeys.Path, key, "", nil)
	t.Logf("answered %d after %v with the engine frozen", r.Status, time.Since(start).Round(time.Millisecond))
	if r.Status != 503 || r.ErrorCode(t) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("with the engine frozen: %d %s", r.Status, r.Body)
	}
}

// TestNoMoreThanTheBodyLimitIsReadBeforeAuthenticating sends 4 MiB with a
// made-up key: the gateway answers 401 having read at most the function's
// body limit and one byte more.
func TestNoMoreThanTheBodyLimitIsReadBeforeAuthenticating(t *testing.T) {
	table := dynamotest.MustTable(t)
	gw, err := localapp.Gateway(lambdaapp.New(table.Client, table.Name, ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)), localapp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	body := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte("a"), 4<<20))}
	req := httptest.NewRequest("POST", routes.CreateAPIKey.Path, body)
	req.ContentLength = -1 // as if chunked: the gateway cannot refuse it by its header
	req.Header.Set("x-api-key", "wfk_abc123def456ghi789jkl012mno345pq")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	if read := body.n.Load(); read > httpapi.DefaultMaxBodyBytes+1 {
		t.Fatalf("the gateway read %d bytes of an unauthenticated body; the function limit is %d", read, httpapi.DefaultMaxBodyBytes)
	}
}

type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
