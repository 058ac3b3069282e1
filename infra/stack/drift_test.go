package stack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
)

// samTemplatePath is template.yaml, the SAM twin at the repository root.
var samTemplatePath = filepath.Join("..", "..", "template.yaml")

// samTemplate is template.yaml before the SAM transform: what a person edits.
type samTemplate struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Globals    map[string]map[string]any
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
			if event["Type"] == "Schedule" && samFunctionName(tb, id, r) == routes.StartCheckFunction {
				continue // TestDriftTemplateYAMLRunsTheStartCheckAsTheStack checks it
			}
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
		// Each statement is an Allow on the table (and the indexes the
		// function queries), on the secrets' key or on one of the run
		// engine's resources, nothing else: TableActions, KeyActions and
		// ServiceActions, each on its resource.
		var onTable, onKey, onEngine, indexes []string
		policies, _ := r.Properties["Policies"].([]any)
		for _, p := range policies {
			for _, s := range p.(map[string]any)["Statement"].([]any) {
				statement := s.(map[string]any)
				actions := sortedStrings(statement["Action"])
				wantCondition := "null"
				if slices.Equal(actions, []string{routes.ActionPassRole}) {
					wantCondition = `{"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}`
				}
				if statement["Effect"] != "Allow" || mustJSON(t, statement["Condition"]) != wantCondition {
					t.Errorf("%s: statement %s: want an Allow with condition %s", id, mustJSON(t, statement), wantCondition)
				}
				resources, isList := statement["Resource"].([]any)
				if !isList {
					resources = []any{statement["Resource"]}
				}
				on := samResource(resources[0])
				for _, extra := range resources[1:] {
					index, ok := samIndex(extra)
					if on != "table" || !ok {
						t.Errorf("%s: a statement is on %v", id, statement["Resource"])
					}
					indexes = append(indexes, index)
				}
				switch on {
				case "table":
					onTable = append(onTable, actions...)
				case "key":
					onKey = append(onKey, actions...)
				case "failureQueue":
					// Lambda's on-failure destination, sent to with the
					// function's role: scheduled-run's, SendMessage only.
					if name != routes.ScheduledRunFunction || !slices.Equal(actions, []string{"sqs:SendMessage"}) {
						t.Errorf("%s: %v on scheduled-run's failure queue; only scheduled-run may, and only sqs:SendMessage", id, actions)
					}
				case "":
					t.Errorf("%s: a statement is on %v, neither the table, the key nor the run engine", id, statement["Resource"])
				default:
					for _, a := range actions {
						if want := samServiceResource(a); want != on {
							t.Errorf("%s: %s is granted on %s, want %s", id, a, on, want)
						}
					}
					onEngine = append(onEngine, actions...)
				}
			}
		}
		slices.Sort(onEngine)
		slices.Sort(indexes)
		slices.Sort(onTable)
		slices.Sort(onKey)
		fn, ok := routes.FunctionByName(name)
		if !ok {
			t.Errorf("%s: %s is no function of routes.Functions()", id, name)
			continue
		}
		if want := sortedCopy(fn.TableActions); !slices.Equal(onTable, want) {
			t.Errorf("%s: actions on the table %v, want routes.Functions()' %v", id, onTable, want)
		}
		if want := sortedCopy(fn.KeyActions); !slices.Equal(onKey, want) {
			t.Errorf("%s: actions on the key %v, want routes.Functions()' KeyActions %v", id, onKey, want)
		}
		if want := sortedCopy(fn.ServiceActions); !slices.Equal(onEngine, want) {
			t.Errorf("%s: actions on the run engine %v, want routes.Functions()' ServiceActions %v", id, onEngine, want)
		}
		if want := sortedCopy(fn.Indexes); !slices.Equal(indexes, want) {
			t.Errorf("%s: granted on the indexes %v, want routes.Functions()' Indexes %v", id, indexes, want)
		}
	}
	slices.Sort(names)
	want := sortedCopy(functionNamesInOrder())
	if !slices.Equal(names, want) {
		t.Errorf("template.yaml functions %v, want %v", names, want)
	}
}

// samResource names a statement's resource in template.yaml: "table",
// "key", "stateMachine", "executions", "schedules", "schedulerRole", or ""
// for anything else.
func samResource(res any) string {
	switch {
	case getAttOf(res, "Arn") == "Table":
		return "table"
	case getAttOf(res, "Arn") == samSecretsKey:
		return "key"
	case refTo(res) == samStateMachine:
		return "stateMachine"
	case getAttOf(res, "Arn") == samSchedulerRole:
		return "schedulerRole"
	case getAttOf(res, "Arn") == samScheduledRunFailures:
		return "failureQueue"
	}
	sub, _ := res.(map[string]any)["Fn::Sub"].(string)
	switch sub {
	case "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${" + samStateMachine + ".Name}:*":
		return "executions"
	case "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${" + samScheduleGroup + "}/*":
		return "schedules"
	}
	return ""
}

// samIndex is the index of a !Sub ${Table.Arn}/index/<name>.
func samIndex(res any) (string, bool) {
	sub, _ := res.(map[string]any)["Fn::Sub"].(string)
	index, ok := strings.CutPrefix(sub, "${Table.Arn}/index/")
	return index, ok && index != "" && !strings.ContainsAny(index, "*/$")
}

// samServiceResource is the resource an action of ServiceActions is for.
func samServiceResource(action string) string {
	switch action {
	case routes.ActionStartExecution:
		return "stateMachine"
	case routes.ActionStopExecution, routes.ActionDescribeExecution:
		return "executions"
	case routes.ActionPassRole:
		return "schedulerRole"
	}
	if strings.HasPrefix(action, "scheduler:") {
		return "schedules"
	}
	return "?"
}

// The logical ids of template.yaml's run engine.
const (
	samStateMachine     = "RunStateMachine"
	samStateMachineRole = "RunStateMachineRole"
	samScheduleGroup    = "ScheduleGroup"
	samSchedulerRole    = "SchedulerRole"
	// The queues of lost firings and scheduled-run's asynchronous
	// invocation config.
	samScheduleDLQ          = "ScheduleDeadLetterQueue"
	samScheduledRunFailures = "ScheduledRunFailureQueue"
	samScheduledRunAsync    = "ScheduledRunAsyncInvoke"
)

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
		want := gr.ResponseHeaders()
		for name, value := range want {
			if headers[name] != value {
				t.Errorf("%s: header %s = %v, want %s", gr.Type, name, headers[name], value)
			}
		}
		for name := range headers {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: header %s, which the stack's response does not have", gr.Type, name)
			}
		}
	}

	allowed := map[string][]string{}
	for _, r := range routes.All {
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	paths := props["DefinitionBody"].(map[string]any)["paths"].(map[string]any)
	for path, methods := range allowed {
		// A path missing from DefinitionBody is reported, not a panic, so
		// the other paths are still checked.
		pathItem, _ := paths[path].(map[string]any)
		anyMethod, ok := pathItem["x-amazon-apigateway-any-method"].(map[string]any)
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

// samFunction is a function of template.yaml as SAM deploys it: Globals'
// Function section with the function's own properties over it (maps, such
// as Environment's variables, merged key by key).
func (t *samTemplate) samFunction(r resource) map[string]any {
	return mergedSAM(t.Globals["Function"], r.Properties).(map[string]any)
}

func mergedSAM(global, own any) any {
	g, gok := global.(map[string]any)
	o, ook := own.(map[string]any)
	if !gok || !ook {
		if own != nil {
			return own
		}
		return global
	}
	out := map[string]any{}
	for k, v := range g {
		out[k] = v
	}
	for k, v := range o {
		out[k] = mergedSAM(g[k], v)
	}
	return out
}

// resolved replaces template.yaml's references to its parameters with their
// defaults (a Number's as a number), ${Param} in a !Sub too, and a reference
// to a resource with "ref:<type>": what the stack would deploy with no
// parameter given, comparable with the synthesized template, where
// resolvedCDK does the same for the stack's references.
func (t *samTemplate) resolved(v any) any {
	return resolveRefs(v, func(id string) (any, bool) {
		if p, ok := t.Parameters[id]; ok {
			if p["Type"] == "Number" {
				n, _ := strconv.ParseFloat(fmt.Sprint(p["Default"]), 64)
				return n, true
			}
			return fmt.Sprint(p["Default"]), true
		}
		if r, ok := t.Resources[id]; ok {
			// SAM's types as the resources they become.
			typ := strings.Replace(r.Type, "AWS::Serverless::SimpleTable", "AWS::DynamoDB::Table", 1)
			typ = strings.Replace(typ, "AWS::Serverless::Function", "AWS::Lambda::Function", 1)
			return "ref:" + typ, true
		}
		return nil, false
	})
}

func (t *cfnTemplate) resolvedCDK(v any) any {
	return resolveRefs(v, func(id string) (any, bool) {
		if r, ok := t.Resources[id]; ok {
			return "ref:" + r.Type, true
		}
		return nil, false
	})
}

func resolveRefs(v any, lookup func(id string) (any, bool)) any {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			if resolved, ok := lookup(ref); ok {
				return resolved
			}
		}
		// A resource's attribute as "getatt:<type>.<attribute>": the two
		// templates' logical ids differ (CDK adds a hash), their types do not.
		if parts, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(parts) == 2 {
			if resolved, ok := lookup(fmt.Sprint(parts[0])); ok {
				if ref, ok := resolved.(string); ok && strings.HasPrefix(ref, "ref:") {
					return "getatt:" + strings.TrimPrefix(ref, "ref:") + "." + fmt.Sprint(parts[1])
				}
			}
		}
		if sub, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			return subPattern.ReplaceAllStringFunc(sub, func(m string) string {
				if resolved, ok := lookup(m[2 : len(m)-1]); ok {
					return fmt.Sprint(resolved)
				}
				return m
			})
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = resolveRefs(e, lookup)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolveRefs(e, lookup)
		}
		return out
	}
	return v
}

var subPattern = regexp.MustCompile(`\$\{[A-Za-z0-9:.]+\}`)

// functionSettings are the properties of a function both templates set and
// must agree on. Code, role, name and log group differ by nature.
var functionSettings = []string{"Runtime", "Handler", "Architectures", "MemorySize", "Timeout", "TracingConfig", "LoggingConfig", "Environment"}

// cdkFunctionSettings is a synthesized function's functionSettings.
func (t *cfnTemplate) cdkFunctionSettings(p map[string]any) map[string]any {
	out := map[string]any{}
	for _, key := range functionSettings {
		if v, ok := p[key]; ok {
			out[key] = t.resolvedCDK(v)
		}
	}
	if logging, ok := out["LoggingConfig"].(map[string]any); ok {
		delete(logging, "LogGroup") // each function's own; SAM makes one by name
	}
	return out
}

// samFunctionSettings is a template.yaml function's functionSettings, in
// the names the synthesized template uses (SAM's Tracing is the function's
// TracingConfig).
func (t *samTemplate) samFunctionSettings(p map[string]any) map[string]any {
	out := map[string]any{}
	for _, key := range functionSettings {
		if v, ok := p[key]; ok {
			out[key] = t.resolved(v)
		}
	}
	if tracing, ok := p["Tracing"]; ok {
		out["TracingConfig"] = map[string]any{"Mode": tracing}
	}
	// DYNAMODB_ENDPOINT (every function), KMS_ENDPOINT (the functions with
	// KMS_KEY_ID), SFN_ENDPOINT (with STATE_MACHINE_ARN) and
	// SCHEDULER_ENDPOINT (with SCHEDULE_GROUP_NAME) are declared, empty, only
	// so that `sam local` can set them (--env-vars); empty is the AWS
	// service itself, as in the stack.
	if env, ok := out["Environment"].(map[string]any)["Variables"].(map[string]any); ok {
		for _, name := range samLocalEndpoints {
			if endpoint, declared := env[name]; declared && endpoint == "" {
				delete(env, name)
			}
		}
	}
	return out
}

// samLocalEndpoints are the variables template.yaml declares empty for
// `sam local --env-vars` and the stack leaves out.
var samLocalEndpoints = []string{"DYNAMODB_ENDPOINT", "KMS_ENDPOINT", "SFN_ENDPOINT", "SCHEDULER_ENDPOINT"}

// Every function of template.yaml runs as the stack's does: runtime,
// architecture, memory, timeout, tracing, log format and level, and every
// environment variable, with template.yaml's parameters at their defaults
// and the stack's settings at theirs.
func TestDriftTemplateYAMLFunctionsRunAsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tpl := MustSynthesize(t, devStage)
	cdk := map[string]map[string]any{}
	for id, name := range tpl.functionNames(t, devStage) {
		cdk[name] = tpl.cdkFunctionSettings(tpl.Resources[id].Properties)
	}
	for id, r := range sam.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := samFunctionName(t, id, r)
		want, ok := cdk[name]
		if !ok {
			continue // TestDriftTemplateYAMLHasTheStacksFunctionsAndActions reports it
		}
		got := sam.samFunctionSettings(sam.samFunction(r))
		for _, key := range functionSettings {
			if !jsonEqual(t, got[key], want[key]) {
				t.Errorf("%s: %s is %s in template.yaml, %s in the stack", name, key, mustJSON(t, got[key]), mustJSON(t, want[key]))
			}
		}
	}
}

// tableSettings are the table's properties both templates must agree on.
// Deletion protection is the stage's (stage.go), not the table's.
var tableSettings = []string{"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode", "PointInTimeRecoverySpecification", "TimeToLiveSpecification"}

func TestDriftTemplateYAMLTableIsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tpl := MustSynthesize(t, devStage)
	tables := tpl.resourcesOfType("AWS::DynamoDB::Table")
	want := tables[onlyKey(tables)].Properties
	var got map[string]any
	for _, r := range sam.Resources {
		if r.Type == "AWS::DynamoDB::Table" {
			got = r.Properties
		}
	}
	if got == nil {
		t.Fatal("template.yaml has no AWS::DynamoDB::Table")
	}
	byName := func(v any) any { // attribute definitions in any order
		list, _ := v.([]any)
		list = slices.Clone(list)
		slices.SortFunc(list, func(a, b any) int {
			return strings.Compare(fmt.Sprint(a.(map[string]any)["AttributeName"]), fmt.Sprint(b.(map[string]any)["AttributeName"]))
		})
		return list
	}
	for _, key := range tableSettings {
		g, w := got[key], want[key]
		if key == "AttributeDefinitions" {
			g, w = byName(g), byName(w)
		}
		if !jsonEqual(t, g, w) {
			t.Errorf("table %s is %s in template.yaml, %s in the stack", key, mustJSON(t, g), mustJSON(t, w))
		}
	}
}

// The stage's throttle: template.yaml's parameters default to the stack's
// defaults and are what the stage's method settings use.
func TestDriftTemplateYAMLThrottlesTheStageAsTheStack(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	settings, _ := sam.Resources["Api"].Properties["MethodSettings"].([]any)
	var all map[string]any
	for _, s := range settings {
		if m := s.(map[string]any); m["HttpMethod"] == "*" && m["ResourcePath"] == "/*" {
			all = sam.resolved(m).(map[string]any)
		}
	}
	want := MustSynthesize(t, devStage).stageMethodSettings(t)
	if all == nil {
		t.Fatal("template.yaml's Api has no method settings for */*")
	}
	for _, key := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
		if all[key] != want[key] {
			t.Errorf("%s is %v in template.yaml, %v in the stack", key, all[key], want[key])
		}
	}
}

// The firewall: in template.yaml a condition on the Waf parameter (off by
// default, as the stack's -c waf), with the same rules, answers and limit.
func TestDriftTemplateYAMLFirewallIsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	if got := fmt.Sprint(sam.Parameters["Waf"]["Default"]); got != "false" {
		t.Errorf("the Waf parameter defaults to %s; the stack has no firewall unless asked", got)
	}
	if got := mustJSON(t, sam.Conditions["WafEnabled"]); got != `{"Fn::Equals":[{"Ref":"Waf"},"true"]}` {
		t.Errorf("condition WafEnabled is %s, want Waf = true", got)
	}
	if got := fmt.Sprint(sam.Parameters["WafRateLimit"]["Default"]); got != strconv.Itoa(stack.DefaultWAFRateLimit) {
		t.Errorf("WafRateLimit defaults to %s, the stack to %d", got, stack.DefaultWAFRateLimit)
	}
	acl, association := sam.Resources["Firewall"], sam.Resources["FirewallAssociation"]
	if acl.Type != "AWS::WAFv2::WebACL" || association.Type != "AWS::WAFv2::WebACLAssociation" ||
		acl.Condition != "WafEnabled" || association.Condition != "WafEnabled" {
		t.Fatalf("Firewall (%s, condition %q) and FirewallAssociation (%s, condition %q): want a web ACL and its association, on WafEnabled",
			acl.Type, acl.Condition, association.Type, association.Condition)
	}
	tpl := MustSynthesizeWith(t, stack.Props{Stage: devStage, Edge: stack.Edge{WAF: true}})
	_, want := firewall(t, tpl)
	got := sam.resolved(acl.Properties).(map[string]any)
	for _, key := range []string{"Scope", "DefaultAction", "CustomResponseBodies", "Rules"} {
		if !jsonEqual(t, got[key], want[key]) {
			t.Errorf("the firewall's %s is\n%s in template.yaml,\n%s in the stack", key, mustJSON(t, got[key]), mustJSON(t, want[key]))
		}
	}
	if arn := mustJSON(t, association.Properties["ResourceArn"]); !strings.Contains(arn, "/stages/${Api.Stage}") {
		t.Errorf("the association is on %s, want the Api's stage", arn)
	}
	if getAttOf(association.Properties["WebACLArn"], "Arn") != "Firewall" {
		t.Errorf("the association is of %v, want the Firewall", association.Properties["WebACLArn"])
	}
}

// samSecretsKey is the logical id of template.yaml's KMS key.
const samSecretsKey = "SecretsKey"

// KMS_KEY_ID goes to exactly the functions with KeyActions, as the key's
// ARN, in template.yaml as in the stack; KMS_ENDPOINT, for `sam local`, is
// declared only beside it, and empty.
func TestDriftTemplateYAMLGivesTheKeyToExactlyItsFunctions(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	globalEnv, _ := sam.Globals["Function"]["Environment"].(map[string]any)
	globalVariables, _ := globalEnv["Variables"].(map[string]any)
	for _, name := range []string{"KMS_KEY_ID", "KMS_ENDPOINT"} {
		if _, set := globalVariables[name]; set {
			t.Errorf("Globals give every function %s; only the functions with KeyActions may have it", name)
		}
	}
	var told []string
	for id, r := range sam.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := samFunctionName(t, id, r)
		env, _ := sam.samFunction(r)["Environment"].(map[string]any)
		variables, _ := env["Variables"].(map[string]any)
		keyID, hasKey := variables["KMS_KEY_ID"]
		if hasKey {
			told = append(told, name)
			if getAttOf(keyID, "Arn") != samSecretsKey {
				t.Errorf("%s: KMS_KEY_ID is %s, want !GetAtt %s.Arn", id, mustJSON(t, keyID), samSecretsKey)
			}
		}
		if endpoint, set := variables["KMS_ENDPOINT"]; set && (!hasKey || endpoint != "") {
			t.Errorf("%s: KMS_ENDPOINT is %s; declare it empty, and only beside KMS_KEY_ID", id, mustJSON(t, endpoint))
		}
	}
	slices.Sort(told)
	if want := functionsWithKeyActions(); !slices.Equal(told, want) {
		t.Errorf("template.yaml gives KMS_KEY_ID to %v, want exactly the functions with KeyActions: %v", told, want)
	}
}

// template.yaml's key is the stack's: one symmetric encryption key with
// rotation on, kept exactly when the table is, named by an alias, whose
// policy only delegates to IAM.
func TestDriftTemplateYAMLKeyIsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tpl := MustSynthesize(t, devStage)
	key, ok := sam.Resources[samSecretsKey]
	if !ok || key.Type != "AWS::KMS::Key" {
		t.Fatalf("template.yaml has no AWS::KMS::Key %s", samSecretsKey)
	}
	if n := len(sam.resourcesOfType("AWS::KMS::Key")); n != 1 {
		t.Errorf("%d KMS keys in template.yaml, want 1", n)
	}
	if key.Properties["EnableKeyRotation"] != true {
		t.Errorf("EnableKeyRotation is %v, want true", key.Properties["EnableKeyRotation"])
	}
	cdkKeyID := tpl.secretsKey(t)
	cdkKey := tpl.Resources[cdkKeyID]
	// CloudFormation's defaults, where a template leaves a property out.
	defaults := map[string]any{"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Enabled": true, "MultiRegion": false, "RotationPeriodInDays": 365.0}
	for property, def := range defaults {
		got, set := key.Properties[property]
		if !set {
			got = def
		}
		want, set := cdkKey.Properties[property]
		if !set {
			want = def
		}
		if !jsonEqual(t, got, want) {
			t.Errorf("the key's %s is %v in template.yaml, %v in the stack", property, got, want)
		}
	}

	// The stack keeps (or deletes) its key exactly when it keeps its table:
	// the table's secrets are sealed under it. template.yaml keeps its table,
	// so it keeps its key.
	var samTable, cdkTable resource
	for _, r := range sam.resourcesOfType("AWS::DynamoDB::Table") {
		samTable = r
	}
	for _, r := range tpl.resourcesOfType("AWS::DynamoDB::Table") {
		cdkTable = r
	}
	if cdkKey.DeletionPolicy != cdkTable.DeletionPolicy {
		t.Errorf("the stack's key has deletion policy %q, its table %q", cdkKey.DeletionPolicy, cdkTable.DeletionPolicy)
	}
	if key.DeletionPolicy != samTable.DeletionPolicy || key.UpdateReplacePolicy != samTable.UpdateReplacePolicy {
		t.Errorf("template.yaml's key has deletion/replace policies %q/%q, its table %q/%q",
			key.DeletionPolicy, key.UpdateReplacePolicy, samTable.DeletionPolicy, samTable.UpdateReplacePolicy)
	}

	policy, _ := key.Properties["KeyPolicy"].(map[string]any)
	statements, _ := policy["Statement"].([]any)
	cdkPolicy, _ := cdkKey.Properties["KeyPolicy"].(map[string]any)
	cdkStatements, _ := cdkPolicy["Statement"].([]any)
	if len(statements) != len(cdkStatements) {
		t.Errorf("the key policy has %d statements in template.yaml, %d in the stack", len(statements), len(cdkStatements))
	}
	for i, s := range statements {
		statement := s.(map[string]any)
		if !strings.Contains(mustJSON(t, statement["Principal"]), ":root") {
			t.Errorf("key policy statement %s: want only the account (root), which delegates the key's use to IAM", mustJSON(t, statement))
		}
		if i < len(cdkStatements) {
			want := cdkStatements[i].(map[string]any)
			for _, field := range []string{"Effect", "Action", "Resource"} {
				if !jsonEqual(t, statement[field], want[field]) {
					t.Errorf("key policy statement %d: %s is %s in template.yaml, %s in the stack", i, field, mustJSON(t, statement[field]), mustJSON(t, want[field]))
				}
			}
		}
	}

	aliases := sam.resourcesOfType("AWS::KMS::Alias")
	if len(aliases) != 1 {
		t.Fatalf("%d KMS aliases in template.yaml, want 1", len(aliases))
	}
	alias := aliases[onlyKey(aliases)]
	if getAttOf(alias.Properties["TargetKeyId"], "Arn") != samSecretsKey {
		t.Errorf("the alias names %v, want %s", alias.Properties["TargetKeyId"], samSecretsKey)
	}
	if name := mustJSON(t, alias.Properties["AliasName"]); !strings.Contains(name, "alias/") || !strings.Contains(name, "-secrets") {
		t.Errorf("alias name %s, want alias/<stack>-secrets as the stack's alias/workflows-<stage>-secrets", name)
	}
}

// The table's indexes and attributes in template.yaml are
// store.TableDefinition's, compared directly (TestDriftTemplateYAMLTableIsTheStacks
// compares them with the stack's, and TestTheTableIsTheStoresDefinition the
// stack's with the definition).
func TestDriftTemplateYAMLTableIndexesAreTheStores(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tables := sam.resourcesOfType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("%d tables in template.yaml, want 1", len(tables))
	}
	got := tables[onlyKey(tables)].Properties
	def := store.TableDefinition("")
	byName := func(v any, field string) []any {
		var list []any
		mustRemarshal(t, v, &list)
		slices.SortFunc(list, func(a, b any) int {
			return strings.Compare(fmt.Sprint(a.(map[string]any)[field]), fmt.Sprint(b.(map[string]any)[field]))
		})
		return list
	}
	for _, c := range []struct {
		property, field string
		want            any
	}{
		{"GlobalSecondaryIndexes", "IndexName", def.GlobalSecondaryIndexes},
		{"AttributeDefinitions", "AttributeName", def.AttributeDefinitions},
		{"KeySchema", "KeyType", def.KeySchema},
	} {
		if g, w := byName(got[c.property], c.field), byName(c.want, c.field); !jsonEqual(t, g, w) {
			t.Errorf("table %s\n is %s in template.yaml,\n    %s in store.TableDefinition", c.property, mustJSON(t, g), mustJSON(t, withoutNulls(w)))
		}
	}
}

// resourcesOfType returns template.yaml's resources of one type by logical id.
func (t *samTemplate) resourcesOfType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range t.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}
