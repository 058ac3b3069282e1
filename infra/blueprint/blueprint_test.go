package blueprint_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/blueprint"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestEveryFunctionHasGrantsOnItsResourcesOnly(t *testing.T) {
	for _, fn := range routes.Functions() {
		grants, err := blueprint.Grants(fn)
		if err != nil {
			t.Errorf("%s: %v", fn.Name, err)
			continue
		}
		seen := map[blueprint.Resource]bool{}
		for _, g := range grants {
			if seen[g.On] {
				t.Errorf("%s: two grants on %s; one statement per resource", fn.Name, g.On)
			}
			seen[g.On] = true
			if len(g.Indexes) > 0 && g.On != blueprint.TableResource {
				t.Errorf("%s: indexes on %s", fn.Name, g.On)
			}
			if (g.Condition != nil) != (g.On == blueprint.SchedulerRoleResource) {
				t.Errorf("%s: condition %v on %s; only handing the scheduler's role over is narrowed", fn.Name, g.Condition, g.On)
			}
		}
		if got, want := seen[blueprint.ScheduledRunFailuresResource], fn.Name == routes.ScheduledRunFunction; got != want {
			t.Errorf("%s: a grant on the failure queue: %v, want %v", fn.Name, got, want)
		}
	}
}

// The signal key is granted to exactly the functions with SignalKeyActions,
// with exactly those actions (kms:GenerateMac), in a statement of its own
// apart from the secrets' key; and only those functions are told its ARN.
func TestTheSignalKeyIsGrantedAndNamedToItsFunctionsOnly(t *testing.T) {
	var granted []string
	for _, fn := range routes.Functions() {
		grants, err := blueprint.Grants(fn)
		if err != nil {
			t.Fatalf("%s: %v", fn.Name, err)
		}
		var onSignalKey, onKey []string
		for _, g := range grants {
			switch g.On {
			case blueprint.SignalKeyResource:
				onSignalKey = g.Actions
			case blueprint.KeyResource:
				onKey = g.Actions
			}
		}
		if !slices.Equal(onSignalKey, fn.SignalKeyActions) {
			t.Errorf("%s: %v on the signal key, want its SignalKeyActions %v", fn.Name, onSignalKey, fn.SignalKeyActions)
		}
		if !slices.Equal(onKey, fn.KeyActions) {
			t.Errorf("%s: %v on the secrets' key, want its KeyActions %v", fn.Name, onKey, fn.KeyActions)
		}
		for _, a := range onSignalKey {
			if a != routes.ActionGenerateMac {
				t.Errorf("%s: %s on the signal key; only kms:GenerateMac makes a token", fn.Name, a)
			}
		}
		told := slices.Contains(blueprint.Environment(fn), blueprint.Variable{Name: blueprint.EnvSignalKeyID, Value: blueprint.SignalKeyARNValue})
		if told != (len(fn.SignalKeyActions) > 0) {
			t.Errorf("%s: told SIGNAL_KEY_ID: %v, with SignalKeyActions %v", fn.Name, told, fn.SignalKeyActions)
		}
		for _, v := range blueprint.Environment(fn) {
			if v.Name == blueprint.EnvSignalKeyID && v.Value != blueprint.SignalKeyARNValue {
				t.Errorf("%s: SIGNAL_KEY_ID is %s", fn.Name, v.Value)
			}
		}
		if len(onSignalKey) > 0 {
			granted = append(granted, fn.Name)
		}
	}
	// Spelled out: a route that starts making tokens (and so can show a
	// signalUrl) is a change this test should be told about.
	slices.Sort(granted)
	if want := []string{routes.GetRun.Function, routes.GetRunStep.Function, routes.RunnerFunction}; !slices.Equal(granted, want) {
		t.Errorf("the signal key is granted to %v, want %v", granted, want)
	}
	if blueprint.EnvSignalKeyID != "SIGNAL_KEY_ID" {
		t.Errorf("EnvSignalKeyID is %q", blueprint.EnvSignalKeyID)
	}
}

// The functions that start runs (StartsRuns) may start executions on the
// Express state machine as on the Standard one, in a statement of its own
// right after the Standard one's, and are told its ARN; nothing else is
// granted on it (Express has no task tokens, and no StopExecution or
// DescribeExecution of its executions), and no other function is granted
// anything on it or told its ARN: cancel-run's StartExecution, for
// delivery executions, stays on the Standard machine.
func TestOnlyTheFunctionsThatStartRunsMayStartThemOnTheExpressMachine(t *testing.T) {
	var starters []string
	for _, fn := range routes.Functions() {
		grants, err := blueprint.Grants(fn)
		if err != nil {
			t.Fatalf("%s: %v", fn.Name, err)
		}
		var onExpress []string
		standard, express := -1, -1
		for i, g := range grants {
			switch g.On {
			case blueprint.StateMachineResource:
				standard = i
			case blueprint.ExpressStateMachineResource:
				express = i
				onExpress = g.Actions
				if g.Service != "states" || g.Condition != nil || len(g.Indexes) > 0 {
					t.Errorf("%s: the Express grant is %+v", fn.Name, g)
				}
			}
		}
		var want []string
		if fn.StartsRuns {
			want = []string{routes.ActionStartExecution}
			starters = append(starters, fn.Name)
			if standard < 0 || express != standard+1 || !slices.Contains(grants[standard].Actions, routes.ActionStartExecution) {
				t.Errorf("%s: the Express grant is at %d, the Standard one at %d (%v); want StartExecution on both, Express right after", fn.Name, express, standard, grants)
			}
		}
		if !slices.Equal(onExpress, want) {
			t.Errorf("%s (StartsRuns %v): %v on the Express machine, want %v", fn.Name, fn.StartsRuns, onExpress, want)
		}
		env := blueprint.Environment(fn)
		told := slices.Contains(env, blueprint.Variable{Name: blueprint.EnvExpressStateMachineARN, Value: blueprint.ExpressStateMachineARNValue})
		if told != fn.StartsRuns {
			t.Errorf("%s: told EXPRESS_STATE_MACHINE_ARN: %v, with StartsRuns %v", fn.Name, told, fn.StartsRuns)
		}
		if told && !slices.Contains(env, blueprint.Variable{Name: blueprint.EnvStateMachineARN, Value: blueprint.StateMachineARNValue}) {
			t.Errorf("%s: told the Express machine's ARN without the Standard one's", fn.Name)
		}
		for _, v := range env {
			if v.Name == blueprint.EnvExpressStateMachineARN && v.Value != blueprint.ExpressStateMachineARNValue {
				t.Errorf("%s: EXPRESS_STATE_MACHINE_ARN is %s", fn.Name, v.Value)
			}
		}
	}
	// Spelled out, as the signal key's: a function that starts runs on
	// Express is a change this test should be told about.
	slices.Sort(starters)
	want := []string{routes.ReceiveWebhook.Function, routes.RetryRun.Function, routes.RunWorkflow.Function,
		routes.RunnerFunction, routes.ScheduledRunFunction, routes.StartCheckFunction}
	slices.Sort(want)
	if !slices.Equal(starters, want) {
		t.Errorf("the functions that start runs on Express are %v, want %v", starters, want)
	}
	if blueprint.EnvExpressStateMachineARN != "EXPRESS_STATE_MACHINE_ARN" {
		t.Errorf("EnvExpressStateMachineARN is %q", blueprint.EnvExpressStateMachineARN)
	}
}

func TestGrantsRefuseWhatTheyCannotNarrow(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   routes.Function
		want string
	}{
		{"no action", routes.Function{Name: "f"}, "no actions"},
		{"a wildcard", routes.Function{Name: "f", TableActions: []string{"dynamodb:*"}}, "not one exact dynamodb action"},
		{"another service's action on the table", routes.Function{Name: "f", TableActions: []string{"s3:GetObject"}}, "not one exact dynamodb action"},
		{"every index", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, Indexes: []string{"*"}}, "not one index name"},
		{"verifying with the signal key", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, SignalKeyActions: []string{"kms:VerifyMac"}}, "not an action of the signal key"},
		{"decrypting with the signal key", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, SignalKeyActions: []string{routes.ActionDecrypt}}, "not an action of the signal key"},
		{"every action of the signal key", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, SignalKeyActions: []string{"kms:*"}}, "not an action of the signal key"},
		{"an action with no known resource", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, ServiceActions: []string{routes.ActionListSchedules}}, "no resource is known"},
		{"starting runs without the start", routes.Function{Name: "f", TableActions: []string{routes.ActionQuery}, ServiceActions: []string{routes.ActionSendTaskSuccess}, StartsRuns: true}, "starts runs but lists no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := blueprint.Grants(tc.fn); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one that says %q", err, tc.want)
			}
		})
	}
}

func TestConstructIDIsWhatTheBuildRuleTurnsBack(t *testing.T) {
	for in, want := range map[string]string{"list-api-keys": "ListApiKeys", "authorizer": "Authorizer", "get-run-step": "GetRunStep"} {
		if got := blueprint.ConstructID(in); got != want {
			t.Errorf("ConstructID(%q) = %q, want %q", in, got, want)
		}
	}
}
