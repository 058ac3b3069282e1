package localapp_test

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestEveryBuiltRouteIsWired(t *testing.T) {
	table := dynamotest.MustTable(t)
	features := localapp.FeatureHandlers(lambdaapp.New(table.Client, table.Name, ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)), localapp.Deps{})
	for _, route := range routes.All {
		if _, wired := features[route]; wired != route.Built {
			t.Errorf("%s %s: built %v in the route table, wired %v here", route.Method, route.Path, route.Built, wired)
		}
	}
	if len(features) > len(routes.All) {
		t.Errorf("%d handlers for %d routes: one is wired to a route not in the table", len(features), len(routes.All))
	}
}

// TestDynamoDBCallsPerRoute counts the DynamoDB calls one request makes on
// each route, for docs/performance.md (`make bench` prints the table). The key
// was used just before, so lastUsedAt needs no write: that costs one more
// UpdateItem per key at most once a minute.
func TestDynamoDBCallsPerRoute(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_calls")
	gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/workflows", key, "", nil) // sets lastUsedAt

	for _, route := range routes.All {
		path, body, contentType := gatewaytest.ConcretePath(route.Path), []byte(nil), ""
		switch route.Function {
		case "create-api-key":
			body, contentType = []byte(`{"name":"n","scopes":["runs:read"]}`), "application/json"
		case "revoke-api-key", "roll-api-key":
			_, id := env.MustKey(t, "acct_calls")
			path = strings.Replace(route.Path, "{id}", id, 1)
		}
		env.Table.Calls.Reset()
		r := gatewaytest.Call(t, route.Method, env.URL+path, key, contentType, body)
		calls := env.Table.Calls.Snapshot()
		t.Logf("%-7s %-36s %3d  %d calls %v", route.Method, route.Path, r.Status, env.Table.Calls.Total(), calls)

		want := map[string]int{"UpdateItem": 1} // the limiter
		if route.Authenticated() {
			want["GetItem"] = 1 // the authorizer
		}
		switch route.Function {
		case "list-api-keys":
			want["Query"], want["BatchGetItem"] = 1, 1
		case "create-api-key":
			// The active-key cap reads the account's keys first.
			want["PutItem"], want["Query"], want["BatchGetItem"] = 2, 1, 1
		case "revoke-api-key":
			// The target's index and key items (its scopes are checked
			// before the write), then the write.
			want["GetItem"], want["UpdateItem"] = 3, 2
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
		function, _ := routes.FunctionByName(route.Function)
		granted := slices.Clone(function.TableActions)
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
