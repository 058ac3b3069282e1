package stack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
	"github.com/workflowsapi/workflows/internal/routes"
)

// samTemplatePath is template.yaml, the SAM twin at the repository root.
var samTemplatePath = filepath.Join("..", "..", "template.yaml")

// samTemplate is template.yaml before the SAM transform: what a person edits.
type samTemplate struct {
	Parameters map[string]map[string]any
	Resources  map[string]resource
}

func mustReadSAMTemplate(tb testing.TB) *samTemplate {
	tb.Helper()
	raw, err := os.ReadFile(samTemplatePath)
	if err != nil {
		tb.Fatalf("read template.yaml: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("parse template.yaml: %v", err)
	}
	value, err := cfnValue(&doc)
	if err != nil {
		tb.Fatalf("template.yaml: %v", err)
	}
	var t samTemplate
	mustRemarshal(tb, value, &t)
	return &t
}

// cfnValue turns YAML into the JSON form of CloudFormation, expanding the
// short intrinsic tags (!Ref x to {"Ref": x}, !GetAtt a.b to
// {"Fn::GetAtt": [a, b]}, !Sub s to {"Fn::Sub": s}, ...).
func cfnValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		return cfnValue(n.Content[0])
	case yaml.AliasNode:
		return cfnValue(n.Alias)
	}
	// YAML's own tags are !!str, !!map, ...; a single ! is CloudFormation's.
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return cfnIntrinsic(n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := cfnValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

func cfnIntrinsic(n *yaml.Node) (any, error) {
	name := strings.TrimPrefix(n.Tag, "!")
	if name == "GetAtt" && n.Kind == yaml.ScalarNode {
		resource, attribute, ok := strings.Cut(n.Value, ".")
		if !ok {
			return nil, fmt.Errorf("line %d: !GetAtt %s has no attribute", n.Line, n.Value)
		}
		return map[string]any{"Fn::GetAtt": []any{resource, attribute}}, nil
	}
	var arg any
	if n.Kind == yaml.ScalarNode {
		arg = n.Value
	} else {
		plain := *n
		plain.Tag = ""
		v, err := cfnValue(&plain)
		if err != nil {
			return nil, err
		}
		arg = v
	}
	if name == "Ref" || name == "Condition" {
		return map[string]any{name: arg}, nil
	}
	return map[string]any{"Fn::" + name: arg}, nil
}

// samRoutes lists the Api events of template.yaml's functions, sorted, in
// the route table's terms.
func (t *samTemplate) samRoutes(tb testing.TB) []apiRoute {
	tb.Helper()
	var out []apiRoute
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for name, e := range events {
			event := e.(map[string]any)
			if event["Type"] != "Api" {
				tb.Errorf("%s: event %s is a %v; only Api events are expected", id, name, event["Type"])
				continue
			}
			p := event["Properties"].(map[string]any)
			if refTo(p["RestApiId"]) != "Api" {
				tb.Errorf("%s: event %s is not on the Api resource", id, name)
			}
			auth, _ := p["Auth"].(map[string]any)
			authorizerName, _ := auth["Authorizer"].(string)
			if authorizerName != "" && authorizerName != samAuthorizerName {
				tb.Errorf("%s: event %s uses authorizer %q", id, name, authorizerName)
			}
			out = append(out, apiRoute{
				Method:        strings.ToUpper(p["Method"].(string)),
				Path:          p["Path"].(string),
				Function:      samFunctionName(tb, id, r),
				Authenticated: authorizerName == samAuthorizerName,
			})
		}
	}
	sortRoutes(out)
	return out
}

// samAuthorizerName is the key authorizer's name in template.yaml.
const samAuthorizerName = "ApiKeyAuthorizer"

// samFunctionName is a function's route-table name: its CodeUri folder.
func samFunctionName(tb testing.TB, id string, r resource) string {
	tb.Helper()
	uri, _ := r.Properties["CodeUri"].(string)
	name, ok := strings.CutPrefix(strings.TrimSuffix(uri, "/"), "functions/")
	if !ok {
		tb.Errorf("%s: CodeUri %q is not functions/<name>", id, uri)
	}
	return name
}

func TestDriftTemplateYAMLServesTheRouteTable(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	assertSameRoutes(t, "template.yaml", sam.samRoutes(t), routeTable())
}

func TestDriftSynthesizedStackServesTheRouteTable(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	assertSameRoutes(t, "the synthesized stack", tpl.lambdaRoutes(t, devStage), routeTable())
}

func TestDriftTemplateYAMLHasTheStacksFunctionsAndActions(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	var names []string
	for id, r := range sam.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := samFunctionName(t, id, r)
		names = append(names, name)
		if want := constructName(name) + "Function"; id != want {
			t.Errorf("function %s is called %s; call it %s", name, id, want)
		}
		for key, want := range samBuildMetadata {
			if got := r.Metadata[key]; got != want {
				t.Errorf("%s: Metadata.%s is %v, want %q", id, key, got, want)
			}
		}
		var got []string
		policies, _ := r.Properties["Policies"].([]any)
		for _, p := range policies {
			for _, s := range p.(map[string]any)["Statement"].([]any) {
				statement := s.(map[string]any)
				if getAttOf(statement["Resource"], "Arn") != "Table" {
					t.Errorf("%s: a statement is on %v, not the table", id, statement["Resource"])
				}
				got = append(got, sortedStrings(statement["Action"])...)
			}
		}
		slices.Sort(got)
		if fn, ok := routes.FunctionByName(name); !ok {
			t.Errorf("%s: %s is no function of routes.Functions()", id, name)
		} else if want := sortedCopy(fn.TableActions); !slices.Equal(got, want) {
			t.Errorf("%s: actions %v, want routes.Functions()' %v", id, got, want)
		}
	}
	slices.Sort(names)
	want := sortedCopy(functionNamesInOrder())
	if !slices.Equal(names, want) {
		t.Errorf("template.yaml functions %v, want %v", names, want)
	}
}

// samBuildMetadata is how sam build builds every function: `make
// build-<LogicalId>` at the repository root (infra/infra.mk), the same go
// build as `make lambdas`, so a binary `make lambdas` built is not built again.
var samBuildMetadata = map[string]string{"BuildMethod": "makefile", "ContextPath": ".", "WorkingDirectory": "."}

// The build-<LogicalId> target turns the logical id back into the function's
// folder; this holds it to every function of the template.
func TestDriftSAMBuildTargetBuildsEachFunctionFromItsFolder(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	sam := mustReadSAMTemplate(t)
	artifacts := t.TempDir()
	for id, r := range sam.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := samFunctionName(t, id, r)
		// -n prints the recipe without running it.
		cmd := exec.Command("make", "-n", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+artifacts)
		cmd.Dir = filepath.Dir(samTemplatePath)
		cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", id, err, out)
			continue
		}
		for _, want := range []string{
			"-o bin/.build/" + name + " ./functions/" + name + "\n",
			"cp bin/" + name + "/bootstrap \"" + artifacts + "/bootstrap\"",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("make build-%s does not run %q:\n%s", id, want, out)
			}
		}
	}
}

func TestDriftTemplateYAMLHasTheStacksAuthorizer(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	api := sam.Resources["Api"]
	if api.Type != "AWS::Serverless::Api" {
		t.Fatalf("Api is a %q, want AWS::Serverless::Api", api.Type)
	}
	auth := api.Properties["Auth"].(map[string]any)
	if _, set := auth["DefaultAuthorizer"]; set {
		t.Error("a DefaultAuthorizer would also guard the 405 mocks and the webhook; name the authorizer on each event")
	}
	authorizers := auth["Authorizers"].(map[string]any)
	if len(authorizers) != 1 {
		t.Errorf("%d authorizers, want 1", len(authorizers))
	}
	a := authorizers[samAuthorizerName].(map[string]any)
	if a["FunctionPayloadType"] != "REQUEST" {
		t.Errorf("payload type %v, want REQUEST", a["FunctionPayloadType"])
	}
	if fn := getAttOf(a["FunctionArn"], "Arn"); fn != constructName(routes.AuthorizerFunction)+"Function" {
		t.Errorf("the authorizer invokes %s", fn)
	}
	identity := a["Identity"].(map[string]any)
	if headers := sortedStrings(identity["Headers"]); !slices.Equal(headers, []string{authcontext.HeaderAPIKey}) {
		t.Errorf("identity headers %v, want [%s]", headers, authcontext.HeaderAPIKey)
	}
	if ref := refTo(identity["ReauthorizeEvery"]); ref != samCacheParameter {
		t.Errorf("ReauthorizeEvery %v, want a Ref to %s", identity["ReauthorizeEvery"], samCacheParameter)
	}

	// The stack's cache is off unless -c authorizerCacheTtlSeconds says
	// otherwise; the template's parameter must default the same way.
	want := map[string]string{"Type": "Number", "Default": "0", "MinValue": "0", "MaxValue": strconv.Itoa(stack.MaxAuthorizerCacheSeconds)}
	param := sam.Parameters[samCacheParameter]
	for key, w := range want {
		if got := fmt.Sprint(param[key]); got != w {
			t.Errorf("parameter %s.%s is %s, want %s", samCacheParameter, key, got, w)
		}
	}
}

// samCacheParameter is template.yaml's parameter for the authorizer's result
// cache TTL (the stack's is the context value stack.AuthorizerCacheContext).
const samCacheParameter = "AuthorizerResultCacheTtlSeconds"

func TestDriftTemplateYAMLHasTheGatewayResponsesAnd405s(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	props := sam.Resources["Api"].Properties
	responses := props["GatewayResponses"].(map[string]any)
	if len(responses) != len(gatewayresponse.All) {
		t.Errorf("%d gateway responses, want %d", len(responses), len(gatewayresponse.All))
	}
	for _, gr := range gatewayresponse.All {
		r, ok := responses[gr.Type].(map[string]any)
		if !ok {
			t.Errorf("no %s gateway response", gr.Type)
			continue
		}
		status, _ := r["StatusCode"].(string)
		if want := strconv.Itoa(gr.StatusCode); gr.StatusCode != 0 && status != want || gr.StatusCode == 0 && status != "" {
			t.Errorf("%s: status %q, want %d (0: API Gateway's own)", gr.Type, status, gr.StatusCode)
		}
		if body := r["ResponseTemplates"].(map[string]any)["application/json"]; body != gr.Body() {
			t.Errorf("%s: body %v, want %s", gr.Type, body, gr.Body())
		}
		headers, _ := r["ResponseParameters"].(map[string]any)["Headers"].(map[string]any)
		for name, value := range gatewayresponse.Headers {
			if headers[name] != value {
				t.Errorf("%s: header %s = %v, want %s", gr.Type, name, headers[name], value)
			}
		}
	}

	allowed := map[string][]string{}
	for _, r := range routes.All {
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	paths := props["DefinitionBody"].(map[string]any)["paths"].(map[string]any)
	for path, methods := range allowed {
		anyMethod, ok := paths[path].(map[string]any)["x-amazon-apigateway-any-method"].(map[string]any)
		if !ok {
			t.Errorf("%s has no ANY method answering 405", path)
			continue
		}
		if _, set := anyMethod["security"]; set {
			t.Errorf("%s: the 405 takes a key", path)
		}
		integration := anyMethod["x-amazon-apigateway-integration"].(map[string]any)
		response := integration["responses"].(map[string]any)["default"].(map[string]any)
		slices.Sort(methods)
		if integration["type"] != "mock" || response["statusCode"] != "405" {
			t.Errorf("%s: %v integration answering %v, want mock answering 405", path, integration["type"], response["statusCode"])
		}
		if got, want := response["responseParameters"].(map[string]any)["method.response.header.Allow"], "'"+strings.Join(methods, ", ")+"'"; got != want {
			t.Errorf("%s: Allow %v, want %s", path, got, want)
		}
		if got := response["responseParameters"].(map[string]any)["method.response.header.X-Request-Id"]; got != gatewayresponse.Headers["X-Request-Id"] {
			t.Errorf("%s: X-Request-Id %v, want %s", path, got, gatewayresponse.Headers["X-Request-Id"])
		}
		if got := response["responseTemplates"].(map[string]any)["application/json"]; got != stack.MethodNotAllowed.Body() {
			t.Errorf("%s: body %v, want %s", path, got, stack.MethodNotAllowed.Body())
		}
	}
	for path := range paths {
		if _, known := allowed[path]; !known {
			t.Errorf("DefinitionBody has %s, which no route has", path)
		}
	}
}

// constructName is list-api-keys as ListApiKeys, the logical-id form both
// templates use.
func constructName(function string) string {
	var b strings.Builder
	for _, part := range strings.Split(function, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
