package functions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/routes"
)

// constructors are the functions whose constructor is not named after
// their route: the ones that are not routes, and the document and the
// console, which have no store or setting to wire.
var constructors = map[string]string{
	"runner":        "internal/runner/wire.Runner",
	"scheduled-run": "internal/runs/wire/starts.ScheduledRun",
	"authorizer":    "internal/authorizer/wire.Authorizer",
	"start-check":   "internal/runner/wire/checks.StartCheck",
	"get-openapi":   "internal/openapi.Handler",
	"get-console":   "internal/console.Handler",
}

// localOnlyInAWS are the functions the local gateway has no twin of: the
// start check finds runs whose execution never began, which the local
// driver cannot lose (it resumes every unfinished run at its start).
var localOnlyInAWS = map[string]bool{"start-check": true}

// calls returns every package-qualified function a Go file calls or names,
// as "<import path without the module>.<Name>".
func calls(tb testing.TB, path string) map[string]bool {
	tb.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		tb.Fatal(err)
	}
	imports := map[string]string{}
	for _, spec := range file.Imports {
		importPath, _ := strconv.Unquote(spec.Path.Value)
		name := importPath[strings.LastIndex(importPath, "/")+1:]
		if spec.Name != nil {
			name = spec.Name.Name
		}
		imports[name] = strings.TrimPrefix(importPath, module)
	}
	found := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok && imports[pkg.Name] != "" {
				found[imports[pkg.Name]+"."+sel.Sel.Name] = true
			}
		}
		return true
	})
	return found
}

// Each function is wired once: its main and the local gateway call the one
// constructor of its feature's wire package (named after its route), so a
// setting that one reads, the other reads too. A main that built the
// feature itself, or a local gateway that did, fails here.
func TestEachFunctionIsWiredByOneConstructor(t *testing.T) {
	local := calls(t, "../internal/localapp/localapp.go")
	for _, fn := range routes.Functions() {
		if fn.Route != nil && !fn.Route.Built {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			main := calls(t, fn.Name+"/main.go")
			want, ok := constructors[fn.Name]
			if !ok {
				// The feature's wire package, or one of its own (wire/starts,
				// wire/writes: the functions that link more than the rest).
				wirePath := regexp.MustCompile(`^internal/` + regexp.QuoteMeta(string(fn.Feature)) + `/wire(/[a-z]+)?\.`)
				var routeVar string
				for name := range main {
					if v, ok := strings.CutPrefix(name, "internal/routes."); ok {
						routeVar = v
					}
				}
				if routeVar == "" {
					t.Fatalf("main.go names no routes.<Route>")
				}
				for name := range main {
					if wirePath.MatchString(name) && strings.HasSuffix(name, "."+routeVar) {
						want = name
					}
				}
				if want == "" {
					t.Fatalf("main.go calls no internal/%s/wire[/...].%s", fn.Feature, routeVar)
				}
			}
			if !main[want] {
				t.Errorf("main.go does not call %s", want)
			}
			if !localOnlyInAWS[fn.Name] && !local[want] {
				t.Errorf("internal/localapp does not call %s: the local gateway wires the function another way", want)
			}
			for name := range main {
				if strings.HasSuffix(name, ".NewService") || strings.HasSuffix(name, ".NewHandlers") || strings.Contains(name, "internal/store/") {
					t.Errorf("main.go builds the feature itself (%s): that belongs in its wire package", name)
				}
			}
		})
	}
}
