package blueprint_test

import (
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
