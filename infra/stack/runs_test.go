package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
)

// runnerToken stands for the runner's ARN in a definition compared as text.
const runnerToken = "${RunnerFunctionArn}"

// cdkDefinition is the synthesized state machine's definition with the
// runner's ARN (a GetAtt inside its Fn::Join) written as runnerToken.
func (t *cfnTemplate) cdkDefinition(tb testing.TB, runnerID string) string {
	tb.Helper()
	sm := onlyResource(tb, t, "AWS::StepFunctions::StateMachine")
	def := sm.Properties["DefinitionString"]
	if s, ok := def.(string); ok {
		return s
	}
	joined, _ := def.(map[string]any)["Fn::Join"].([]any)
	if len(joined) != 2 || joined[0] != "" {
		tb.Fatalf("DefinitionString is %s, want a string or an Fn::Join of parts", mustJSON(tb, def))
	}
	var b strings.Builder
	for _, part := range joined[1].([]any) {
		switch {
		case getAttOf(part, "Arn") == runnerID:
			b.WriteString(runnerToken)
		default:
			s, ok := part.(string)
			if !ok {
				tb.Fatalf("the definition refers to %s, not only the runner", mustJSON(tb, part))
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

func (t *cfnTemplate) functionID(tb testing.TB, name string) string {
	tb.Helper()
	for id, n := range t.functionNames(tb, devStage) {
		if n == name {
			return id
		}
	}
	tb.Fatalf("no function %s", name)
	return ""
}

// The state machine is internal/orchestrator/sfn's definition, invoking the
// runner: the states asserted there (and checked by asl-validator) are the
// ones deployed.
func TestTheStateMachineIsTheOrchestratorsDefinitionAroundTheRunner(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	runner := tpl.functionID(t, routes.RunnerFunction)
	got := tpl.cdkDefinition(t, runner)
	if want := sfn.Definition(runnerToken); got != want {
		t.Fatalf("the synthesized definition\n%s\nis not sfn.Definition\n%s", got, want)
	}
	var def struct {
		StartAt string
		States  map[string]struct {
			Type       string
			Parameters map[string]any
			Next       string
		}
	}
	if err := json.Unmarshal([]byte(got), &def); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]string{"Advance": "Task", "Decide": "Choice", "Wait": "Wait", "Done": "Succeed", "RecordFailure": "Task", "Failed": "Fail"} {
		if def.States[name].Type != typ {
			t.Errorf("state %s is a %q, want a %s", name, def.States[name].Type, typ)
		}
	}
	for _, task := range []string{"Advance", "RecordFailure"} {
		if fn := def.States[task].Parameters["FunctionName"]; fn != runnerToken {
			t.Errorf("%s invokes %v, want the runner", task, fn)
		}
	}

	sm := onlyResource(t, tpl, "AWS::StepFunctions::StateMachine").Properties
	if sm["StateMachineType"] != "STANDARD" || sm["StateMachineName"] != "workflows-dev-runs" {
		t.Errorf("type %v, name %v; want a STANDARD state machine named workflows-dev-runs", sm["StateMachineType"], sm["StateMachineName"])
	}
	if mustJSON(t, sm["TracingConfiguration"]) != `{"Enabled":true}` {
		t.Errorf("tracing %s, want enabled", mustJSON(t, sm["TracingConfiguration"]))
	}
	logging := sm["LoggingConfiguration"].(map[string]any)
	if logging["Level"] != "ALL" || logging["IncludeExecutionData"] != false {
		t.Errorf("logging %s, want every event, without execution data", mustJSON(t, logging))
	}
	destinations := mustJSON(t, logging["Destinations"])
	logGroups := tpl.resourcesOfType("AWS::Logs::LogGroup")
	found := false
	for id := range logGroups {
		found = found || strings.Contains(destinations, `"`+id+`"`)
	}
	if !found {
		t.Errorf("the state machine logs to %s, none of the stack's log groups", destinations)
	}
}

// The state machine's role may invoke the runner, by its exact ARN, and
// nothing else but write its logs and traces.
func TestTheStateMachineMayInvokeOnlyTheRunner(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	runner := tpl.functionID(t, routes.RunnerFunction)
	role := getAttOf(onlyResource(t, tpl, "AWS::StepFunctions::StateMachine").Properties["RoleArn"], "Arn")
	if trust := mustJSON(t, tpl.Resources[role].Properties["AssumeRolePolicyDocument"]); !strings.Contains(trust, "states.amazonaws.com") {
		t.Errorf("the role is assumed by %s", trust)
	}
	invokes := 0
	for _, s := range tpl.policyStatements(role) {
		for _, action := range sortedStrings(s["Action"]) {
			service, _, _ := strings.Cut(action, ":")
			switch service {
			case "lambda":
				invokes++
				if action != "lambda:InvokeFunction" || getAttOf(s["Resource"], "Arn") != runner {
					t.Errorf("the state machine may %s on %s; want InvokeFunction on the runner only", action, mustJSON(t, s["Resource"]))
				}
			case "logs", "xray":
			default:
				t.Errorf("the state machine may %s", action)
			}
		}
	}
	if invokes != 1 {
		t.Errorf("%d lambda actions, want the runner's InvokeFunction", invokes)
	}
}

// The runner may run as long as Lambda lets it: its longest step attempt
// (900 s) needs a whole invocation. The start check runs every few minutes.
func TestTheWorkersRunLongEnoughAndTheStartCheckRunsEveryFewMinutes(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	runner := tpl.Resources[tpl.functionID(t, routes.RunnerFunction)].Properties
	if runner["Timeout"] != float64(stack.RunnerTimeoutSeconds) || stack.RunnerTimeoutSeconds != 900 {
		t.Errorf("the runner's timeout is %v, want Lambda's 900 s", runner["Timeout"])
	}
	startCheck := tpl.functionID(t, routes.StartCheckFunction)
	rules := tpl.resourcesOfType("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d EventBridge rules, want the start check's", len(rules))
	}
	rule := rules[onlyKey(rules)].Properties
	if want := fmt.Sprintf("rate(%d minutes)", stack.StartCheckEveryMinutes); rule["ScheduleExpression"] != want {
		t.Errorf("the rule runs on %v, want %s", rule["ScheduleExpression"], want)
	}
	targets := rule["Targets"].([]any)
	if len(targets) != 1 || getAttOf(targets[0].(map[string]any)["Arn"], "Arn") != startCheck {
		t.Errorf("the rule targets %s, want the start check", mustJSON(t, targets))
	}
}

// The schedules' group and the role Scheduler assumes: it may invoke
// scheduled-run only, for this account's schedules only.
func TestSchedulerMayInvokeOnlyTheScheduledRunFunction(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	group := onlyResource(t, tpl, "AWS::Scheduler::ScheduleGroup")
	if group.Properties["Name"] != "workflows-dev" {
		t.Errorf("the schedule group is named %v, want workflows-dev", group.Properties["Name"])
	}
	role := tpl.schedulerRole(t)
	trust := mustJSON(t, tpl.Resources[role].Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`) {
		t.Errorf("Scheduler's role trusts %s; want only this account's schedules (aws:SourceAccount)", trust)
	}
	scheduledRun := tpl.functionID(t, routes.ScheduledRunFunction)
	statements := tpl.policyStatements(role)
	if len(statements) != 1 || mustJSON(t, statements[0]["Action"]) != `"lambda:InvokeFunction"` || getAttOf(statements[0]["Resource"], "Arn") != scheduledRun {
		t.Errorf("Scheduler's role may %s; want InvokeFunction on scheduled-run only", mustJSON(t, statements))
	}
}

// STATE_MACHINE_ARN, SCHEDULE_GROUP_NAME, SCHEDULER_ROLE_ARN and
// SCHEDULED_RUN_FUNCTION_ARN go to exactly the functions whose
// ServiceActions use them.
func TestOnlyTheFunctionsThatUseTheRunEngineKnowIt(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	stateMachine := onlyKey(tpl.resourcesOfType("AWS::StepFunctions::StateMachine"))
	group := onlyKey(tpl.resourcesOfType("AWS::Scheduler::ScheduleGroup"))
	schedulerRole := tpl.schedulerRole(t)
	scheduledRun := tpl.functionID(t, routes.ScheduledRunFunction)
	for id, name := range tpl.functionNames(t, devStage) {
		spec, _ := routes.FunctionByName(name)
		env := tpl.Resources[id].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		for variable, want := range wantRunEngineEnv(spec) {
			got, set := env[variable]
			if !want && set {
				t.Errorf("%s has %s, which none of its actions needs", name, variable)
				continue
			}
			if !want {
				continue
			}
			var ok bool
			switch variable {
			case "STATE_MACHINE_ARN":
				ok = refTo(got) == stateMachine
			case "SCHEDULE_GROUP_NAME":
				ok = refTo(got) == group
			case "SCHEDULER_ROLE_ARN":
				ok = getAttOf(got, "Arn") == schedulerRole
			case "SCHEDULED_RUN_FUNCTION_ARN":
				ok = getAttOf(got, "Arn") == scheduledRun
			}
			if !ok {
				t.Errorf("%s: %s is %s", name, variable, mustJSON(t, got))
			}
		}
	}
}

// wantRunEngineEnv says, per run engine variable, whether fn needs it.
func wantRunEngineEnv(fn routes.Function) map[string]bool {
	has := func(match func(string) bool) bool { return slices.ContainsFunc(fn.ServiceActions, match) }
	writesTarget := has(func(a string) bool { return a == routes.ActionCreateSchedule || a == routes.ActionUpdateSchedule })
	return map[string]bool{
		"STATE_MACHINE_ARN":          has(func(a string) bool { return strings.HasPrefix(a, "states:") }),
		"SCHEDULE_GROUP_NAME":        has(func(a string) bool { return strings.HasPrefix(a, "scheduler:") }),
		"SCHEDULER_ROLE_ARN":         writesTarget,
		"SCHEDULED_RUN_FUNCTION_ARN": writesTarget,
	}
}
