package routes_test

import (
	"os"
	"path/filepath"
	"slices"
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
		folders = append(folders, e.Name())
	}
	want := []string{routes.AuthorizerFunction}
	for _, r := range routes.All {
		want = append(want, r.Function)
	}
	slices.Sort(want)
	slices.Sort(folders)
	if !slices.Equal(folders, want) {
		t.Fatalf("functions/ holds %v, the route table wants %v", folders, want)
	}
	for _, r := range routes.All {
		src, err := os.ReadFile(filepath.Join(dir, r.Function, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), `lambdaapp.StartRoute("`+r.Function+`")`) {
			t.Errorf("functions/%s/main.go does not start route %s", r.Function, r.Function)
		}
	}
}

func TestRouteTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range routes.All {
		key := r.Method + " " + r.Path
		if seen[key] || seen[r.Function] {
			t.Errorf("%s or %s appears twice", key, r.Function)
		}
		seen[key], seen[r.Function] = true, true
		if !strings.HasPrefix(r.Path, routes.BasePath+"/") {
			t.Errorf("%s is not under %s", key, routes.BasePath)
		}
		if r.Scope != "" && !r.Scope.Known() {
			t.Errorf("%s has unknown scope %s", key, r.Scope)
		}
		if _, ok := ratelimit.DefaultConfig().Limits[r.Category]; !ok {
			t.Errorf("%s has unknown category %s", key, r.Category)
		}
	}
	if len(routes.All) != 20 {
		t.Errorf("%d routes, the contract has 20", len(routes.All))
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, params, known := routes.Match(tt.method, tt.path)
			if r.Function != tt.wantFunction || known != tt.wantKnown || len(params) != len(tt.wantParams) {
				t.Fatalf("Match = %q %v %v", r.Function, params, known)
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
