// Package events_test holds the sample events of events/ to the Go types
// their functions take, to the route table, and to the real handlers: a
// sample event that `sam local invoke -e` accepts but that loses a field on
// decoding, names a route that does not exist, or makes its function fail is
// worse than none.
package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// authorizerFile is the one event that is not a route's proxy event.
const authorizerFile = routes.AuthorizerFunction + ".json"

// wantStatus is what each implemented route answers to its sample event on a
// fresh table, where the key the event's authorizer context names is unknown
// but trusted (API Gateway vouched for it). A route still answering 501
// NOT_IMPLEMENTED needs no entry; one that is implemented must have one.
var wantStatus = map[string]int{
	"list-api-keys":  http.StatusOK,
	"create-api-key": http.StatusCreated,
	// The key the event revokes is not in a fresh table.
	"revoke-api-key": http.StatusNotFound,
	"get-openapi":    http.StatusOK,
	"get-console":    http.StatusOK,

	"create-connection": http.StatusCreated,

	"list-workflows":  http.StatusOK,
	"create-workflow": http.StatusCreated,
	// The workflow the event reads is not in a fresh table.
	"get-workflow": http.StatusNotFound,
	// Nor the workflow whose notification secret the event rolls.
	"roll-notify-secret": http.StatusNotFound,

	// The workflow the event starts, and the run it reads, are not in a
	// fresh table.
	"run-workflow": http.StatusNotFound,
	"get-run":      http.StatusNotFound,

	// The event's signature was made in December 2024: long stale, so the
	// delivery is refused before the workflow is looked for.
	"receive-webhook": http.StatusUnauthorized,
	// A token no step holds: the one answer for unknown, used and expired.
	"receive-signal": http.StatusNotFound,
}

// sample is one file of events/.
type sample struct {
	file     string // e.g. list-api-keys.json
	function string // the Lambda it is for: the file name without .json
	raw      []byte
}

func mustSamples(tb testing.TB) []sample {
	tb.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("events/ holds no .json sample events")
	}
	var out []sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, sample{file: f, function: strings.TrimSuffix(f, ".json"), raw: raw})
	}
	return out
}

func mustProxySamples(tb testing.TB) []sample {
	tb.Helper()
	var out []sample
	for _, s := range mustSamples(tb) {
		if s.file != authorizerFile {
			out = append(out, s)
		}
	}
	return out
}

// decodeStrict decodes one JSON value into dst, refusing fields dst does not
// have and anything after the value.
func decodeStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

func mustProxyEvent(tb testing.TB, s sample) events.APIGatewayProxyRequest {
	tb.Helper()
	var ev events.APIGatewayProxyRequest
	if err := decodeStrict(s.raw, &ev); err != nil {
		tb.Fatalf("%s does not decode into events.APIGatewayProxyRequest: %v", s.file, err)
	}
	return ev
}

func mustAuthorizerEvent(tb testing.TB) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	tb.Helper()
	raw, err := os.ReadFile(authorizerFile)
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := decodeStrict(raw, &ev); err != nil {
		tb.Fatalf("%s does not decode into events.APIGatewayCustomAuthorizerRequestTypeRequest: %v", authorizerFile, err)
	}
	return ev
}

func TestEveryEventRoundTripsThroughTheGoTypeItsFunctionTakes(t *testing.T) {
	for _, s := range mustSamples(t) {
		t.Run(s.file+" decodes strictly and re-encodes without losing a value", func(t *testing.T) {
			var typed any = &events.APIGatewayProxyRequest{}
			if s.file == authorizerFile {
				typed = &events.APIGatewayCustomAuthorizerRequestTypeRequest{}
			}
			if err := decodeStrict(s.raw, typed); err != nil {
				t.Fatalf("decode into %T: %v", typed, err)
			}
			encoded, err := json.Marshal(typed)
			if err != nil {
				t.Fatal(err)
			}
			before, after := pruned(t, s.raw), pruned(t, encoded)
			if diffs := differences("", before, after); len(diffs) > 0 {
				t.Errorf("%T changes the event:\n%s", typed, strings.Join(diffs, "\n"))
			}
		})
	}
}

// pruned parses JSON and drops what carries no value (null, "", false, {},
// []), recursively: the Go types write absent fields as zero values and
// omit some zero values, neither of which loses anything.
func pruned(tb testing.TB, raw []byte) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return prune(v)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if p := prune(e); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = prune(e)
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	}
	return v
}

// differences lists the JSON paths at which a and b differ.
func differences(path string, a, b any) []string {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			out = append(out, differences(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{fmt.Sprintf("  %s: file has %v, re-encoded has %v", path, a, b)}
}

func TestEveryProxyEventIsARouteNamedAfterItsFunction(t *testing.T) {
	covered := map[string]bool{}
	for _, s := range mustProxySamples(t) {
		t.Run(s.file+" is the route table's "+s.function+" route", func(t *testing.T) {
			ev := mustProxyEvent(t, s)
			route, ok := routes.ByFunction(s.function)
			if !ok {
				t.Fatalf("no route is served by function %q; name the file after the function its event is for", s.function)
			}
			if ev.HTTPMethod != route.Method || ev.Resource != route.Path {
				t.Fatalf("event is %s %s, but %s serves %s %s", ev.HTTPMethod, ev.Resource, s.function, route.Method, route.Path)
			}
			covered[family(route)] = true
		})
	}
	t.Run("every route family has a sample event", func(t *testing.T) {
		for _, r := range routes.All {
			if !covered[family(r)] {
				t.Errorf("no sample event for the %q routes (e.g. %s, %s %s)", family(r), r.Function, r.Method, r.Path)
			}
		}
	})
}

// family is the first path segment after the base path: workflows, runs,
// connections, auth (the API keys), webhooks; console for the console's
// routes, at the root.
func family(r *routes.Route) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.Path, routes.BasePath), "/")
	first, _, _ := strings.Cut(rest, "/")
	return first
}

var pathParameterName = regexp.MustCompile(`\{([^}]+)\}`)

func TestEveryProxyEventIsShapedAsAPIGatewayRESTSendsIt(t *testing.T) {
	for _, s := range mustProxySamples(t) {
		t.Run(s.file, func(t *testing.T) { requireAPIGatewayShape(t, s) })
	}
}

func requireAPIGatewayShape(t *testing.T, s sample) {
	t.Helper()
	ev := mustProxyEvent(t, s)
	route, ok := routes.ByFunction(s.function)
	if !ok {
		t.Fatalf("no route is served by function %q", s.function)
	}
	rc := ev.RequestContext

	t.Run("has a request context that agrees with the request", func(t *testing.T) {
		if rc.ResourcePath != ev.Resource || rc.HTTPMethod != ev.HTTPMethod {
			t.Errorf("requestContext has %s %s, event has %s %s", rc.HTTPMethod, rc.ResourcePath, ev.HTTPMethod, ev.Resource)
		}
		if want := "/" + rc.Stage + ev.Path; rc.Stage == "" || rc.Path != want {
			t.Errorf("requestContext.path = %q, want the stage-prefixed path %q", rc.Path, want)
		}
		if !regexp.MustCompile(`^\d{12}$`).MatchString(rc.AccountID) || rc.APIID == "" || rc.RequestID == "" {
			t.Errorf("requestContext needs a 12-digit accountId, an apiId and a requestId: %+v", rc)
		}
		if rc.Identity.SourceIP == "" || rc.RequestTimeEpoch == 0 {
			t.Errorf("requestContext needs identity.sourceIp and requestTimeEpoch")
		}
	})

	t.Run("fills the resource's path parameters into its path", func(t *testing.T) {
		path := ev.Resource
		var names []string
		for _, m := range pathParameterName.FindAllStringSubmatch(ev.Resource, -1) {
			names = append(names, m[1])
			value := ev.PathParameters[m[1]]
			if value == "" {
				t.Fatalf("pathParameters lacks %q", m[1])
			}
			path = strings.Replace(path, m[0], value, 1)
		}
		if len(ev.PathParameters) != len(names) {
			t.Errorf("pathParameters = %v, want exactly %v", ev.PathParameters, names)
		}
		if ev.Path != path {
			t.Errorf("path = %q, want %q", ev.Path, path)
		}
	})

	t.Run("has single- and multi-value headers and query parameters that agree", func(t *testing.T) {
		if d := singleMultiDisagreement(ev.Headers, ev.MultiValueHeaders); d != "" {
			t.Errorf("headers: %s", d)
		}
		if d := singleMultiDisagreement(ev.QueryStringParameters, ev.MultiValueQueryStringParameters); d != "" {
			t.Errorf("query parameters: %s", d)
		}
	})

	t.Run("declares its body's type and length", func(t *testing.T) {
		if ev.Body == "" {
			return
		}
		if ct := header(ev.Headers, "Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if cl := header(ev.Headers, "Content-Length"); cl != strconv.Itoa(len(ev.Body)) {
			t.Errorf("Content-Length = %q, body has %d bytes", cl, len(ev.Body))
		}
		if !json.Valid([]byte(ev.Body)) {
			t.Errorf("body is not JSON: %s", ev.Body)
		}
	})

	if !route.Authenticated() {
		t.Run("carries no key and no authorizer context, as its route takes none", func(t *testing.T) {
			if header(ev.Headers, authcontext.HeaderAPIKey) != "" || rc.Authorizer != nil {
				t.Errorf("an unauthenticated route's event has a key or an authorizer context")
			}
		})
		return
	}

	t.Run("carries a well-formed fake key and the authorizer's context as strings", func(t *testing.T) {
		if err := apikey.Validate(header(ev.Headers, authcontext.HeaderAPIKey)); err != nil {
			t.Errorf("x-api-key is not a well-formed key (wfk_, 32 of [a-z0-9], valid checksum)")
		}
		for _, name := range authorizerContextNames {
			v, ok := rc.Authorizer[name].(string)
			if !ok || v == "" {
				t.Errorf("requestContext.authorizer.%s = %#v, want a non-empty string as API Gateway passes it", name, rc.Authorizer[name])
			}
		}
		if rc.Authorizer["principalId"] != rc.Authorizer[authcontext.KeyID] {
			t.Errorf("principalId %v is not the key id %v, as the authorizer makes it", rc.Authorizer["principalId"], rc.Authorizer[authcontext.KeyID])
		}
		scopes, _ := rc.Authorizer[authcontext.Scopes].(string)
		if _, unknown := domain.NormalizeScopes(strings.Fields(scopes)); len(unknown) > 0 {
			t.Errorf("scopes %q holds unknown scopes %v", scopes, unknown)
		}
		if !domain.ParseScopeList(scopes).Has(route.Scope) {
			t.Errorf("scopes %q lack %s, which %s needs", scopes, route.Scope, s.function)
		}
		if _, err := strconv.ParseInt(rc.Authorizer[authcontext.LastUsedAt].(string), 10, 64); err != nil {
			t.Errorf("lastUsedAt is not Unix milliseconds: %v", err)
		}
	})
}

// authorizerContextNames is what API Gateway puts in requestContext.authorizer
// after our authorizer allowed a request: the principal and its context.
var authorizerContextNames = []string{
	"principalId",
	authcontext.AccountID, authcontext.KeyID, authcontext.Scopes,
	authcontext.RateLimitID, authcontext.LastUsedAt,
}

func singleMultiDisagreement(single map[string]string, multi map[string][]string) string {
	if len(single) != len(multi) {
		return fmt.Sprintf("%d single-value names, %d multi-value names", len(single), len(multi))
	}
	for k, v := range single {
		vs := multi[k]
		if len(vs) == 0 || vs[len(vs)-1] != v {
			return fmt.Sprintf("%s is %q but its multi-value form is %q", k, v, vs)
		}
	}
	return ""
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// methodArn is arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH.
var methodArn = regexp.MustCompile(`^arn:aws:execute-api:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([a-z0-9]+)/([A-Za-z0-9_-]+)/(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)(/.*)$`)

func TestTheAuthorizerEventIsARequestAuthorizerCallForARoute(t *testing.T) {
	ev := mustAuthorizerEvent(t)
	rc := ev.RequestContext

	t.Run("its type is REQUEST and it asks for a route that takes a key", func(t *testing.T) {
		if ev.Type != "REQUEST" {
			t.Errorf("type = %q, want REQUEST", ev.Type)
		}
		route, _, _ := routes.Match(ev.HTTPMethod, ev.Path)
		if route.Function == "" || route.Path != ev.Resource || !route.Authenticated() {
			t.Errorf("%s %s (resource %s) is not a route behind the authorizer", ev.HTTPMethod, ev.Path, ev.Resource)
		}
		if rc.ResourcePath != ev.Resource || rc.HTTPMethod != ev.HTTPMethod || rc.Path != "/"+rc.Stage+ev.Path {
			t.Errorf("requestContext (%s %s %s) disagrees with the request", rc.HTTPMethod, rc.ResourcePath, rc.Path)
		}
	})

	t.Run("its methodArn is well-formed and names the same API, stage, method and path", func(t *testing.T) {
		m := methodArn.FindStringSubmatch(ev.MethodArn)
		if m == nil {
			t.Fatalf("methodArn %q is not arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH", ev.MethodArn)
		}
		account, api, stage, method, path := m[2], m[3], m[4], m[5], m[6]
		if account != rc.AccountID || api != rc.APIID || stage != rc.Stage || method != ev.HTTPMethod || path != ev.Path {
			t.Errorf("methodArn names %s %s %s %s %s; the request context has %s %s %s %s %s",
				account, api, stage, method, path, rc.AccountID, rc.APIID, rc.Stage, ev.HTTPMethod, ev.Path)
		}
	})

	t.Run("its key is well-formed and its headers agree", func(t *testing.T) {
		if err := apikey.Validate(header(ev.Headers, authcontext.HeaderAPIKey)); err != nil {
			t.Errorf("x-api-key is not a well-formed key")
		}
		if d := singleMultiDisagreement(ev.Headers, ev.MultiValueHeaders); d != "" {
			t.Errorf("headers: %s", d)
		}
	})
}

// proxyEventFor returns the sample proxy event of the same request as the
// authorizer event: what API Gateway sends the route once the authorizer
// allowed it.
func proxyEventFor(tb testing.TB, auth events.APIGatewayCustomAuthorizerRequestTypeRequest) events.APIGatewayProxyRequest {
	tb.Helper()
	for _, s := range mustProxySamples(tb) {
		ev := mustProxyEvent(tb, s)
		if ev.HTTPMethod == auth.HTTPMethod && ev.Path == auth.Path && ev.RequestContext.RequestID == auth.RequestContext.RequestID {
			return ev
		}
	}
	tb.Fatalf("no proxy event is the request of %s (same method, path and requestId)", authorizerFile)
	return events.APIGatewayProxyRequest{}
}

func TestTheAuthorizerEventThroughTheRealAuthorizer(t *testing.T) {
	table := dynamotest.MustTable(t)
	app := lambdaapp.New(table.Client, table.Name, ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler))
	ev := mustAuthorizerEvent(t)
	key := header(ev.Headers, authcontext.HeaderAPIKey)
	ctx := context.Background()

	t.Run("is refused as unknown, after one key lookup, on a table without its key", func(t *testing.T) {
		table.Calls.Reset()
		_, err := localapp.Authorizer(app).Handle(ctx, ev)
		if err == nil || err.Error() != authorizer.ErrUnauthorized.Error() {
			t.Fatalf("err = %v, want %v", err, authorizer.ErrUnauthorized)
		}
		if calls := table.Calls.Snapshot(); calls["GetItem"] != 1 || table.Calls.Total() != 1 {
			t.Errorf("DynamoDB calls = %v, want one GetItem: a well-formed key is looked up", calls)
		}
	})

	t.Run("is allowed with the very context the matching proxy event carries once its key is stored", func(t *testing.T) {
		proxy := proxyEventFor(t, ev)
		want := map[string]string{}
		for k, v := range proxy.RequestContext.Authorizer {
			if k != "principalId" && k != "integrationLatency" {
				want[k] = fmt.Sprint(v)
			}
		}
		lastUsed, err := strconv.ParseInt(want[authcontext.LastUsedAt], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		k := keys.Key{
			ID: want[authcontext.KeyID], AccountID: want[authcontext.AccountID], Name: "sample events",
			Prefix: apikey.DisplayPrefix(key), Scopes: domain.ParseScopeList(want[authcontext.Scopes]),
			CreatedAt: time.UnixMilli(lastUsed).Add(-24 * time.Hour), RateLimitID: want[authcontext.RateLimitID],
		}
		// The sample's key, with the very id, account and rate-limit id its
		// events name, stored as the key store stores any key.
		if err := keysdb.New(table.Client, table.Name).Create(ctx, k, apikey.Hash(key)); err != nil {
			t.Fatal(err)
		}
		if err := pipelinedb.NewKeyUsage(table.Client, table.Name).RecordUse(ctx, key, time.UnixMilli(lastUsed), time.Minute); err != nil {
			t.Fatal(err)
		}

		resp, err := localapp.Authorizer(app).Handle(ctx, ev)
		if err != nil {
			t.Fatalf("authorizer refused the stored key: %v", err)
		}
		if resp.PrincipalID != proxy.RequestContext.Authorizer["principalId"] {
			t.Errorf("principalId = %q, the proxy event has %v", resp.PrincipalID, proxy.RequestContext.Authorizer["principalId"])
		}
		got := map[string]string{}
		for k, v := range resp.Context {
			got[k] = fmt.Sprint(v)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("authorizer context = %v\nproxy event has      %v", got, want)
		}
		if !allows(resp.PolicyDocument, ev.MethodArn) {
			t.Errorf("policy %+v does not allow %s", resp.PolicyDocument, ev.MethodArn)
		}
	})
}

// allows reports whether some Allow statement's resource (with * wildcards)
// covers arn.
func allows(policy events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	for _, st := range policy.Statement {
		if st.Effect != "Allow" || !slices.Contains(st.Action, "execute-api:Invoke") {
			continue
		}
		for _, res := range st.Resource {
			pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(res), `\*`, ".*") + "$"
			if regexp.MustCompile(pattern).MatchString(arn) {
				return true
			}
		}
	}
	return false
}

func TestEveryProxyEventThroughItsRouteHandler(t *testing.T) {
	table := dynamotest.MustTable(t)
	limits := ratelimit.DefaultConfig()
	sealer, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mustProxySamples(t) {
		t.Run(s.file+" is answered in the contract's envelope with a request id and rate-limit headers", func(t *testing.T) {
			ev := mustProxyEvent(t, s)
			route, _ := routes.ByFunction(s.function)
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			functions, err := localapp.Functions(lambdaapp.New(table.Client, table.Name, limits, logger), localapp.Deps{Sealer: sealer})
			if err != nil {
				t.Fatal(err)
			}
			handler := functions[s.function]

			resp, err := handler(context.Background(), ev)
			if err != nil {
				t.Fatalf("handler failed: %v", err)
			}

			want, known := wantStatus[s.function]
			wantCode := ""
			switch {
			case !route.Built:
				want, wantCode = http.StatusNotImplemented, string(domain.CodeNotImplemented)
			case !known:
				t.Fatalf("%s is implemented: add the status it answers to its sample event to wantStatus", s.function)
			}
			if resp.StatusCode != want {
				t.Errorf("status = %d, want %d; body %s", resp.StatusCode, want, resp.Body)
			}
			// The document and the console's page are themselves, not an
			// envelope.
			if route != &routes.GetOpenAPI && route.Feature != routes.FeatureConsole {
				requireEnvelope(t, resp, wantCode)
			}

			if got := responseHeader(resp, httpapi.HeaderRequestID); got != ev.RequestContext.RequestID {
				t.Errorf("X-Request-Id = %q, want API Gateway's request id %q", got, ev.RequestContext.RequestID)
			}
			if got := responseHeader(resp, httpapi.HeaderRateLimitLimit); got != strconv.FormatInt(limits.Limits[route.Category], 10) {
				t.Errorf("X-RateLimit-Limit = %q, want the %s limit %d", got, route.Category, limits.Limits[route.Category])
			}
			for _, name := range []string{httpapi.HeaderRateLimitRemaining, httpapi.HeaderRateLimitReset} {
				if _, err := strconv.ParseInt(responseHeader(resp, name), 10, 64); err != nil {
					t.Errorf("%s = %q, want an integer", name, responseHeader(resp, name))
				}
			}
			if key := header(ev.Headers, authcontext.HeaderAPIKey); key != "" && strings.Contains(logs.String(), key) {
				t.Errorf("the logs hold the API key")
			}
			if token := ev.PathParameters["token"]; token != "" && strings.Contains(logs.String(), token) {
				t.Errorf("the logs hold the signal token")
			}
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("the function logged an error:\n%s", logs.String())
			}
		})
	}
}

// requireEnvelope checks the contract's envelope: {"success": true, "data":
// ...} or {"success": false, "error": {"code", "message"}} whose code has the
// response's status. wantCode, if set, is the error code expected.
func requireEnvelope(tb testing.TB, resp events.APIGatewayProxyResponse, wantCode string) {
	tb.Helper()
	if ct := responseHeader(resp, "Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Success *bool           `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Success == nil {
		tb.Fatalf("body is not the contract's envelope: %s", resp.Body)
	}
	switch {
	case *body.Success && (len(body.Data) == 0 || body.Error != nil || resp.StatusCode >= 300):
		tb.Errorf("a success must be 2xx with data and no error: %d %s", resp.StatusCode, resp.Body)
	case !*body.Success && (body.Error == nil || body.Error.Code == "" || body.Error.Message == ""):
		tb.Errorf("a failure must carry error.code and error.message: %s", resp.Body)
	case !*body.Success && domain.Code(body.Error.Code).Status() != resp.StatusCode:
		tb.Errorf("error code %s is status %d, response is %d", body.Error.Code, domain.Code(body.Error.Code).Status(), resp.StatusCode)
	}
	if wantCode != "" && (body.Error == nil || body.Error.Code != wantCode) {
		tb.Errorf("body = %s, want error code %s", resp.Body, wantCode)
	}
}

// responseHeader reads a response header whatever its spelling, from either
// of the proxy response's header maps.
func responseHeader(resp events.APIGatewayProxyResponse, name string) string {
	if v := header(resp.Headers, name); v != "" {
		return v
	}
	for k, vs := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
