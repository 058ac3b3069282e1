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
