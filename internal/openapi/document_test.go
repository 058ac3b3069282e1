package openapi_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// The tags and extensions that mark an operation whose feature is not built:
// a fuzzer skips the tag, a reader of the JSON sees the extension.
const (
	notBuiltTag       = "not-built"
	notBuiltExtension = "x-not-built"
)

func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON())
	if err != nil {
		t.Fatalf("the document does not load: %v", err)
	}
	return doc
}

func TestTheDocumentIsValidOpenAPI31(t *testing.T) {
	doc := loadDocument(t)
	t.Run("it declares OpenAPI 3.1.0", func(t *testing.T) {
		if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
			t.Fatalf("openapi: %q", doc.OpenAPI)
		}
	})
	t.Run("it passes the library's own validation, examples included", func(t *testing.T) {
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("its one server is the base path of the route table", func(t *testing.T) {
		if len(doc.Servers) != 1 || doc.Servers[0].URL != routes.BasePath {
			t.Fatalf("servers: %v", doc.Servers)
		}
	})
	t.Run("the key scheme is the x-api-key header", func(t *testing.T) {
		s := doc.Components.SecuritySchemes["apiKey"]
		if s == nil || s.Value.Type != "apiKey" || s.Value.In != "header" || s.Value.Name != "x-api-key" {
			t.Fatalf("apiKey scheme: %+v", s)
		}
	})
}

// operations indexes the document's operations by "METHOD /full/path": the
// path under the document's server (routes.BasePath), or under its own
// (the console's, at the root).
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+serverOf(item)+path] = op
		}
	}
	return out
}

// serverOf is the base path a path item is served under: its own server's,
// if it names one, else the document's.
func serverOf(item *openapi3.PathItem) string {
	if len(item.Servers) > 0 {
		return strings.TrimSuffix(item.Servers[0].URL, "/")
	}
	return routes.BasePath
}

// The console's paths are at the root, and say so with a server of their
// own; every other path is under the document's one server.
func TestOnlyTheConsoleIsServedAtTheRoot(t *testing.T) {
	doc := loadDocument(t)
	for path, item := range doc.Paths.Map() {
		console := path == routes.ConsolePath || strings.HasPrefix(path, routes.ConsolePath+"/")
		switch {
		case console && (len(item.Servers) != 1 || item.Servers[0].URL != "/"):
			t.Errorf("%s: servers %v, want the one server /", path, item.Servers)
		case !console && len(item.Servers) != 0:
			t.Errorf("%s: servers %v; only the console's paths leave the base path", path, item.Servers)
		}
		for _, op := range item.Operations() {
			if op.Servers != nil && len(*op.Servers) != 0 {
				t.Errorf("%s %s: an operation's own servers; they belong to the path", path, op.OperationID)
			}
		}
	}
}

func extensionString(op *openapi3.Operation, name string) (string, bool) {
	v, ok := op.Extensions[name]
	if !ok {
		return "", false
	}
	s, isString := v.(string)
	return s, isString
}

func TestTheDocumentHoldsTheRouteTable(t *testing.T) {
	doc := loadDocument(t)
	ops := operations(doc)
	for _, r := range routes.All {
		t.Run(r.Function+" is one operation with its route's method, path, id, scope and marking", func(t *testing.T) {
			op := ops[r.Method+" "+r.Path]
			if op == nil {
				t.Fatalf("no operation for %s %s", r.Method, r.Path)
			}
			// operationIds are unique, so a function's other routes (the
			// console's asset route) are named after it and what they
			// serve.
			if first, _ := routes.ByFunction(r.Function); first == r && op.OperationID != r.Function {
				t.Errorf("operationId %q, want %q", op.OperationID, r.Function)
			} else if first != r && !strings.HasPrefix(op.OperationID, r.Function+"-") {
				t.Errorf("operationId %q, want %s-<what it serves>: the function serves another route first", op.OperationID, r.Function)
			}
			scope, hasScope := extensionString(op, "x-required-scope")
			if op.Security == nil {
				t.Fatal("no security: every operation states it, an empty list for none")
			}
			if r.Authenticated() {
				want := openapi3.SecurityRequirements{{"apiKey": {string(r.Scope)}}}
				if !equalSecurity(*op.Security, want) {
					t.Errorf("security %v, want %v", *op.Security, want)
				}
				if scope != string(r.Scope) {
					t.Errorf("x-required-scope %q, want %q", scope, r.Scope)
				}
			} else {
				if len(*op.Security) != 0 {
					t.Errorf("security %v, want [] for a route that takes no key", *op.Security)
				}
				if hasScope {
					t.Errorf("x-required-scope %q on a route that takes no key", scope)
				}
			}
			if category, _ := extensionString(op, "x-rate-limit-category"); category != string(r.Category) {
				t.Errorf("x-rate-limit-category %q, want %q", category, r.Category)
			}
			taggedNotBuilt := slices.Contains(op.Tags, notBuiltTag)
			markedNotBuilt := op.Extensions[notBuiltExtension] == true
			if taggedNotBuilt != !r.Built || markedNotBuilt != !r.Built {
				t.Errorf("Built is %v, but tag %s is %v and %s is %v", r.Built, notBuiltTag, taggedNotBuilt, notBuiltExtension, markedNotBuilt)
			}
			if _, ok := op.Extensions[notBuiltExtension]; ok && r.Built {
				t.Errorf("%s present on a built route", notBuiltExtension)
			}
			if !r.Built && !strings.Contains(strings.ToLower(op.Description), "not built yet") {
				t.Errorf("description %q does not say the feature is not built yet", op.Description)
			}
			for name := range r.PathIDs {
				if !hasPathParameter(doc.Paths.Find(strings.TrimPrefix(r.Path, routes.BasePath)), op, name) {
					t.Errorf("path id %q is not a parameter", name)
				}
			}
		})
	}
	t.Run("every operation is a route", func(t *testing.T) {
		for key, op := range ops {
			method, path, _ := strings.Cut(key, " ")
			r, _, _ := routes.Match(method, path)
			if r == nil || r.Path != path || r.Method != method {
				t.Errorf("%s (%s) is not in the route table", key, op.OperationID)
			}
		}
		if len(ops) != len(routes.All) {
			t.Errorf("%d operations, %d routes", len(ops), len(routes.All))
		}
	})
}

func equalSecurity(got, want openapi3.SecurityRequirements) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for name, scopes := range want[i] {
			if !slices.Equal(got[i][name], scopes) {
				return false
			}
		}
	}
	return true
}

func hasPathParameter(item *openapi3.PathItem, op *openapi3.Operation, name string) bool {
	for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		if p := params.GetByInAndName(openapi3.ParameterInPath, name); p != nil {
			return true
		}
	}
	return false
}

// keyScopesHeader is on every answer after the key was accepted
// (httpapi.HeaderKeyScopes).
const keyScopesHeader = "X-Key-Scopes"

// rateLimitHeaders are on every answer that went through the limiter.
var rateLimitHeaders = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}

// beforeLimiter are the statuses that may be answered before the limiter:
// by API Gateway (401, 503) or by a failure anywhere (500).
var beforeLimiter = []string{"401", "500", "503"}

// orAtTheEdge are the statuses the limiter gives, with its headers, and the
// edge gives too, without them: a 429 from API Gateway's stage throttle or
// the firewall's per-IP rule. The headers are documented, not required.
var orAtTheEdge = []string{"429"}

func TestEveryOperationDocumentsItsAnswers(t *testing.T) {
	doc := loadDocument(t)
	ops := operations(doc)
	for _, r := range routes.All {
		op := ops[r.Method+" "+r.Path]
		if op == nil {
			continue // reported by TestTheDocumentHoldsTheRouteTable
		}
		want := []string{"429", "500"}
		if r.Authenticated() {
			want = append(want, "401", "403", "503")
		}
		if len(r.PathIDs) > 0 {
			want = append(want, "404")
		}
		hasBody := r.Method == "POST" || r.Method == "PUT"
		if hasBody {
			want = append(want, "413", "415")
		}
		if hasBody || hasQuery(op) {
			want = append(want, "400")
		}
		if !r.Built {
			want = append(want, "501")
		}
		t.Run(r.Function+" documents the answers of the pipeline", func(t *testing.T) {
			for _, status := range want {
				if op.Responses.Value(status) == nil {
					t.Errorf("no %s", status)
				}
			}
			if hasBody && op.RequestBody == nil {
				t.Error("a POST or PUT without a request body: its 413 and 415 would describe nothing")
			}
			if r.Built && !hasSuccess(op) {
				t.Error("a built route without a 2xx")
			}
			if !r.Built && hasSuccess(op) {
				t.Error("a route that is not built documents a 2xx it cannot give")
			}
		})
		t.Run(r.Function+" documents its headers", func(t *testing.T) {
			for status, ref := range op.Responses.Map() {
				headers := ref.Value.Headers
				if h := headers["X-Request-Id"]; h == nil || !h.Value.Required {
					t.Errorf("%s: X-Request-Id is not a required header", status)
				}
				for _, name := range rateLimitHeaders {
					h := headers[name]
					switch {
					case slices.Contains(beforeLimiter, status):
						if h != nil && h.Value.Required {
							t.Errorf("%s: %s is required, but this answer can come before the limiter", status, name)
						}
						if r.Authenticated() && status != "500" && h != nil {
							t.Errorf("%s: %s documented, but API Gateway gives this answer", status, name)
						}
					case slices.Contains(orAtTheEdge, status):
						if h == nil || h.Value.Required {
							t.Errorf("%s: %s must be documented and not required: the limiter gives it, the edge does not", status, name)
						}
					case h == nil || !h.Value.Required:
						t.Errorf("%s: %s is not a required header", status, name)
					default:
						if !h.Value.Schema.Value.Type.Is("integer") {
							t.Errorf("%s: %s is not an integer", status, name)
						}
					}
				}
				if h := headers["Retry-After"]; (status == "429") != (h != nil && h.Value.Required) {
					t.Errorf("%s: Retry-After documented %v, want it required exactly on 429", status, h != nil)
				}
				scopes := headers[keyScopesHeader]
				switch {
				case !r.Authenticated():
					if scopes != nil && scopes.Value.Required {
						t.Errorf("%s: %s required on an operation that takes no key", status, keyScopesHeader)
					}
				case status == "401" || status == "503":
					if scopes != nil {
						t.Errorf("%s: %s documented, but API Gateway gives this answer before any key is accepted", status, keyScopesHeader)
					}
				case scopes == nil:
					t.Errorf("%s: no %s: the answer comes after the key was accepted", status, keyScopesHeader)
				case strings.HasPrefix(status, "2") && !scopes.Value.Required:
					// The error answers are shared with the operations
					// that take no key, where it is optional.
					t.Errorf("%s: %s is not required on a success", status, keyScopesHeader)
				}
			}
		})
	}
}

func hasQuery(op *openapi3.Operation) bool {
	for _, p := range op.Parameters {
		if p.Value.In == openapi3.ParameterInQuery {
			return true
		}
	}
	return false
}

func hasSuccess(op *openapi3.Operation) bool {
	for status := range op.Responses.Map() {
		if strings.HasPrefix(status, "2") {
			return true
		}
	}
	return false
}

// errorCodes reads the error codes from internal/domain/errors.go, so a code
// added there fails this test until the document lists it.
func errorCodes(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "domain", "errors.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || spec.Type == nil || len(spec.Values) != len(spec.Names) {
			return true
		}
		if id, ok := spec.Type.(*ast.Ident); !ok || id.Name != "Code" {
			return true
		}
		for _, v := range spec.Values {
			if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				codes = append(codes, s)
			}
		}
		return true
	})
	if len(codes) == 0 {
		t.Fatal("found no error codes in internal/domain/errors.go")
	}
	return codes
}

func TestErrorCodes(t *testing.T) {
	doc := loadDocument(t)
	t.Run("the ErrorCode enum is every code of internal/domain", func(t *testing.T) {
		var enum []string
		for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
			enum = append(enum, v.(string))
		}
		want := errorCodes(t)
		slices.Sort(enum)
		slices.Sort(want)
		if !slices.Equal(enum, want) {
			t.Fatalf("enum %v\nwant %v", enum, want)
		}
	})
	t.Run("each error answer's code belongs to its status", func(t *testing.T) {
		for key, op := range operations(doc) {
			for status, ref := range op.Responses.Map() {
				code := constCode(ref.Value)
				if code == "" {
					continue
				}
				if got := strconv.Itoa(domain.Code(code).Status()); got != status {
					t.Errorf("%s answers %s with %s, whose status is %s", key, status, code, got)
				}
			}
		}
	})
}

// constCode finds the error code an error answer fixes with const, if any.
func constCode(resp *openapi3.Response) string {
	mt := resp.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return ""
	}
	for _, part := range mt.Schema.Value.AllOf {
		e := part.Value.Properties["error"]
		if e == nil || e.Value.Properties["code"] == nil {
			continue
		}
		if s, ok := e.Value.Properties["code"].Value.Const.(string); ok {
			return s
		}
	}
	return ""
}
