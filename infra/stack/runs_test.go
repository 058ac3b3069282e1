package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
)

// runnerToken stands for the runner's ARN in a definition compared as text.
const runnerToken = "${RunnerFunctionArn}"

// stateMachines are the logical ids of the two run state machines, told
// apart by their type.
func (t *cfnTemplate) stateMachines(tb testing.TB) (standard, express string) {
	tb.Helper()
	machines := t.resourcesOfType("AWS::StepFunctions::StateMachine")
	for id, sm := range machines {
		switch sm.Properties["StateMachineType"] {
		case "STANDARD":
			standard = id
		case "EXPRESS":
			express = id
		}
	}
	if len(machines) != 2 || standard == "" || express == "" {
		tb.Fatalf("%d state machines, want a STANDARD and an EXPRESS one", len(machines))
	}
	return standard, express
}

// cdkDefinition is the synthesized definition of the state machine
// machineID with the runner's ARN (a GetAtt inside its Fn::Join) written as
// runnerToken.
func (t *cfnTemplate) cdkDefinition(tb testing.TB, machineID, runnerID string) string {
	tb.Helper()
	def := t.Resources[machineID].Properties["DefinitionString"]
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

// The state machines are internal/orchestrator/sfn's definitions, invoking
// the runner: Definition on the Standard one, ExpressDefinition on the
// Express one. The states asserted there (and checked by asl-validator) are
// the ones deployed.
func TestTheStateMachinesAreTheOrchestratorsDefinitionsAroundTheRunner(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	runner := tpl.functionID(t, routes.RunnerFunction)
	standard, express := tpl.stateMachines(t)
	for _, tc := range []struct {
		id, typ, name, definition string
		states                    map[string]string
	}{
		{standard, "STANDARD", "workflows-dev-runs", sfn.Definition(runnerToken),
			map[string]string{"Advance": "Task", "Decide": "Choice", "Wait": "Wait", "WaitForEvent": "Task", "Done": "Succeed", "RecordFailure": "Task", "Failed": "Fail"}},
		// No WaitForEvent: Express has no task tokens.
		{express, "EXPRESS", "workflows-dev-runs-express", sfn.ExpressDefinition(runnerToken),
			map[string]string{"Advance": "Task", "Decide": "Choice", "Wait": "Wait", "Done": "Succeed", "RecordFailure": "Task", "Failed": "Fail"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			got := tpl.cdkDefinition(t, tc.id, runner)
			if got != tc.definition {
				t.Fatalf("the synthesized definition\n%s\nis not sfn's\n%s", got, tc.definition)
			}
			var def struct {
				StartAt string
				States  map[string]struct {
					Type       string
					Resource   string
					Parameters map[string]any
					Next       string
				}
			}
			if err := json.Unmarshal([]byte(got), &def); err != nil {
				t.Fatal(err)
			}
			for name, typ := range tc.states {
				if def.States[name].Type != typ {
					t.Errorf("state %s is a %q, want a %s", name, def.States[name].Type, typ)
				}
			}
			for name, state := range def.States {
				if _, want := tc.states[name]; !want {
					t.Errorf("unexpected state %s (%s)", name, state.Type)
				}
				if tc.typ == "EXPRESS" && strings.Contains(state.Resource, "waitForTaskToken") {
					t.Errorf("state %s waits for a task token (%s), which Express does not have", name, state.Resource)
				}
			}
			for _, task := range []string{"Advance", "RecordFailure"} {
				if fn := def.States[task].Parameters["FunctionName"]; fn != runnerToken {
					t.Errorf("%s invokes %v, want the runner", task, fn)
				}
			}

			sm := tpl.Resources[tc.id].Properties
			if sm["StateMachineType"] != tc.typ || sm["StateMachineName"] != tc.name {
				t.Errorf("type %v, name %v; want a %s state machine named %s", sm["StateMachineType"], sm["StateMachineName"], tc.typ, tc.name)
			}
			if mustJSON(t, sm["TracingConfiguration"]) != `{"Enabled":true}` {
				t.Errorf("tracing %s, want enabled", mustJSON(t, sm["TracingConfiguration"]))
			}
			logging := sm["LoggingConfiguration"].(map[string]any)
			// Standard logs every event; Express its failures only (each
			// run's events would cost more to ingest than its execution).
			wantLevel := map[string]string{"STANDARD": "ALL", "EXPRESS": "ERROR"}[tc.typ]
			if logging["Level"] != wantLevel || logging["IncludeExecutionData"] != false {
				t.Errorf("logging %s, want level %s, without execution data", mustJSON(t, logging), wantLevel)
			}
			if logs := firstGetAttArn(logging["Destinations"]); tpl.Resources[logs].Type != "AWS::Logs::LogGroup" {
				t.Errorf("the state machine logs to %s, none of the stack's log groups", mustJSON(t, logging["Destinations"]))
			}
		})
	}
	// Each its own log group and role.
	for _, property := range []string{"LoggingConfiguration", "RoleArn"} {
		if a, b := firstGetAttArn(tpl.Resources[standard].Properties[property]), firstGetAttArn(tpl.Resources[express].Properties[property]); a == "" || a == b {
			t.Errorf("%s: the Standard machine's %q, the Express one's %q; want one of each", property, a, b)
		}
	}
}

// Each state machine's role may invoke the runner, by its exact ARN, and
// nothing else but write its logs and traces.
func TestTheStateMachinesMayInvokeOnlyTheRunner(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	runner := tpl.functionID(t, routes.RunnerFunction)
	standard, express := tpl.stateMachines(t)
	for _, machine := range []string{standard, express} {
		role := getAttOf(tpl.Resources[machine].Properties["RoleArn"], "Arn")
		if trust := mustJSON(t, tpl.Resources[role].Properties["AssumeRolePolicyDocument"]); !strings.Contains(trust, "states.amazonaws.com") {
			t.Errorf("%s: the role is assumed by %s", machine, trust)
		}
		invokes := 0
		for _, s := range tpl.policyStatements(role) {
			for _, action := range sortedStrings(s["Action"]) {
				service, _, _ := strings.Cut(action, ":")
				switch service {
				case "lambda":
					invokes++
					if action != "lambda:InvokeFunction" || getAttOf(s["Resource"], "Arn") != runner {
						t.Errorf("%s may %s on %s; want InvokeFunction on the runner only", machine, action, mustJSON(t, s["Resource"]))
					}
				case "logs", "xray":
				default:
					t.Errorf("%s may %s", machine, action)
				}
			}
		}
		if invokes != 1 {
			t.Errorf("%s: %d lambda actions, want the runner's InvokeFunction", machine, invokes)
		}
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
	dlq, _ := tpl.failureQueues(t)
	got := map[string]string{}
	for _, s := range tpl.policyStatements(role) {
		got[mustJSON(t, s["Action"])] = mustJSON(t, s["Resource"])
	}
	want := map[string]string{
		`"lambda:InvokeFunction"`: mustJSON(t, map[string]any{"Fn::GetAtt": []any{scheduledRun, "Arn"}}),
		// A firing it cannot deliver goes to the dead-letter queue, sent
		// with this role.
		`"sqs:SendMessage"`: mustJSON(t, map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}),
	}
	if !maps.Equal(got, want) {
		t.Errorf("Scheduler's role may %v; want InvokeFunction on scheduled-run and SendMessage on the schedules' dead-letter queue only (%v)", got, want)
	}
}

// Both queues of lost firings are encrypted, refuse anything but TLS and
// keep a message 14 days; scheduled-run's failed asynchronous invocations
// go to the second after Lambda's two retries, configured only once its
// role may send there.
func TestScheduledFiringsAreNeverDroppedWithoutATrace(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	dlq, failures := tpl.failureQueues(t)
	for _, q := range []string{dlq, failures} {
		p := tpl.Resources[q].Properties
		if p["SqsManagedSseEnabled"] != true || p["MessageRetentionPeriod"] != float64(stack.FailureQueueRetentionDays*86400) {
			t.Errorf("queue %s: %s; want SQS-managed encryption and %d days' retention", q, mustJSON(t, p), stack.FailureQueueRetentionDays)
		}
		var refusesPlainText bool
		for _, policy := range tpl.resourcesOfType("AWS::SQS::QueuePolicy") {
			b := mustJSON(t, policy.Properties)
			refusesPlainText = refusesPlainText || strings.Contains(b, `"Ref":"`+q+`"`) && strings.Contains(b, `"aws:SecureTransport":"false"`) && strings.Contains(b, `"Deny"`)
		}
		if !refusesPlainText {
			t.Errorf("queue %s: no policy denies requests without TLS", q)
		}
	}
	scheduledRun := tpl.functionID(t, routes.ScheduledRunFunction)
	configs := tpl.resourcesOfType("AWS::Lambda::EventInvokeConfig")
	if len(configs) != 1 {
		t.Fatalf("%d asynchronous invocation configs, want scheduled-run's", len(configs))
	}
	id := onlyKey(configs)
	config := configs[id]
	if refTo(config.Properties["FunctionName"]) != scheduledRun || config.Properties["Qualifier"] != "$LATEST" ||
		config.Properties["MaximumRetryAttempts"] != float64(stack.ScheduledRunAsyncRetries) || stack.ScheduledRunAsyncRetries != 2 {
		t.Errorf("the asynchronous invocation config %s; want scheduled-run's $LATEST with Lambda's two retries", mustJSON(t, config.Properties))
	}
	if _, ok := config.Properties["DestinationConfig"].(map[string]any)["OnSuccess"]; ok {
		t.Error("scheduled-run sends its successes somewhere: only failures are wanted")
	}
	role := getAttOf(tpl.Resources[scheduledRun].Properties["Role"], "Arn")
	var policy string
	for pid, p := range tpl.resourcesOfType("AWS::IAM::Policy") {
		if refTo(p.Properties["Roles"].([]any)[0]) == role {
			policy = pid
		}
	}
	if policy == "" || !slices.Contains(config.DependsOn, policy) {
		t.Errorf("the config depends on %v, want scheduled-run's policy %s: Lambda checks the destination's permission when it is made", config.DependsOn, policy)
	}
}

// STATE_MACHINE_ARN, SCHEDULE_GROUP_NAME, SCHEDULER_ROLE_ARN and
// SCHEDULED_RUN_FUNCTION_ARN go to exactly the functions whose
// ServiceActions use them, EXPRESS_STATE_MACHINE_ARN to exactly those that
// start runs.
func TestOnlyTheFunctionsThatUseTheRunEngineKnowIt(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	stateMachine, express := tpl.stateMachines(t)
	group := onlyKey(tpl.resourcesOfType("AWS::Scheduler::ScheduleGroup"))
	schedulerRole := tpl.schedulerRole(t)
	scheduledRun := tpl.functionID(t, routes.ScheduledRunFunction)
	dlq, _ := tpl.failureQueues(t)
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
				// By its name (runEngine.stateMachineARN), which must be
				// the state machine's.
				ok = strings.HasSuffix(mustJSON(t, got), `":stateMachine:workflows-dev-runs"]]}`) &&
					tpl.Resources[stateMachine].Properties["StateMachineName"] == "workflows-dev-runs"
			case "EXPRESS_STATE_MACHINE_ARN":
				ok = strings.HasSuffix(mustJSON(t, got), `":stateMachine:workflows-dev-runs-express"]]}`) &&
					tpl.Resources[express].Properties["StateMachineName"] == "workflows-dev-runs-express"
			case "SCHEDULE_GROUP_NAME":
				ok = refTo(got) == group
			case "SCHEDULER_ROLE_ARN":
				ok = getAttOf(got, "Arn") == schedulerRole
			case "SCHEDULED_RUN_FUNCTION_ARN":
				ok = getAttOf(got, "Arn") == scheduledRun
			case "SCHEDULE_DLQ_ARN":
				ok = getAttOf(got, "Arn") == dlq
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
		"EXPRESS_STATE_MACHINE_ARN":  fn.StartsRuns,
		"SCHEDULE_GROUP_NAME":        has(func(a string) bool { return strings.HasPrefix(a, "scheduler:") }),
		"SCHEDULER_ROLE_ARN":         writesTarget,
		"SCHEDULED_RUN_FUNCTION_ARN": writesTarget,
		"SCHEDULE_DLQ_ARN":           writesTarget,
	}
}
