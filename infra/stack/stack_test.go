package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
)

const devStage = "dev"

func TestEveryRouteHasItsOwnArm64Al2023Function(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	tpl.assertions.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(routes.Functions())))

	names := tpl.functionNames(t, devStage)
	byName := map[string]resource{}
	for id, name := range names {
		byName[name] = tpl.Resources[id]
	}
	for _, name := range functionNamesInOrder() {
		t.Run(name, func(t *testing.T) {
			fn, ok := byName[name]
			if !ok {
				t.Fatalf("no function named workflows-%s-%s", devStage, name)
			}
			p := fn.Properties
			if p["Runtime"] != "provided.al2023" || p["Handler"] != stack.BootstrapName {
				t.Errorf("runtime %v, handler %v; want provided.al2023 and %s", p["Runtime"], p["Handler"], stack.BootstrapName)
			}
			if got := sortedStrings(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
				t.Errorf("architectures %v, want [arm64]", got)
			}
			if tracing := p["TracingConfig"].(map[string]any)["Mode"]; tracing != "Active" {
				t.Errorf("tracing %v, want Active", tracing)
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			if table := refTo(env["TABLE_NAME"]); tpl.Resources[table].Type != "AWS::DynamoDB::Table" {
				t.Errorf("TABLE_NAME is %v, want a Ref to the table", env["TABLE_NAME"])
			}
			if _, set := env["DYNAMODB_ENDPOINT"]; set {
				t.Error("DYNAMODB_ENDPOINT is set; in AWS the SDK finds DynamoDB itself")
			}
		})
	}
}

func TestTheMethodsAreTheRouteTable(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	assertSameRoutes(t, "the synthesized API", tpl.lambdaRoutes(t, devStage), routeTable())
}

func TestTheKeyAuthorizerGuardsEveryRouteThatTakesAKey(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	authorizers := tpl.resourcesOfType("AWS::ApiGateway::Authorizer")
	if len(authorizers) != 1 {
		t.Fatalf("%d authorizers, want 1", len(authorizers))
	}
	var authorizerID string
	var authorizer resource
	for authorizerID, authorizer = range authorizers {
	}
	p := authorizer.Properties
	if p["Type"] != "REQUEST" || p["IdentitySource"] != "method.request.header.x-api-key" {
		t.Errorf("authorizer type %v, identity source %v; want REQUEST on method.request.header.x-api-key", p["Type"], p["IdentitySource"])
	}
	if fn := tpl.functionNames(t, devStage)[firstGetAttArn(p["AuthorizerUri"])]; fn != routes.AuthorizerFunction {
		t.Errorf("the authorizer invokes %q, want %q", fn, routes.AuthorizerFunction)
	}

	var public []string
	for id, m := range tpl.resourcesOfType("AWS::ApiGateway::Method") {
		integration := m.Properties["Integration"].(map[string]any)
		if integration["Type"] != "AWS_PROXY" {
			continue
		}
		path := tpl.resourcePath(t, refTo(m.Properties["ResourceId"]))
		route, _, _ := routes.Match(m.Properties["HttpMethod"].(string), path)
		authorizedBy := refTo(m.Properties["AuthorizerId"])
		switch {
		case route.Authenticated() && (m.Properties["AuthorizationType"] != "CUSTOM" || authorizedBy != authorizerID):
			t.Errorf("%s %s (%s) is not behind the key authorizer", route.Method, route.Path, id)
		case !route.Authenticated() && (m.Properties["AuthorizationType"] != "NONE" || authorizedBy != ""):
			t.Errorf("%s %s (%s) takes a key, but the route table says it does not", route.Method, route.Path, id)
		}
		if !route.Authenticated() {
			public = append(public, route.Function)
		}
	}
	// Which routes anyone may call is spelled out here, not only derived
	// from the route table: a route that loses its scope by mistake would
	// otherwise go public without a test noticing.
	slices.Sort(public)
	// The console's page and its assets are one function's two methods.
	if want := []string{routes.GetConsole.Function, routes.GetConsoleAsset.Function, routes.GetOpenAPI.Function, routes.ReceiveSignal.Function, routes.ReceiveWebhook.Function}; !slices.Equal(public, want) {
		t.Errorf("the routes without the key authorizer are %v, want %v", public, want)
	}
}

func TestTheAuthorizerCacheIsOffUnlessAskedForAndAChangeRedeploysTheAPI(t *testing.T) {
	cacheTTL := func(tpl *cfnTemplate) any {
		for _, a := range tpl.resourcesOfType("AWS::ApiGateway::Authorizer") {
			return a.Properties["AuthorizerResultTtlInSeconds"]
		}
		return nil
	}
	deployment := func(tpl *cfnTemplate) string { return onlyKey(tpl.resourcesOfType("AWS::ApiGateway::Deployment")) }

	off := MustSynthesize(t, devStage)
	if ttl := cacheTTL(off); ttl != float64(0) {
		t.Errorf("by default the result cache TTL is %v, want 0", ttl)
	}
	cached := MustSynthesizeWith(t, stack.Props{Stage: devStage, AuthorizerCacheSeconds: 60})
	if ttl := cacheTTL(cached); ttl != float64(60) {
		t.Errorf("asked for 60 s, the result cache TTL is %v", ttl)
	}
	// API Gateway applies a changed authorizer only with a new deployment.
	if deployment(off) == deployment(cached) {
		t.Errorf("changing the cache TTL keeps the deployment %s, so API Gateway would keep the old TTL", deployment(off))
	}
}

func TestEachGatewayResponseAnswersInTheEnvelope(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	byType := map[string]map[string]any{}
	for _, r := range tpl.resourcesOfType("AWS::ApiGateway::GatewayResponse") {
		byType[r.Properties["ResponseType"].(string)] = r.Properties
	}
	if len(byType) != len(gatewayresponse.All) {
		t.Errorf("%d gateway responses, want %d", len(byType), len(gatewayresponse.All))
	}
	for _, gr := range gatewayresponse.All {
		t.Run(gr.Type, func(t *testing.T) {
			p, ok := byType[gr.Type]
			if !ok {
				t.Fatal("missing")
			}
			wantStatus := ""
			if gr.StatusCode != 0 {
				wantStatus = strconv.Itoa(gr.StatusCode)
			}
			if got, _ := p["StatusCode"].(string); got != wantStatus {
				t.Errorf("status %q, want %q (empty: API Gateway's own)", got, wantStatus)
			}
			body := p["ResponseTemplates"].(map[string]any)["application/json"]
			if body != gr.Body() {
				t.Errorf("body %v, want %s", body, gr.Body())
			}
			params, _ := p["ResponseParameters"].(map[string]any)
			if got := params["gatewayresponse.header.X-Request-Id"]; got != "context.requestId" {
				t.Errorf("X-Request-Id header %v, want context.requestId", got)
			}
			want := map[string]any{}
			for name, value := range gr.ResponseHeaders() {
				want["gatewayresponse.header."+name] = value
			}
			if !jsonEqual(t, params, want) {
				t.Errorf("headers %v, want %v", params, want)
			}
			// API Gateway runs response templates through VTL, where $ and #
			// are syntax: a body must not contain them.
			if strings.ContainsAny(gr.Body(), "$#") {
				t.Errorf("body %s contains VTL syntax", gr.Body())
			}
		})
	}
}

// What API Gateway answers on its own, spelled out here rather than derived
// from gatewayresponse.All: an authorizer that errors (API Gateway's
// AUTHORIZER_CONFIGURATION_ERROR) is the same 503 as one that fails, the
// stage's throttle and the firewall answer in the contract's envelope, and
// DEFAULT_4XX does not call what it catches a validation error.
func TestTheGatewayAnswersItsOwnRefusalsInTheContract(t *testing.T) {
	for _, stage := range []string{devStage, "prod"} {
		t.Run(stage, func(t *testing.T) {
			tpl := MustSynthesize(t, stage)
			byType := map[string]map[string]any{}
			for _, r := range tpl.resourcesOfType("AWS::ApiGateway::GatewayResponse") {
				byType[r.Properties["ResponseType"].(string)] = r.Properties
			}
			answer := func(typ string) (status, code, message string, headers map[string]any) {
				p, ok := byType[typ]
				if !ok {
					t.Errorf("no %s gateway response: API Gateway answers it with its own body", typ)
					return "", "", "", nil
				}
				var body struct {
					Success bool
					Error   struct{ Code, Message string }
				}
				if err := json.Unmarshal([]byte(p["ResponseTemplates"].(map[string]any)["application/json"].(string)), &body); err != nil {
					t.Errorf("%s: body is not JSON: %v", typ, err)
				}
				status, _ = p["StatusCode"].(string)
				headers, _ = p["ResponseParameters"].(map[string]any)
				return status, body.Error.Code, body.Error.Message, headers
			}

			failStatus, failCode, failMessage, _ := answer("AUTHORIZER_FAILURE")
			status, code, message, _ := answer("AUTHORIZER_CONFIGURATION_ERROR")
			if failStatus != "503" || status != failStatus || code != failCode || message != failMessage {
				t.Errorf("AUTHORIZER_CONFIGURATION_ERROR answers %s %s %q, want AUTHORIZER_FAILURE's 503 %s %q",
					status, code, message, failCode, failMessage)
			}

			status, code, message, headers := answer("THROTTLED")
			if status != "429" || code != "RATE_LIMITED" || !strings.HasPrefix(message, "Rate limit exceeded.") {
				t.Errorf("THROTTLED answers %s %s %q, want 429 RATE_LIMITED with the seed's \"Rate limit exceeded.\"", status, code, message)
			}
			if headers["gatewayresponse.header.Retry-After"] != "'1'" {
				t.Errorf("THROTTLED carries Retry-After %v, want '1' (the stage's bucket refills every second)", headers["gatewayresponse.header.Retry-After"])
			}
			for name := range headers {
				if strings.Contains(name, "RateLimit") {
					t.Errorf("THROTTLED carries %s, which only the function knows", name)
				}
			}

			if status, code, _, _ := answer("WAF_FILTERED"); status != "403" || code != "FORBIDDEN" {
				t.Errorf("WAF_FILTERED answers %s %s, want 403 FORBIDDEN", status, code)
			}
			if status, code, _, _ := answer("RESOURCE_NOT_FOUND"); status != "404" || code != "NOT_FOUND" {
				t.Errorf("RESOURCE_NOT_FOUND answers %s %s, want 404 NOT_FOUND", status, code)
			}
			status, code, _, _ = answer("DEFAULT_4XX")
			if code == "VALIDATION_ERROR" {
				t.Error("DEFAULT_4XX claims VALIDATION_ERROR for refusals that are not one")
			}
			if status == "" || domain.Code(code).Status() != mustAtoi(t, status) {
				t.Errorf("DEFAULT_4XX answers %q with %s, whose status is %d: code and status disagree", status, code, domain.Code(code).Status())
			}
		})
	}
}

func mustAtoi(tb testing.TB, s string) int {
	tb.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Errorf("%q is not a number", s)
	}
	return n
}

func TestAKnownPathAnswersAnUnknownMethodWith405WithoutALambda(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	allowed := map[string][]string{}
	for _, r := range routes.All {
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	seen := map[string]bool{}
	for id, m := range tpl.resourcesOfType("AWS::ApiGateway::Method") {
		if m.Properties["HttpMethod"] != "ANY" {
			continue
		}
		path := tpl.resourcePath(t, refTo(m.Properties["ResourceId"]))
		seen[path] = true
		methods, known := allowed[path]
		if !known {
			t.Errorf("ANY method %s on %s, which no route has", id, path)
			continue
		}
		if m.Properties["AuthorizationType"] != "NONE" {
			t.Errorf("%s: the 405 takes a key; the local gateway answers it before authenticating", path)
		}
		integration := m.Properties["Integration"].(map[string]any)
		if integration["Type"] != "MOCK" {
			t.Errorf("%s: integration %v, want MOCK", path, integration["Type"])
		}
		responses := integration["IntegrationResponses"].([]any)
		if len(responses) != 1 {
			t.Fatalf("%s: %d integration responses, want 1", path, len(responses))
		}
		response := responses[0].(map[string]any)
		slices.Sort(methods)
		wantAllow := "'" + strings.Join(methods, ", ") + "'"
		if response["StatusCode"] != "405" || response["SelectionPattern"] != nil {
			t.Errorf("%s: integration response %v, want the default response with 405", path, response)
		}
		if got := response["ResponseParameters"].(map[string]any)["method.response.header.Allow"]; got != wantAllow {
			t.Errorf("%s: Allow %v, want %s", path, got, wantAllow)
		}
		if got := response["ResponseParameters"].(map[string]any)["method.response.header.X-Request-Id"]; got != "context.requestId" {
			t.Errorf("%s: X-Request-Id %v, want context.requestId", path, got)
		}
		if got := response["ResponseTemplates"].(map[string]any)["application/json"]; got != stack.MethodNotAllowed.Body() {
			t.Errorf("%s: body %v, want %s", path, got, stack.MethodNotAllowed.Body())
		}
	}
	for path := range allowed {
		if !seen[path] {
			t.Errorf("%s has no ANY method answering 405", path)
		}
	}
}

// policyStatements returns the statements of the inline policies attached
// to role.
func (t *cfnTemplate) policyStatements(role string) []map[string]any {
	var out []map[string]any
	for _, p := range t.resourcesOfType("AWS::IAM::Policy") {
		attached := false
		for _, r := range p.Properties["Roles"].([]any) {
			attached = attached || refTo(r) == role
		}
		if !attached {
			continue
		}
		for _, s := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

// Each function may call exactly its TableActions on the table and the
// indexes it queries, its KeyActions on the secrets' key, its
// SignalKeyActions on the signal tokens' key, its ServiceActions on the run
// engine's resources (the state machine, its executions, the schedules, the
// schedules' role), states:StartExecution on the Express state machine if
// it starts runs (StartsRuns), and nothing else on anything but its own log
// group and X-Ray.
func TestEachFunctionMayCallExactlyItsActionsOnTheTableTheKeyAndTheRunEngine(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	tables := tpl.resourcesOfType("AWS::DynamoDB::Table")
	table := onlyKey(tables)
	key, signalKey := tpl.secretsKey(t), tpl.signalKey(t)
	stateMachine, _ := tpl.stateMachines(t)
	schedulerRole := tpl.schedulerRole(t)
	_, failureQueue := tpl.failureQueues(t)
	names := tpl.functionNames(t, devStage)
	for id, name := range names {
		t.Run(name, func(t *testing.T) {
			spec, _ := routes.FunctionByName(name)
			fn := tpl.Resources[id]
			role := getAttOf(fn.Properties["Role"], "Arn")
			if managed := tpl.Resources[role].Properties["ManagedPolicyArns"]; managed != nil {
				t.Errorf("role %s has managed policies %v; it should hold only its own statements", role, managed)
			}
			logGroup := refTo(fn.Properties["LoggingConfig"].(map[string]any)["LogGroup"])
			tableResources := []string{"table"}
			for _, index := range spec.Indexes {
				tableResources = append(tableResources, "index:"+index)
			}
			slices.Sort(tableResources)
			want := map[string]string{ // resources -> sorted actions
				strings.Join(tableResources, " "): strings.Join(sortedCopy(actionsOf(t, name)), ","),
				"logs":                            "logs:CreateLogStream,logs:PutLogEvents",
				"*":                               "xray:PutTelemetryRecords,xray:PutTraceSegments",
			}
			if actions := keyActionsOf(t, name); len(actions) > 0 {
				want["key"] = strings.Join(sortedCopy(actions), ",")
			}
			if actions := signalKeyActionsOf(t, name); len(actions) > 0 {
				want["signalKey"] = strings.Join(sortedCopy(actions), ",")
			}
			for _, action := range spec.ServiceActions {
				var on string
				switch action {
				case routes.ActionStartExecution, routes.ActionSendTaskSuccess:
					on = "stateMachine"
				case routes.ActionStopExecution, routes.ActionDescribeExecution:
					on = "executions"
				case routes.ActionPassRole:
					on = "schedulerRole"
				default:
					on = "schedules"
				}
				want[on] = strings.Trim(want[on]+","+action, ",")
			}
			if spec.StartsRuns {
				// Starting on the Express machine too, and nothing else
				// there: it has no task tokens, and its executions cannot
				// be stopped or described.
				want["expressStateMachine"] = routes.ActionStartExecution
			}
			if name == routes.ScheduledRunFunction {
				// Lambda sends its failed asynchronous invocations to the
				// on-failure destination with the function's role.
				want["failureQueue"] = "sqs:SendMessage"
			}
			for on, actions := range want {
				want[on] = strings.Join(sortedCopy(strings.Split(actions, ",")), ",")
			}
			// CDK's minimizePolicies makes one statement of those with the
			// same actions: starting on both state machines, for the
			// functions that do nothing else with Step Functions.
			merged := map[string][]string{}
			for on, actions := range want {
				merged[actions] = append(merged[actions], strings.Fields(on)...)
			}
			want = map[string]string{}
			for actions, resources := range merged {
				slices.Sort(resources)
				want[strings.Join(resources, " ")] = actions
			}
			got := map[string]string{}
			for _, s := range tpl.policyStatements(role) {
				var resources []string
				list, isList := s["Resource"].([]any)
				if !isList {
					list = []any{s["Resource"]}
				}
				for _, res := range list {
					resources = append(resources, describeResource(res, table, key, signalKey, logGroup, stateMachine, schedulerRole, failureQueue))
				}
				slices.Sort(resources)
				on := strings.Join(resources, " ")
				wantCondition := "null"
				if on == "schedulerRole" {
					// The schedules' role may be handed to Scheduler only.
					wantCondition = `{"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}`
				}
				if s["Effect"] != "Allow" || mustJSON(t, s["Condition"]) != wantCondition {
					t.Errorf("statement %v: want an Allow with condition %s", s, wantCondition)
				}
				if strings.Contains(on, "?") {
					t.Errorf("statement on an unexpected resource %v", s["Resource"])
					continue
				}
				if _, dup := got[on]; dup {
					t.Errorf("two statements on %s", on)
				}
				got[on] = strings.Join(sortedStrings(s["Action"]), ",")
			}
			if !maps.Equal(got, want) {
				t.Errorf("statements (resources: actions)\n got %v\nwant %v", got, want)
			}
		})
	}
}

// describeResource names a statement's resource in the terms of the test
// above; "?" for anything else.
func describeResource(res any, table, key, signalKey, logGroup, stateMachine, schedulerRole, failureQueue string) string {
	switch {
	case res == "*":
		return "*"
	case getAttOf(res, "Arn") == failureQueue:
		return "failureQueue"
	case getAttOf(res, "Arn") == table:
		return "table"
	case getAttOf(res, "Arn") == key:
		return "key"
	case getAttOf(res, "Arn") == signalKey:
		return "signalKey"
	case getAttOf(res, "Arn") == logGroup:
		return "logs"
	case refTo(res) == stateMachine:
		return "stateMachine"
	case getAttOf(res, "Arn") == schedulerRole:
		return "schedulerRole"
	}
	joined, _ := res.(map[string]any)["Fn::Join"].([]any)
	if len(joined) != 2 {
		return "?"
	}
	parts, _ := joined[1].([]any)
	if len(parts) == 2 && getAttOf(parts[0], "Arn") == table {
		if index, ok := strings.CutPrefix(fmt.Sprint(parts[1]), "/index/"); ok && !strings.ContainsAny(index, "*/") {
			return "index:" + index
		}
	}
	last := fmt.Sprint(parts[len(parts)-1])
	switch {
	case last == ":execution:workflows-"+devStage+"-runs:*":
		return "executions"
	case last == ":stateMachine:workflows-"+devStage+"-runs":
		// The state machine by its name (runEngine.stateMachineARN).
		return "stateMachine"
	case last == ":stateMachine:workflows-"+devStage+"-runs-express":
		// The Express one by its name (runEngine.expressStateMachineARN).
		return "expressStateMachine"
	case last == ":schedule/workflows-"+devStage+"/*":
		return "schedules"
	}
	return "?"
}

// schedulerRole is the logical id of the role Scheduler assumes.
func (t *cfnTemplate) schedulerRole(tb testing.TB) string {
	tb.Helper()
	for id, r := range t.resourcesOfType("AWS::IAM::Role") {
		if strings.Contains(mustJSON(tb, r.Properties["AssumeRolePolicyDocument"]), "scheduler.amazonaws.com") {
			return id
		}
	}
	tb.Fatal("no role that Scheduler assumes")
	return ""
}

// failureQueues are the logical ids of the stack's two queues of lost
// firings: the one Scheduler's role may send to (every schedule's
// dead-letter queue) and scheduled-run's on-failure destination.
func (t *cfnTemplate) failureQueues(tb testing.TB) (scheduleDLQ, scheduledRunFailures string) {
	tb.Helper()
	queues := t.resourcesOfType("AWS::SQS::Queue")
	if len(queues) != 2 {
		tb.Fatalf("%d SQS queues, want 2 (the schedules' dead-letter queue, scheduled-run's failures)", len(queues))
	}
	config := onlyResource(tb, t, "AWS::Lambda::EventInvokeConfig").Properties
	destination, _ := config["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)
	scheduledRunFailures = getAttOf(destination["Destination"], "Arn")
	for id := range queues {
		if id != scheduledRunFailures {
			scheduleDLQ = id
		}
	}
	if scheduledRunFailures == "" || scheduleDLQ == "" {
		tb.Fatalf("the on-failure destination %s is not one of the queues", mustJSON(tb, destination))
	}
	return scheduleDLQ, scheduledRunFailures
}

func TestNoPolicyGrantsAWildcardActionOrFullAccess(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	for id, p := range tpl.resourcesOfType("AWS::IAM::Policy") {
		for _, s := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			for _, action := range sortedStrings(s.(map[string]any)["Action"]) {
				if strings.Contains(action, "*") {
					t.Errorf("policy %s grants %q", id, action)
				}
			}
		}
	}
	for id, r := range tpl.resourcesOfType("AWS::IAM::Role") {
		b, _ := json.Marshal(r.Properties["ManagedPolicyArns"])
		if strings.Contains(string(b), "FullAccess") {
			t.Errorf("role %s has a FullAccess managed policy: %s", id, b)
		}
	}
}

func TestTheTableIsTheStoresDefinition(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	tables := tpl.resourcesOfType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("%d tables, want 1", len(tables))
	}
	got := tables[onlyKey(tables)].Properties

	def := store.TableDefinition("")
	var want struct {
		AttributeDefinitions   any
		KeySchema              any
		GlobalSecondaryIndexes any
	}
	mustRemarshal(t, map[string]any{
		"AttributeDefinitions":   def.AttributeDefinitions,
		"KeySchema":              def.KeySchema,
		"GlobalSecondaryIndexes": def.GlobalSecondaryIndexes,
	}, &want)
	for key, w := range map[string]any{
		"AttributeDefinitions":   want.AttributeDefinitions,
		"KeySchema":              want.KeySchema,
		"GlobalSecondaryIndexes": want.GlobalSecondaryIndexes,
	} {
		if !jsonEqual(t, got[key], w) {
			t.Errorf("%s\n got %s\nwant %s", key, mustJSON(t, got[key]), mustJSON(t, withoutNulls(w)))
		}
	}
	if got["BillingMode"] != "PAY_PER_REQUEST" {
		t.Errorf("billing mode %v, want on-demand", got["BillingMode"])
	}
	if !jsonEqual(t, got["PointInTimeRecoverySpecification"], map[string]any{"PointInTimeRecoveryEnabled": true}) {
		t.Errorf("point-in-time recovery %v, want enabled", got["PointInTimeRecoverySpecification"])
	}
	if !jsonEqual(t, got["TimeToLiveSpecification"], map[string]any{"AttributeName": store.AttrTTL, "Enabled": true}) {
		t.Errorf("TTL %v, want enabled on %q", got["TimeToLiveSpecification"], store.AttrTTL)
	}
}

func TestOnlyDevStagesMayLoseTheirData(t *testing.T) {
	for _, tc := range []struct {
		stage   string
		protect bool
	}{
		{"dev", false},
		{"dev-alice", false},
		{"staging", true},
		{"prod", true},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			tpl := MustSynthesize(t, tc.stage)
			wantPolicy := "Delete"
			if tc.protect {
				wantPolicy = "Retain"
			}
			for id, table := range tpl.resourcesOfType("AWS::DynamoDB::Table") {
				if table.Properties["DeletionProtectionEnabled"] != tc.protect {
					t.Errorf("table %s: deletion protection %v, want %v", id, table.Properties["DeletionProtectionEnabled"], tc.protect)
				}
				if table.DeletionPolicy != wantPolicy {
					t.Errorf("table %s: deletion policy %q, want %q", id, table.DeletionPolicy, wantPolicy)
				}
			}
			// Both keys go and stay with the table: the table's secrets
			// are sealed under the one, and its waiting steps' tokens are
			// made under the other.
			for id, key := range tpl.resourcesOfType("AWS::KMS::Key") {
				if key.DeletionPolicy != wantPolicy {
					t.Errorf("key %s: deletion policy %q, want %q", id, key.DeletionPolicy, wantPolicy)
				}
				window, set := key.Properties["PendingWindowInDays"]
				if tc.protect && set || !tc.protect && window != 7.0 {
					t.Errorf("key %s: pending window %v; want 7 days on a dev stage, KMS's default (30) elsewhere", id, window)
				}
			}
			// The alias goes with the stack even where the key stays, so
			// that the stage deployed again can take its name.
			for id, alias := range tpl.resourcesOfType("AWS::KMS::Alias") {
				if alias.DeletionPolicy != "" && alias.DeletionPolicy != "Delete" {
					t.Errorf("alias %s: deletion policy %q; a kept alias would block a new deployment of the stage", id, alias.DeletionPolicy)
				}
			}
			for id, group := range tpl.resourcesOfType("AWS::Logs::LogGroup") {
				if group.DeletionPolicy != wantPolicy {
					t.Errorf("log group %s: deletion policy %q, want %q", id, group.DeletionPolicy, wantPolicy)
				}
				if days, _ := group.Properties["RetentionInDays"].(float64); days <= 0 {
					t.Errorf("log group %s keeps its logs forever", id)
				}
			}
		})
	}
}

func TestTheStageTracesAndWritesJSONAccessLogs(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	stages := tpl.resourcesOfType("AWS::ApiGateway::Stage")
	if len(stages) != 1 {
		t.Fatalf("%d stages, want 1", len(stages))
	}
	p := stages[onlyKey(stages)].Properties
	if p["StageName"] != devStage || p["TracingEnabled"] != true {
		t.Errorf("stage %v, tracing %v; want %s with X-Ray", p["StageName"], p["TracingEnabled"], devStage)
	}
	accessLog := p["AccessLogSetting"].(map[string]any)
	if group := getAttOf(accessLog["DestinationArn"], "Arn"); tpl.Resources[group].Type != "AWS::Logs::LogGroup" {
		t.Errorf("access logs go to %v, want a log group of the stack", accessLog["DestinationArn"])
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(accessLog["Format"].(string)), &fields); err != nil {
		t.Fatalf("access log format is not JSON: %v", err)
	}
	for _, field := range []string{"requestId", "status", "responseType", "stage"} {
		if fields[field] == "" {
			t.Errorf("access log lacks %q, which the alarms and a person reading it need", field)
		}
	}
	for field, value := range fields {
		if strings.Contains(value, "header") || strings.Contains(value, "apiKey") {
			t.Errorf("access log field %s=%s could hold the key", field, value)
		}
	}
}

func TestAlarmsWatchServerErrorsAuthorizerFailuresAndEveryFunctionsThrottles(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	topics := tpl.resourcesOfType("AWS::SNS::Topic")
	if len(topics) != 1 {
		t.Fatalf("%d topics, want 1", len(topics))
	}
	topic := onlyKey(topics)

	var serverErrors, authorizerFailures int
	throttled := map[string]int{}
	names := tpl.functionNames(t, devStage)
	for id, alarm := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		actions := alarm.Properties["AlarmActions"].([]any)
		if len(actions) != 1 || refTo(actions[0]) != topic {
			t.Errorf("alarm %s notifies %v, want the alarm topic", id, actions)
		}
		if alarm.Properties["MetricName"] == "AuthorizerFailures" {
			authorizerFailures++
			continue
		}
		metrics, _ := alarm.Properties["Metrics"].([]any)
		var stats int
		for _, m := range metrics {
			stat, ok := m.(map[string]any)["MetricStat"].(map[string]any)
			if !ok {
				continue
			}
			stats++
			metric := stat["Metric"].(map[string]any)
			switch metric["MetricName"] {
			case "5XXError":
				serverErrors++
			case "Throttles":
				dims := metric["Dimensions"].([]any)
				throttled[names[refTo(dims[0].(map[string]any)["Value"])]]++
			}
		}
		if stats > 10 {
			t.Errorf("alarm %s sums %d metrics; CloudWatch allows 10", id, stats)
		}
	}
	if serverErrors != 1 {
		t.Errorf("%d alarms on 5XXError, want 1", serverErrors)
	}
	if authorizerFailures != 1 {
		t.Errorf("%d alarms on authorizer failures, want 1", authorizerFailures)
	}
	for _, fn := range functionNamesInOrder() {
		if throttled[fn] != 1 {
			t.Errorf("function %s is in %d throttle alarms, want 1", fn, throttled[fn])
		}
	}
	tpl.assertions.HasResourceProperties(jsii.String("AWS::Logs::MetricFilter"), map[string]any{
		"FilterPattern": assertions.Match_StringLikeRegexp(jsii.String("AUTHORIZER_FAILURE")),
		"MetricTransformations": []any{map[string]any{
			"MetricName":      "AuthorizerFailures",
			"MetricNamespace": stack.CustomMetricNamespace,
		}},
	})
}

// The stack builds one function per entry of routes.Functions(): the
// authorizer, then one per route's function (the console's two routes have
// one), then the run engine's workers, each with exact DynamoDB actions.
func TestTheFunctionTableCoversTheAuthorizerEveryRouteAndTheWorkersWithExactActions(t *testing.T) {
	want := []string{routes.AuthorizerFunction}
	for _, r := range routes.All {
		if !slices.Contains(want, r.Function) {
			want = append(want, r.Function)
		}
	}
	workers := []string{routes.RunnerFunction, routes.StartCheckFunction, routes.ScheduledRunFunction}
	want = append(want, workers...)
	if got := functionNamesInOrder(); !slices.Equal(got, want) {
		t.Errorf("routes.Functions() is %v, want the authorizer, each route's function, then the workers: %v", got, want)
	}
	for _, fn := range routes.Functions() {
		if len(fn.TableActions) == 0 {
			t.Errorf("%s calls nothing on the table", fn.Name)
		}
		for _, a := range fn.TableActions {
			if !strings.HasPrefix(a, "dynamodb:") || strings.Contains(a, "*") {
				t.Errorf("%s: %q is not one exact DynamoDB action", fn.Name, a)
			}
		}
		for _, a := range fn.KeyActions {
			if !strings.HasPrefix(a, "kms:") || strings.Contains(a, "*") {
				t.Errorf("%s: %q is not one exact KMS action", fn.Name, a)
			}
		}
		for _, a := range fn.SignalKeyActions {
			if a != routes.ActionGenerateMac {
				t.Errorf("%s: %q on the signal key; only kms:GenerateMac makes a token", fn.Name, a)
			}
		}
		for _, a := range fn.ServiceActions {
			service, _, _ := strings.Cut(a, ":")
			if !slices.Contains([]string{"states", "scheduler", "iam"}, service) || strings.Contains(a, "*") {
				t.Errorf("%s: %q is not one exact Step Functions, Scheduler or iam:PassRole action", fn.Name, a)
			}
		}
		notRoute := fn.Name == routes.AuthorizerFunction || slices.Contains(workers, fn.Name)
		if (fn.Route == nil) != notRoute || fn.Route != nil && fn.Route.Function != fn.Name {
			t.Errorf("%s serves route %v", fn.Name, fn.Route)
		}
		if served := routes.RoutesOf(fn.Name); !slices.Equal(fn.Routes, served) {
			t.Errorf("%s serves %v, but the route table gives it %v", fn.Name, fn.Routes, served)
		}
	}
}

func TestTheStackRefusesWhatItCannotDeploy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		props    stack.Props
		wantText string
	}{
		{"a stage that cannot be part of a name", stack.Props{Stage: "Prod_1", LambdaAssetDir: placeholderAssets(t)}, "stage"},
		{"functions that were not built", stack.Props{Stage: devStage, LambdaAssetDir: t.TempDir()}, "make lambdas"},
		{"a cache longer than API Gateway allows", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), AuthorizerCacheSeconds: stack.MaxAuthorizerCacheSeconds + 1}, "cache"},
		{"a negative cache", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), AuthorizerCacheSeconds: -1}, "cache"},
		{"a throttle rate below one a second", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), Edge: stack.Edge{ThrottleRateLimit: -5}}, "throttle rate"},
		{"a burst over API Gateway's", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), Edge: stack.Edge{ThrottleBurstLimit: 5001}}, "throttle burst"},
		{"a firewall limit below WAF's", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), Edge: stack.Edge{WAF: true, WAFRateLimit: 10}}, "firewall"},
		{"a log level slog does not write", stack.Props{Stage: devStage, LambdaAssetDir: placeholderAssets(t), LogLevel: "TRACE"}, "log level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := awscdk.NewApp(nil)
			_, err := stack.NewWorkflowsStack(app, "Refused", &tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("err = %v, want one that mentions %q", err, tc.wantText)
			}
		})
	}
}

func onlyKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// jsonEqual compares two values by their JSON form, without null fields,
// so an SDK struct (which marshals unset fields as null) and a decoded
// template compare alike.
func jsonEqual(tb testing.TB, a, b any) bool {
	tb.Helper()
	var x, y any
	mustRemarshal(tb, a, &x)
	mustRemarshal(tb, b, &y)
	return mustJSON(tb, withoutNulls(x)) == mustJSON(tb, withoutNulls(y))
}

func withoutNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if e != nil {
				out[k] = withoutNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutNulls(e)
		}
		return out
	}
	return v
}

// The authorizer runs before every route on a key the caller chose: what it
// may do is spelled out here, not only derived from TableActions.
func TestTheAuthorizerMayOnlyGetAnItemFromTheTable(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	for id, name := range tpl.functionNames(t, devStage) {
		if name != routes.AuthorizerFunction {
			continue
		}
		role := getAttOf(tpl.Resources[id].Properties["Role"], "Arn")
		var dynamo []string
		for _, s := range tpl.policyStatements(role) {
			for _, a := range sortedStrings(s["Action"]) {
				if strings.HasPrefix(a, "dynamodb:") {
					dynamo = append(dynamo, a)
				}
			}
		}
		if !slices.Equal(dynamo, []string{"dynamodb:GetItem"}) {
			t.Errorf("the authorizer may call %v, want only dynamodb:GetItem", dynamo)
		}
		return
	}
	t.Fatal("no authorizer function")
}
