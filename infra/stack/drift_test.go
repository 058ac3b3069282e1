package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/workflowsapi/workflows/infra/samtemplate"
	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/routes"
)

// template.yaml is generated (infra/samtemplate) from the tables the stack
// is built from, and from infra/blueprint, which the stack shares: that it
// has every function with its route, build target, settings, variables and
// grants, the gateway responses, the 405s and the table is true by
// construction, and samtemplate's TestTheCommittedTemplateIsGenerated holds
// the committed file to the generator. What can still drift is what each side
// writes in its own terms, a CDK construct there, a SAM resource or an
// intrinsic here: these tests compare the synthesized stack with the
// generated template, each resolved to what it deploys.

// side is one of the two templates, with its resources named by what they
// are rather than by logical id (CDK's carry a hash): "function:<name>",
// "table", "key" (the secrets'), "signalKey" (the HMAC key), "stateMachine", "stateMachineRole", "stateMachineLogs",
// "expressStateMachine", "expressStateMachineRole", "expressStateMachineLogs", "scheduleGroup", "schedulerRole", "queue:dlq" (every schedule's dead-letter
// queue), "queue:failures" (scheduled-run's on-failure destination),
// "scheduledRunAsync".
type side struct {
	name      string
	resources map[string]resource
	kinds     map[string]string
	// parameters are template.yaml's, which resolve to their defaults.
	parameters map[string]map[string]any
	globals    map[string]any
}

// samSide is what samtemplate.Generate writes.
func samSide(tb testing.TB) side {
	tb.Helper()
	raw, err := samtemplate.Generate()
	if err != nil {
		tb.Fatalf("samtemplate.Generate: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("parse the generated template: %v", err)
	}
	value, err := cfnValue(&doc)
	if err != nil {
		tb.Fatalf("the generated template: %v", err)
	}
	var t struct {
		Parameters map[string]map[string]any
		Globals    map[string]map[string]any
		Resources  map[string]resource
	}
	mustRemarshal(tb, value, &t)
	s := side{name: "template.yaml", resources: t.Resources, kinds: map[string]string{}, parameters: t.Parameters, globals: t.Globals["Function"]}
	for id, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" {
			name, ok := strings.CutPrefix(fmt.Sprint(r.Properties["CodeUri"]), "functions/")
			if !ok {
				tb.Fatalf("%s: CodeUri %v is not functions/<name>", id, r.Properties["CodeUri"])
			}
			s.kinds[id] = "function:" + name
		}
	}
	s.nameTheRest(tb)
	return s
}

// cdkSide is the stack synthesized with props.
func cdkSide(tb testing.TB, props stack.Props) side {
	tb.Helper()
	tpl := MustSynthesizeWith(tb, props)
	s := side{name: "the stack", resources: tpl.Resources, kinds: map[string]string{}}
	for id, name := range tpl.functionNames(tb, props.Stage) {
		s.kinds[id] = "function:" + name
	}
	s.nameTheRest(tb)
	return s
}

// nameTheRest names the resources that are not functions.
func (s side) nameTheRest(tb testing.TB) {
	tb.Helper()
	for typ, kind := range map[string]string{"AWS::DynamoDB::Table": "table", "AWS::KMS::Key": "key",
		"AWS::StepFunctions::StateMachine": "stateMachine", "AWS::Scheduler::ScheduleGroup": "scheduleGroup",
		"AWS::Lambda::EventInvokeConfig": "scheduledRunAsync", "AWS::WAFv2::WebACL": "firewall"} {
		for id := range s.ofType(typ) {
			s.kinds[id] = kind
		}
	}
	for id, r := range s.ofType("AWS::KMS::Key") {
		if r.Properties["KeyUsage"] == "GENERATE_VERIFY_MAC" {
			s.kinds[id] = "signalKey"
		}
	}
	for id, r := range s.ofType("AWS::StepFunctions::StateMachine") {
		if r.Properties["StateMachineType"] == "EXPRESS" {
			s.kinds[id] = "expressStateMachine"
		}
	}
	for id, r := range s.ofType("AWS::IAM::Role") {
		if strings.Contains(mustJSON(tb, r.Properties["AssumeRolePolicyDocument"]), "scheduler.amazonaws.com") {
			s.kinds[id] = "schedulerRole"
		}
	}
	// Each state machine's log group and role (assumed by
	// states.amazonaws.com) by the machine that names it.
	for _, machine := range []string{"stateMachine", "expressStateMachine"} {
		p := s.only(tb, machine).Properties
		s.kinds[firstGetAttArn(p["LoggingConfiguration"])] = machine + "Logs"
		role := getAttOf(p["RoleArn"], "Arn")
		if !strings.Contains(mustJSON(tb, s.resources[role].Properties["AssumeRolePolicyDocument"]), "states.amazonaws.com") {
			tb.Fatalf("%s: the %s's role %s is not assumed by Step Functions", s.name, machine, role)
		}
		s.kinds[role] = machine + "Role"
	}
	failures := firstGetAttArn(s.only(tb, "scheduledRunAsync").Properties["DestinationConfig"])
	for id := range s.ofType("AWS::SQS::Queue") {
		s.kinds[id] = map[bool]string{true: "queue:failures", false: "queue:dlq"}[id == failures]
	}
}

func (s side) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// onlyOfType is the one resource of a type.
func (s side) onlyOfType(tb testing.TB, typ string) resource {
	tb.Helper()
	found := s.ofType(typ)
	if len(found) != 1 {
		tb.Fatalf("%d resources of type %s in %s, want 1", len(found), typ, s.name)
	}
	return found[onlyKey(found)]
}

// only is the one resource of a kind.
func (s side) only(tb testing.TB, kind string) resource {
	tb.Helper()
	var found []resource
	for id, k := range s.kinds {
		if k == kind {
			found = append(found, s.resources[id])
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%d resources %s in %s, want 1", len(found), kind, s.name)
	}
	return found[0]
}

// describe names a reference to a resource by its kind, with "index:<name>"
// for an index of the table, "executions" for every execution of the state
// machine and "schedules" for every schedule of the group; "" for anything
// else.
func (s side) describe(v any) string {
	if kind := s.kinds[refTo(v)]; kind != "" {
		return kind
	}
	if kind := s.kinds[getAttOf(v, "Arn")]; kind != "" {
		return kind
	}
	m, _ := v.(map[string]any)
	if sub, ok := m["Fn::Sub"].(string); ok { // template.yaml's
		for id, kind := range s.kinds {
			switch {
			case kind == "table" && strings.HasPrefix(sub, "${"+id+".Arn}/index/"):
				return "index:" + strings.TrimPrefix(sub, "${"+id+".Arn}/index/")
			case kind == "stateMachine" && sub == "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-runs:*":
				return "executions"
			case kind == "stateMachine" && sub == "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-runs":
				// By its name, not its Ref: the runner, which its definition
				// names, uses it (a Ref would be a cycle).
				return "stateMachine"
			case kind == "expressStateMachine" && sub == "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-runs-express":
				return "expressStateMachine"
			case kind == "scheduleGroup" && sub == "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${"+id+"}/*":
				return "schedules"
			}
		}
	}
	if joined, ok := m["Fn::Join"].([]any); ok && len(joined) == 2 { // the stack's
		parts, _ := joined[1].([]any)
		if len(parts) == 2 && s.kinds[getAttOf(parts[0], "Arn")] == "table" {
			if index, ok := strings.CutPrefix(fmt.Sprint(parts[1]), "/index/"); ok {
				return "index:" + index
			}
		}
		switch fmt.Sprint(parts[len(parts)-1]) {
		case ":execution:workflows-" + devStage + "-runs:*":
			return "executions"
		case ":stateMachine:workflows-" + devStage + "-runs":
			return "stateMachine"
		case ":stateMachine:workflows-" + devStage + "-runs-express":
			return "expressStateMachine"
		case ":schedule/workflows-" + devStage + "/*":
			return "schedules"
		}
	}
	return ""
}

// resolve is v as deployed: each reference to a resource as its kind, a
// parameter as its default (a Number's as a number, in a !Sub too), and the
// stack's Fn::Join of strings and pseudo parameters as the !Sub string it
// stands for.
func (s side) resolve(v any) any {
	if kind := s.describe(v); kind != "" {
		return kind
	}
	switch v := v.(type) {
	case map[string]any:
		if p, ok := s.parameters[refTo(v)]; ok {
			if p["Type"] == "Number" {
				n, _ := strconv.ParseFloat(fmt.Sprint(p["Default"]), 64)
				return n
			}
			return fmt.Sprint(p["Default"])
		}
		if sub, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			for name, p := range s.parameters {
				sub = strings.ReplaceAll(sub, "${"+name+"}", fmt.Sprint(p["Default"]))
			}
			return sub
		}
		if joined, ok := v["Fn::Join"].([]any); ok && len(joined) == 2 && joined[0] == "" {
			var b strings.Builder
			for _, part := range joined[1].([]any) {
				if ref := refTo(part); strings.HasPrefix(ref, "AWS::") {
					b.WriteString("${" + ref + "}")
				} else if str, ok := part.(string); ok {
					b.WriteString(str)
				} else {
					b.Reset()
					break
				}
			}
			if b.Len() > 0 {
				return b.String()
			}
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = s.resolve(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = s.resolve(e)
		}
		return out
	}
	return v
}

// statements turns policy statements into "Effect [principal] resource:
// actions [if condition]" lines, one per resource (a statement on two
// resources grants what two statements do), sorted and without repeats.
func (s side) statements(tb testing.TB, list []map[string]any) []string {
	tb.Helper()
	var out []string
	for _, st := range list {
		resources, isList := st["Resource"].([]any)
		if !isList {
			resources = []any{st["Resource"]}
		}
		for _, r := range resources {
			line := fmt.Sprint(st["Effect"])
			if p, ok := st["Principal"]; ok {
				line += " " + mustJSON(tb, s.resolve(p))
			}
			on, ok := s.resolve(r).(string)
			if !ok {
				on = mustJSON(tb, r)
			}
			line += fmt.Sprintf(" %s: %s", on, strings.Join(sortedStrings(st["Action"]), ","))
			if c, ok := st["Condition"]; ok {
				line += " if " + mustJSON(tb, s.resolve(c))
			}
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// policies is the statements of the inline policies on a role: the
// template's Policies (SAM's "Statement" lists, or IAM's PolicyDocument),
// the stack's AWS::IAM::Policy resources attached to it.
func (s side) policies(tb testing.TB, roleID string) []string {
	tb.Helper()
	var list []map[string]any
	add := func(doc any) {
		var d struct{ Statement []map[string]any }
		mustRemarshal(tb, doc, &d)
		list = append(list, d.Statement...)
	}
	if s.parameters != nil {
		policies, _ := s.resources[roleID].Properties["Policies"].([]any)
		for _, p := range policies {
			if doc, ok := p.(map[string]any)["PolicyDocument"]; ok {
				add(doc)
			} else {
				add(p)
			}
		}
		return s.statements(tb, list)
	}
	for _, p := range s.ofType("AWS::IAM::Policy") {
		if slices.ContainsFunc(p.Properties["Roles"].([]any), func(r any) bool { return refTo(r) == roleID }) {
			add(p.Properties["PolicyDocument"])
		}
	}
	return s.statements(tb, list)
}

// assertSame reports each key whose value differs between the template's
// got and the stack's want.
func assertSame(tb testing.TB, what string, got, want map[string]any) {
	tb.Helper()
	keys := append(slices.Collect(maps.Keys(got)), slices.Collect(maps.Keys(want))...)
	slices.Sort(keys)
	for _, key := range slices.Compact(keys) {
		if !jsonEqual(tb, got[key], want[key]) {
			tb.Errorf("%s %s is\n%s in template.yaml,\n%s in the stack", what, key, mustJSON(tb, got[key]), mustJSON(tb, want[key]))
		}
	}
}

func TestDriftTheTemplateServesTheStacksRoutes(t *testing.T) {
	sam := samSide(t)
	var got []apiRoute
	for id, kind := range sam.kinds {
		name, isFunction := strings.CutPrefix(kind, "function:")
		events, _ := sam.resources[id].Properties["Events"].(map[string]any)
		for event, e := range events {
			e := e.(map[string]any)
			if !isFunction || e["Type"] == "Schedule" {
				continue // TestDriftTheTemplateRunsTheStacksEngine compares the start check's
			}
			p, _ := e["Properties"].(map[string]any)
			auth, _ := p["Auth"].(map[string]any)
			if e["Type"] != "Api" || refTo(p["RestApiId"]) != "Api" || len(auth) > 1 {
				t.Errorf("%s: event %s is %s; want an Api event on the Api, with at most its authorizer", id, event, mustJSON(t, e))
			}
			got = append(got, apiRoute{Method: fmt.Sprint(p["Method"]), Path: fmt.Sprint(p["Path"]), Function: name, Authenticated: auth["Authorizer"] != nil})
		}
	}
	sortRoutes(got)
	assertSameRoutes(t, "template.yaml (held to the stack's routes)", got, MustSynthesize(t, devStage).lambdaRoutes(t, devStage))
}

// functionSettings are the properties of a function both templates set and
// must agree on. Code, role, name and log group differ by nature.
var functionSettings = []string{"Runtime", "Handler", "Architectures", "MemorySize", "Timeout", "TracingConfig", "LoggingConfig", "Environment"}

// Every function of template.yaml (Globals, then its own properties) runs as
// the stack's: runtime, architecture, memory, timeout, tracing, log format
// and level, and every environment variable, which names the same kind of
// resource.
func TestDriftTheTemplateRunsTheStacksFunctions(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	settings := func(s side) map[string]any {
		out := map[string]any{}
		for id, kind := range s.kinds {
			if !strings.HasPrefix(kind, "function:") {
				continue
			}
			p := s.resources[id].Properties
			if s.globals != nil {
				p = mergedSAM(s.globals, p).(map[string]any)
				p["TracingConfig"] = map[string]any{"Mode": p["Tracing"]}
			}
			fn := map[string]any{}
			for _, key := range functionSettings {
				fn[key] = s.resolve(p[key])
			}
			delete(fn["LoggingConfig"].(map[string]any), "LogGroup") // the stack's own per function; SAM makes one
			// The endpoints template.yaml declares empty (AWS itself) only
			// so that `sam local --env-vars` can set them.
			variables := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
			localOnly := slices.Collect(maps.Values(samtemplate.LocalEndpoints))
			for _, names := range samtemplate.LocalOnly {
				localOnly = append(localOnly, names...)
			}
			for _, name := range localOnly {
				if v, declared := variables[name]; declared && v == "" && s.parameters != nil {
					delete(variables, name)
				}
			}
			out[kind] = fn
		}
		return out
	}
	assertSame(t, "the settings of", settings(sam), settings(cdk))
}

// mergedSAM is Globals' value with the function's own over it, maps merged
// key by key, as SAM deploys a function.
func mergedSAM(global, own any) any {
	g, gok := global.(map[string]any)
	o, ook := own.(map[string]any)
	if !gok || !ook {
		if own != nil {
			return own
		}
		return global
	}
	out := maps.Clone(g)
	for k, v := range o {
		out[k] = mergedSAM(g[k], v)
	}
	return out
}

// Each function of template.yaml may do what the stack's may, on the same
// resources and with the same conditions, beyond what SAM grants every
// function itself and the stack writes out: its own logs, and X-Ray.
func TestDriftTheTemplateGrantsTheStacksActions(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	got, want := map[string]any{}, map[string]any{}
	for id, kind := range sam.kinds {
		if strings.HasPrefix(kind, "function:") {
			got[kind] = sam.policies(t, id)
		}
	}
	for id, kind := range cdk.kinds {
		if !strings.HasPrefix(kind, "function:") {
			continue
		}
		fn := cdk.resources[id].Properties
		ownLogs := refTo(fn["LoggingConfig"].(map[string]any)["LogGroup"])
		var grants []string
		for _, s := range cdk.policies(t, getAttOf(fn["Role"], "Arn")) {
			if !strings.Contains(s, `{"Fn::GetAtt":["`+ownLogs+`","Arn"]}`) && s != "Allow *: xray:PutTelemetryRecords,xray:PutTraceSegments" {
				grants = append(grants, s)
			}
		}
		want[kind] = grants
	}
	assertSame(t, "what may be done by", got, want)
}

// The gateway responses and the 405 of every path: the same status, body and
// headers in both.
func TestDriftTheTemplateAnswersAsTheStacksGateway(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	tpl := MustSynthesize(t, devStage)
	api := sam.resources["Api"].Properties

	got, want := map[string]any{}, map[string]any{}
	for typ, r := range api["GatewayResponses"].(map[string]any) {
		r := r.(map[string]any)
		got[typ] = map[string]any{"status": r["StatusCode"], "body": r["ResponseTemplates"], "headers": r["ResponseParameters"].(map[string]any)["Headers"]}
	}
	for _, r := range cdk.ofType("AWS::ApiGateway::GatewayResponse") {
		headers := map[string]any{}
		for k, v := range r.Properties["ResponseParameters"].(map[string]any) {
			headers[strings.TrimPrefix(k, "gatewayresponse.header.")] = v
		}
		want[fmt.Sprint(r.Properties["ResponseType"])] = map[string]any{"status": r.Properties["StatusCode"], "body": r.Properties["ResponseTemplates"], "headers": headers}
	}
	assertSame(t, "the gateway response", got, want)

	got, want = map[string]any{}, map[string]any{}
	for path, item := range api["DefinitionBody"].(map[string]any)["paths"].(map[string]any) {
		method := item.(map[string]any)["x-amazon-apigateway-any-method"].(map[string]any)
		integration := method["x-amazon-apigateway-integration"].(map[string]any)
		response := integration["responses"].(map[string]any)["default"].(map[string]any)
		got[path] = map[string]any{"type": integration["type"], "key": method["security"] != nil, "request": integration["requestTemplates"],
			"status": response["statusCode"], "headers": response["responseParameters"], "body": response["responseTemplates"]}
	}
	for _, m := range cdk.ofType("AWS::ApiGateway::Method") {
		if m.Properties["HttpMethod"] != "ANY" {
			continue
		}
		integration := m.Properties["Integration"].(map[string]any)
		response := integration["IntegrationResponses"].([]any)[0].(map[string]any)
		want[tpl.resourcePath(t, refTo(m.Properties["ResourceId"]))] = map[string]any{
			"type": strings.ToLower(fmt.Sprint(integration["Type"])), "key": m.Properties["AuthorizationType"] != "NONE", "request": integration["RequestTemplates"],
			"status": response["StatusCode"], "headers": response["ResponseParameters"], "body": response["ResponseTemplates"]}
	}
	assertSame(t, "the 405 of", got, want)
}

// The key authorizer reads the same header with the stack's default cache
// (none), and the stage's throttle is the stack's default.
func TestDriftTheTemplateAuthorizesAndThrottlesAsTheStack(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	api := sam.resources["Api"].Properties
	authorizers := api["Auth"].(map[string]any)["Authorizers"].(map[string]any)
	if len(authorizers) != 1 {
		t.Fatalf("%d authorizers in template.yaml, want 1", len(authorizers))
	}
	a := authorizers[onlyKey(authorizers)].(map[string]any)
	identity := a["Identity"].(map[string]any)
	var sources []string
	for _, h := range sortedStrings(identity["Headers"]) {
		sources = append(sources, "method.request.header."+h)
	}
	var settings map[string]any
	for _, s := range api["MethodSettings"].([]any) {
		if m := s.(map[string]any); m["HttpMethod"] == "*" && m["ResourcePath"] == "/*" {
			settings = m
		}
	}
	got := map[string]any{
		"type": a["FunctionPayloadType"], "function": sam.resolve(a["FunctionArn"]),
		"identity": strings.Join(sources, ","), "cache": sam.resolve(identity["ReauthorizeEvery"]),
		"rate": sam.resolve(settings["ThrottlingRateLimit"]), "burst": sam.resolve(settings["ThrottlingBurstLimit"]),
	}
	authorizer := cdk.onlyOfType(t, "AWS::ApiGateway::Authorizer").Properties
	stage := MustSynthesize(t, devStage).stageMethodSettings(t)
	want := map[string]any{
		"type": authorizer["Type"], "function": cdk.kinds[firstGetAttArn(authorizer["AuthorizerUri"])],
		"identity": authorizer["IdentitySource"], "cache": authorizer["AuthorizerResultTtlInSeconds"],
		"rate": stage["ThrottlingRateLimit"], "burst": stage["ThrottlingBurstLimit"],
	}
	assertSame(t, "the authorizer's and the stage's", got, want)
}

// The stateful resources and the run engine's: the same properties, the
// keys' policies, and each key kept exactly when the table is.
func TestDriftTheTemplateKeepsDataAndRunsAsTheStack(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	compared := map[string][]string{
		"table":            {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode", "PointInTimeRecoverySpecification", "TimeToLiveSpecification"},
		"key":              {"KeySpec", "KeyUsage", "EnableKeyRotation", "KeyPolicy"},
		"signalKey":        {"KeySpec", "KeyUsage", "EnableKeyRotation", "KeyPolicy"},
		"stateMachine":     {"StateMachineType", "TracingConfiguration", "LoggingConfiguration", "RoleArn"},
		"stateMachineLogs": {"RetentionInDays"},
		// The Express machine, set up as the Standard one.
		"expressStateMachine":     {"StateMachineType", "TracingConfiguration", "LoggingConfiguration", "RoleArn"},
		"expressStateMachineLogs": {"RetentionInDays"},
		"queue:dlq":               {"SqsManagedSseEnabled", "MessageRetentionPeriod", "KmsMasterKeyId"},
		"queue:failures":          {"SqsManagedSseEnabled", "MessageRetentionPeriod", "KmsMasterKeyId"},
		"scheduledRunAsync":       {"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"},
	}
	properties := func(s side) map[string]any {
		out := map[string]any{}
		for kind, keys := range compared {
			r := s.only(t, kind)
			for _, key := range keys {
				out[kind+"."+key] = s.resolve(r.Properties[key])
			}
		}
		out["key kept as the table"] = s.only(t, "key").DeletionPolicy == s.only(t, "table").DeletionPolicy
		out["signal key kept as the table"] = s.only(t, "signalKey").DeletionPolicy == s.only(t, "table").DeletionPolicy
		return out
	}
	assertSame(t, "the property", properties(sam), properties(cdk))
	// One alias per key, named as the stack's (alias/workflows-<stage>-...)
	// with the stack's name for workflows-<stage>.
	aliases := map[any]string{}
	for _, alias := range sam.ofType("AWS::KMS::Alias") {
		aliases[sam.resolve(alias.Properties["TargetKeyId"])] = fmt.Sprint(sam.resolve(alias.Properties["AliasName"]))
	}
	if want := map[any]string{"key": "alias/${AWS::StackName}-secrets", "signalKey": "alias/${AWS::StackName}-signals"}; !maps.Equal(aliases, want) {
		t.Errorf("the aliases are %v; want %v, as the stack's alias/workflows-<stage>-secrets and -signals", aliases, want)
	}
	if !slices.Contains(sam.only(t, "scheduledRunAsync").DependsOn, samtemplate.FunctionID(routes.ScheduledRunFunction)+"Role") {
		t.Error("scheduled-run's asynchronous invocation config does not wait for its role (Lambda checks the destination's permission)")
	}
}

// The firewall: in template.yaml a condition on the Waf parameter (off by
// default, as the stack's -c waf), with the same rules, answers and limit.
func TestDriftTheTemplatesFirewallIsTheStacks(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage, Edge: stack.Edge{WAF: true}})
	if got := fmt.Sprint(sam.parameters["Waf"]["Default"]); got != "false" {
		t.Errorf("the Waf parameter defaults to %s; the stack has no firewall unless asked", got)
	}
	acl, association := sam.only(t, "firewall"), sam.onlyOfType(t, "AWS::WAFv2::WebACLAssociation")
	if acl.Condition != "WafEnabled" || association.Condition != "WafEnabled" {
		t.Errorf("the firewall's condition is %q, its association's %q, want WafEnabled", acl.Condition, association.Condition)
	}
	got, want := map[string]any{}, map[string]any{}
	for _, key := range []string{"Scope", "DefaultAction", "CustomResponseBodies", "Rules"} {
		got[key], want[key] = sam.resolve(acl.Properties[key]), cdk.resolve(cdk.only(t, "firewall").Properties[key])
	}
	got["on"] = sam.resolve(association.Properties["WebACLArn"]) == "firewall" && strings.HasSuffix(fmt.Sprint(sam.resolve(association.Properties["ResourceArn"])), "/stages/${Api.Stage}")
	want["on"] = true
	assertSame(t, "the firewall's", got, want)
}

// The run engine: sfn.Definition and sfn.ExpressDefinition around the
// runner, the state machines' and Scheduler's roles, the queues' policies,
// the start check's schedule.
func TestDriftTheTemplateRunsTheStacksEngine(t *testing.T) {
	sam, cdk := samSide(t), cdkSide(t, stack.Props{Stage: devStage})
	tpl := MustSynthesize(t, devStage)
	got, want := map[string]any{}, map[string]any{}

	standard, express := tpl.stateMachines(t)
	runner := tpl.functionID(t, routes.RunnerFunction)
	for kind, id := range map[string]string{"stateMachine": standard, "expressStateMachine": express} {
		sm := sam.only(t, kind).Properties
		substitutions, _ := sm["DefinitionSubstitutions"].(map[string]any)
		got[kind+" definition"], want[kind+" definition"] = sm["DefinitionString"], tpl.cdkDefinition(t, id, runner)
		got[kind+" runner"], want[kind+" runner"] = sam.resolve(substitutions), map[string]any{strings.Trim(runnerToken, "${}"): "function:" + routes.RunnerFunction}
		got[kind+" name"], want[kind+" name"] = sam.resolve(sm["StateMachineName"]), strings.Replace(fmt.Sprint(tpl.Resources[id].Properties["StateMachineName"]), "workflows-"+devStage, "${AWS::StackName}", 1)
	}

	// Who may assume the three roles, and what they may do.
	role := func(s side, kind string) []string {
		for id, k := range s.kinds {
			if k != kind {
				continue
			}
			var trust struct{ Statement []map[string]any }
			mustRemarshal(t, s.resources[id].Properties["AssumeRolePolicyDocument"], &trust)
			lines := s.policies(t, id)
			for _, st := range trust.Statement {
				lines = append(lines, fmt.Sprintf("trusts %s for %v if %s", mustJSON(t, st["Principal"]), st["Action"], mustJSON(t, st["Condition"])))
			}
			return lines
		}
		return nil
	}
	for _, kind := range []string{"stateMachineRole", "expressStateMachineRole", "schedulerRole"} {
		got[kind], want[kind] = role(sam, kind), role(cdk, kind)
	}

	// The queues refuse anything but TLS, each by a policy attached to it.
	queuePolicies := func(s side) []string {
		var out []string
		for _, p := range s.ofType("AWS::SQS::QueuePolicy") {
			var doc struct{ Statement []map[string]any }
			mustRemarshal(t, p.Properties["PolicyDocument"], &doc)
			attached, _ := s.resolve(p.Properties["Queues"]).([]any)
			for _, line := range s.statements(t, doc.Statement) {
				if !slices.ContainsFunc(attached, func(q any) bool { return strings.Contains(line, fmt.Sprintf(" %v: ", q)) }) {
					t.Errorf("%s: a policy attached to %v says %s", s.name, attached, line)
				}
				out = append(out, line)
			}
		}
		slices.Sort(out)
		return out
	}
	got["queue policies"], want["queue policies"] = queuePolicies(sam), queuePolicies(cdk)

	for id, kind := range sam.kinds {
		if kind == "function:"+routes.StartCheckFunction {
			got["start check"] = sam.resources[id].Properties["Events"]
		}
	}
	rule := cdk.onlyOfType(t, "AWS::Events::Rule").Properties
	target := rule["Targets"].([]any)[0].(map[string]any)
	want["start check"] = map[string]any{fmt.Sprintf("Every%dMinutes", stack.StartCheckEveryMinutes): map[string]any{
		"Type": "Schedule", "Properties": map[string]any{"Schedule": rule["ScheduleExpression"], "RetryPolicy": target["RetryPolicy"]}}}
	if cdk.resolve(target["Arn"]) != "function:"+routes.StartCheckFunction {
		t.Errorf("the stack's rule invokes %v, not the start check", cdk.resolve(target["Arn"]))
	}
	assertSame(t, "the run engine's", got, want)
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
	if name, ok := strings.CutPrefix(n.Tag, "!"); ok && !strings.HasPrefix(name, "!") {
		if name == "GetAtt" && n.Kind == yaml.ScalarNode {
			resource, attribute, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %s has no attribute", n.Line, n.Value)
			}
			return map[string]any{"Fn::GetAtt": []any{resource, attribute}}, nil
		}
		plain := *n
		plain.Tag = ""
		arg, err := cfnValue(&plain)
		if err != nil {
			return nil, err
		}
		if name == "Ref" || name == "Condition" {
			return map[string]any{name: arg}, nil
		}
		return map[string]any{"Fn::" + name: arg}, nil
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
