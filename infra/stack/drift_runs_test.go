package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
)

// template.yaml's state machine is the stack's: the same definition
// (internal/orchestrator/sfn's text, the runner substituted for
// ${RunnerFunctionArn}), Standard, logging every event without execution
// data, traced, its role invoking the runner only.
func TestDriftTemplateYAMLStateMachineIsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tpl := MustSynthesize(t, devStage)
	sm, ok := sam.Resources[samStateMachine]
	if !ok || sm.Type != "AWS::StepFunctions::StateMachine" {
		t.Fatalf("template.yaml has no AWS::StepFunctions::StateMachine %s", samStateMachine)
	}
	p := sm.Properties
	if got, want := p["DefinitionString"], sfn.Definition(runnerToken); got != want {
		t.Errorf("the definition is\n%v\nin template.yaml, want sfn.Definition\n%s", got, want)
	}
	if got, want := tpl.cdkDefinition(t, tpl.functionID(t, routes.RunnerFunction)), sfn.Definition(runnerToken); got != want {
		t.Errorf("the stack's definition is not sfn.Definition's")
	}
	substitutions, _ := p["DefinitionSubstitutions"].(map[string]any)
	if len(substitutions) != 1 || getAttOf(substitutions["RunnerFunctionArn"], "Arn") != constructName(routes.RunnerFunction)+"Function" {
		t.Errorf("DefinitionSubstitutions %s, want RunnerFunctionArn: the runner's ARN only", mustJSON(t, substitutions))
	}
	cdk := onlyResource(t, tpl, "AWS::StepFunctions::StateMachine").Properties
	for _, key := range []string{"StateMachineType", "TracingConfiguration"} {
		if !jsonEqual(t, p[key], cdk[key]) {
			t.Errorf("%s is %s in template.yaml, %s in the stack", key, mustJSON(t, p[key]), mustJSON(t, cdk[key]))
		}
	}
	samLogging, cdkLogging := p["LoggingConfiguration"].(map[string]any), cdk["LoggingConfiguration"].(map[string]any)
	for _, key := range []string{"Level", "IncludeExecutionData"} {
		if samLogging[key] != cdkLogging[key] {
			t.Errorf("logging %s is %v in template.yaml, %v in the stack", key, samLogging[key], cdkLogging[key])
		}
	}
	if dest := mustJSON(t, samLogging["Destinations"]); !strings.Contains(dest, `"RunStateMachineLogs"`) {
		t.Errorf("the state machine logs to %s, want RunStateMachineLogs", dest)
	}
	if getAttOf(p["RoleArn"], "Arn") != samStateMachineRole {
		t.Errorf("the state machine runs as %v", p["RoleArn"])
	}

	role := sam.Resources[samStateMachineRole]
	if trust := mustJSON(t, role.Properties["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"Service":"states.amazonaws.com"`) {
		t.Errorf("the state machine's role trusts %s", trust)
	}
	for _, statement := range samRoleStatements(t, role) {
		for _, action := range sortedStrings(statement["Action"]) {
			service, _, _ := strings.Cut(action, ":")
			switch {
			case action == "lambda:InvokeFunction":
				if getAttOf(statement["Resource"], "Arn") != constructName(routes.RunnerFunction)+"Function" {
					t.Errorf("the state machine may invoke %v, want the runner only", statement["Resource"])
				}
			case service == "logs" || service == "xray":
			default:
				t.Errorf("the state machine may %s", action)
			}
		}
	}
}

// samRoleStatements is an AWS::IAM::Role's inline statements.
func samRoleStatements(tb testing.TB, role resource) []map[string]any {
	tb.Helper()
	var out []map[string]any
	policies, _ := role.Properties["Policies"].([]any)
	for _, p := range policies {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

// The schedules' group and Scheduler's role: invoke scheduled-run only, for
// this account's schedules only, as the stack's.
func TestDriftTemplateYAMLSchedulerIsTheStacks(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	if group := sam.Resources[samScheduleGroup]; group.Type != "AWS::Scheduler::ScheduleGroup" {
		t.Errorf("%s is a %q, want an AWS::Scheduler::ScheduleGroup", samScheduleGroup, group.Type)
	}
	role := sam.Resources[samSchedulerRole]
	trust := mustJSON(t, role.Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, `"Service":"scheduler.amazonaws.com"`) || !strings.Contains(trust, `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
		t.Errorf("Scheduler's role trusts %s; want Scheduler, for this account's schedules only", trust)
	}
	got := map[string]string{}
	for _, s := range samRoleStatements(t, role) {
		got[mustJSON(t, s["Action"])] = mustJSON(t, s["Resource"])
	}
	want := map[string]string{
		`"lambda:InvokeFunction"`: mustJSON(t, map[string]any{"Fn::GetAtt": []any{constructName(routes.ScheduledRunFunction) + "Function", "Arn"}}),
		`"sqs:SendMessage"`:       mustJSON(t, map[string]any{"Fn::GetAtt": []any{samScheduleDLQ, "Arn"}}),
	}
	if !maps.Equal(got, want) {
		t.Errorf("Scheduler's role may %v; want %v only", got, want)
	}
}

// The queues of lost firings and scheduled-run's on-failure destination are
// the stack's: the same encryption and retention, TLS only, the same
// retries, the destination the failure queue.
func TestDriftTemplateYAMLKeepsLostFiringsAsTheStack(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	tpl := MustSynthesize(t, devStage)
	dlq, failures := tpl.failureQueues(t)
	for samID, cdkID := range map[string]string{samScheduleDLQ: dlq, samScheduledRunFailures: failures} {
		q := sam.Resources[samID]
		if q.Type != "AWS::SQS::Queue" {
			t.Errorf("%s is a %q, want an AWS::SQS::Queue", samID, q.Type)
			continue
		}
		for _, key := range []string{"SqsManagedSseEnabled", "MessageRetentionPeriod", "KmsMasterKeyId"} {
			if !jsonEqual(t, q.Properties[key], tpl.Resources[cdkID].Properties[key]) {
				t.Errorf("%s: %s is %v in template.yaml, %v in the stack", samID, key, q.Properties[key], tpl.Resources[cdkID].Properties[key])
			}
		}
		var refused bool
		for _, p := range sam.resourcesOfType("AWS::SQS::QueuePolicy") {
			b := mustJSON(t, p.Properties)
			refused = refused || strings.Contains(b, `{"Ref":"`+samID+`"}`) && strings.Contains(b, `"aws:SecureTransport":"false"`) && strings.Contains(b, `"Deny"`)
		}
		if !refused {
			t.Errorf("%s: no policy of template.yaml denies it without TLS", samID)
		}
	}
	async := sam.Resources[samScheduledRunAsync]
	cdk := onlyResource(t, tpl, "AWS::Lambda::EventInvokeConfig")
	if async.Type != "AWS::Lambda::EventInvokeConfig" || refTo(async.Properties["FunctionName"]) != constructName(routes.ScheduledRunFunction)+"Function" {
		t.Fatalf("%s is %s for %v, want scheduled-run's AWS::Lambda::EventInvokeConfig", samScheduledRunAsync, async.Type, async.Properties["FunctionName"])
	}
	for _, key := range []string{"Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds"} {
		if !jsonEqual(t, async.Properties[key], cdk.Properties[key]) {
			t.Errorf("%s: %s is %v in template.yaml, %v in the stack", samScheduledRunAsync, key, async.Properties[key], cdk.Properties[key])
		}
	}
	onFailure, _ := async.Properties["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)
	if getAttOf(onFailure["Destination"], "Arn") != samScheduledRunFailures || len(async.Properties["DestinationConfig"].(map[string]any)) != 1 {
		t.Errorf("scheduled-run's destinations %s, want failures only, to %s", mustJSON(t, async.Properties["DestinationConfig"]), samScheduledRunFailures)
	}
	if !slices.Contains(async.DependsOn, constructName(routes.ScheduledRunFunction)+"FunctionRole") {
		t.Errorf("%s depends on %v, want scheduled-run's role (Lambda checks the destination's permission)", samScheduledRunAsync, async.DependsOn)
	}
}

// The start check runs on the stack's period, with no retries.
func TestDriftTemplateYAMLRunsTheStartCheckAsTheStack(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	fn := sam.Resources[constructName(routes.StartCheckFunction)+"Function"]
	events, _ := fn.Properties["Events"].(map[string]any)
	if len(events) != 1 {
		t.Fatalf("the start check has %d events, want its schedule", len(events))
	}
	for _, e := range events {
		event := e.(map[string]any)
		p, _ := event["Properties"].(map[string]any)
		if event["Type"] != "Schedule" || p["Schedule"] != fmt.Sprintf("rate(%d minutes)", stack.StartCheckEveryMinutes) {
			t.Errorf("the start check's event %s, want a Schedule every %d minutes", mustJSON(t, event), stack.StartCheckEveryMinutes)
		}
		retry := mustJSON(t, p["RetryPolicy"])
		if retry != fmt.Sprintf(`{"MaximumEventAgeInSeconds":%d,"MaximumRetryAttempts":0}`, stack.StartCheckEveryMinutes*60) {
			t.Errorf("the start check's retry policy %s, want none (the next check does the same work)", retry)
		}
	}
}

// SFN_ENDPOINT and SCHEDULER_ENDPOINT, for `sam local`, are declared empty,
// only beside STATE_MACHINE_ARN and SCHEDULE_GROUP_NAME; the run engine's
// variables go to exactly the functions whose ServiceActions use them.
func TestDriftTemplateYAMLGivesTheRunEngineToExactlyItsFunctions(t *testing.T) {
	sam := mustReadSAMTemplate(t)
	for id, r := range sam.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := samFunctionName(t, id, r)
		spec, _ := routes.FunctionByName(name)
		env, _ := sam.samFunction(r)["Environment"].(map[string]any)
		variables, _ := env["Variables"].(map[string]any)
		for variable, want := range wantRunEngineEnv(spec) {
			if _, set := variables[variable]; set != want {
				t.Errorf("%s: %s set %v, want %v (its ServiceActions: %v)", id, variable, set, want, spec.ServiceActions)
			}
		}
		for endpoint, beside := range map[string]string{"SFN_ENDPOINT": "STATE_MACHINE_ARN", "SCHEDULER_ENDPOINT": "SCHEDULE_GROUP_NAME"} {
			value, set := variables[endpoint]
			_, hasBeside := variables[beside]
			if set != hasBeside || set && value != "" {
				t.Errorf("%s: %s is %s; declare it empty, exactly beside %s", id, endpoint, mustJSON(t, value), beside)
			}
		}
	}
	globalEnv, _ := sam.Globals["Function"]["Environment"].(map[string]any)
	globalVariables, _ := globalEnv["Variables"].(map[string]any)
	for variable := range wantRunEngineEnv(routes.Function{}) {
		if _, set := globalVariables[variable]; set {
			t.Errorf("Globals give every function %s", variable)
		}
	}
	if !slices.Contains(functionNamesInOrder(), routes.RunnerFunction) {
		t.Error("routes.Functions() has no runner")
	}
}
