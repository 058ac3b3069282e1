// The local gateway's tests cover how it mimics API Gateway: routing, the
// gateway responses, the authorizer call and its policy. What the functions
// behind it do is tested with their features and the pipeline.
package localgateway_test

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
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
	gw, err := localapp.Gateway(lambdaapp.New(dead, "none", ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)))
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
