package routes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestEveryRouteHasItsOwnFunctionFolder(t *testing.T) {
	dir := filepath.Join("..", "..", "functions")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, e := range entries {
		if e.IsDir() {
			folders = append(folders, e.Name())
		}
	}
	var want []string
	for _, f := range routes.Functions() {
		want = append(want, f.Name)
	}
	slices.Sort(want)
	slices.Sort(folders)
	if !slices.Equal(folders, want) {
		t.Fatalf("functions/ holds %v, the route table wants %v", folders, want)
	}
	functionOfVar := routeVariables(t)
	for _, r := range routes.All {
		started := startedRoutes(t, filepath.Join(dir, r.Function, "main.go"))
		if len(started) != 1 || functionOfVar[started[0]] != r.Function {
			t.Errorf("functions/%s/main.go starts %v; it must start routes.<the route of %s> and nothing else", r.Function, started, r.Function)
		}
	}
}

// routeVariables reads routes.go: each route variable's name and the
// function its Route literal names.
func routeVariables(tb testing.TB) map[string]string {
	tb.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Names) != 1 || len(spec.Values) != 1 {
			return true
		}
		lit, ok := spec.Values[0].(*ast.CompositeLit)
		if !ok || len(lit.Elts) < 3 {
			return true
		}
		if fn, ok := lit.Elts[2].(*ast.BasicLit); ok && fn.Kind == token.STRING {
			out[spec.Names[0].Name], _ = strconv.Unquote(fn.Value)
		}
		return true
	})
	return out
}

// startedRoutes lists the routes.X variables a main hands to StartRoute.
func startedRoutes(tb testing.TB, path string) []string {
	tb.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "StartRoute" || len(call.Args) == 0 {
			return true
		}
		if ref, ok := call.Args[0].(*ast.UnaryExpr); ok {
			if sel, ok := ref.X.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "routes" {
					out = append(out, sel.Sel.Name)
				}
			}
		}
		return true
	})
	return out
}

func TestRouteTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range routes.All {
		key := r.Method + " " + r.Path
		if seen[key] {
			t.Errorf("%s appears twice", key)
		}
		seen[key] = true
		if r.Feature == routes.FeatureConsole {
			if r.Path != routes.ConsolePath && !strings.HasPrefix(r.Path, routes.ConsolePath+"/") {
				t.Errorf("%s is the console's but not under %s", key, routes.ConsolePath)
			}
		} else if !strings.HasPrefix(r.Path, routes.BasePath+"/") {
			t.Errorf("%s is not under %s", key, routes.BasePath)
		}
		if r.Scope != "" && !r.Scope.Known() {
			t.Errorf("%s has unknown scope %s", key, r.Scope)
		}
		if _, ok := ratelimit.DefaultConfig().Limits[r.Category]; !ok {
			t.Errorf("%s has unknown category %s", key, r.Category)
		}
	}
	// The contract's table.
	if len(routes.All) != 28 {
		t.Errorf("%d routes, want 28 (the contract's 23, the two signal routes, the notify roll and the console's two)", len(routes.All))
	}
}

// A function that serves several routes runs one pipeline, built on the
// first of them (its main's StartRoute): the others must agree with it on
// everything the pipeline reads (method, scope, category, feature, path ids,
// built), so that each is answered as its own row says.
func TestRoutesSharingAFunctionDifferInPathOnly(t *testing.T) {
	shared := 0
	for _, fn := range routes.Functions() {
		if fn.Route == nil {
			if len(fn.Routes) != 0 {
				t.Errorf("%s is no route's function but serves %v", fn.Name, fn.Routes)
			}
			continue
		}
		if len(fn.Routes) == 0 || fn.Routes[0] != fn.Route {
			t.Errorf("%s: Routes %v does not start with its Route %s", fn.Name, fn.Routes, fn.Route.Path)
			continue
		}
		for _, r := range fn.Routes[1:] {
			shared++
			first := *fn.Route
			same := *r
			same.Path = first.Path
			if same.Method != first.Method || same.Scope != first.Scope || same.Category != first.Category ||
				same.Feature != first.Feature || same.Built != first.Built || !maps.Equal(same.PathIDs, first.PathIDs) {
				t.Errorf("%s serves %s %s and %s %s, which differ in more than their path", fn.Name, first.Method, first.Path, r.Method, r.Path)
			}
		}
	}
	if shared != 1 {
		t.Errorf("%d routes share a function with another; the console's asset route is the one meant", shared)
	}
	names := map[string]int{}
	for _, fn := range routes.Functions() {
		names[fn.Name]++
	}
	for name, n := range names {
		if n != 1 {
			t.Errorf("Functions lists %s %d times", name, n)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, method, path string
		wantFunction       string
		wantParams         map[string]string
		wantKnown          bool
	}{
		{"a list route", "GET", "/api/v1/workflows", "list-workflows", map[string]string{}, true},
		{"a path parameter", "GET", "/api/v1/runs/run_1", "get-run", map[string]string{"id": "run_1"}, true},
		{"a nested action", "POST", "/api/v1/auth/api-keys/key_1/roll", "roll-api-key", map[string]string{"id": "key_1"}, true},
		{"the webhook's own parameter name", "POST", "/api/v1/webhooks/wf_1", "receive-webhook", map[string]string{"workflowId": "wf_1"}, true},
		{"a known path with another method", "PATCH", "/api/v1/workflows", "", nil, true},
		{"an unknown path", "GET", "/api/v1/nothing", "", nil, false},
		{"an empty parameter", "GET", "/api/v1/runs/", "list-runs", map[string]string{}, true},
		{"the console at the root", "GET", "/console", "get-console", map[string]string{}, true},
		{"a console asset", "GET", "/console/console.0123456789ab.js", "get-console", map[string]string{"asset": "console.0123456789ab.js"}, true},
		{"the console is not under the base path", "GET", "/api/v1/console", "", nil, false},
		{"an escaped slash stays in its segment", "DELETE", "/api/v1/auth/api-keys/..%2Fx", "revoke-api-key", map[string]string{"id": "../x"}, true},
		{"a control character is decoded into the parameter", "DELETE", "/api/v1/auth/api-keys/abc%0Adef", "revoke-api-key", map[string]string{"id": "abc\ndef"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, params, known := routes.Match(tt.method, tt.path)
			function := ""
			if r != nil {
				function = r.Function
			}
			if function != tt.wantFunction || known != tt.wantKnown || len(params) != len(tt.wantParams) {
				t.Fatalf("Match = %q %v %v", function, params, known)
			}
			for k, v := range tt.wantParams {
				if params[k] != v {
					t.Fatalf("param %s = %q, want %q", k, params[k], v)
				}
			}
		})
	}
	if got := routes.AllowedMethods("/api/v1/auth/api-keys/key_1"); !slices.Equal(got, []string{"DELETE"}) {
		t.Fatalf("AllowedMethods = %v", got)
	}
	if r, _ := routes.ByFunction("create-api-key"); r.Scope != domain.ScopeKeysWrite {
		t.Fatal("ByFunction did not find create-api-key")
	}
}
