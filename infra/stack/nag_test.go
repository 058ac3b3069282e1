package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/routes"
)

// cdk-nag (the AwsSolutions and Serverless packs) runs on every synthesis
// of the tests (MustSynthesizeWith fails on an unsuppressed error); this
// names the stages and settings that must be synthesized and checked.
func TestCdkNagFindsNoUnsuppressedErrorOnAnyStage(t *testing.T) {
	for _, props := range []stack.Props{
		{Stage: devStage},
		{Stage: "dev-alice"},
		{Stage: "staging"},
		{Stage: "prod"},
		{Stage: "prod", Edge: stack.Edge{WAF: true}},
		{Stage: "prod", AuthorizerCacheSeconds: 60, LogLevel: "warn"},
	} {
		t.Run(fmt.Sprintf("%s/waf=%v/cache=%d", props.Stage, props.Edge.WAF, props.AuthorizerCacheSeconds), func(t *testing.T) {
			tpl := MustSynthesizeWith(t, props)
			for _, w := range tpl.nagWarnings {
				t.Log("cdk-nag warning: " + w)
			}
		})
	}
}

// suppression is one cdk-nag suppression as the template's metadata holds it.
type suppression struct {
	ID, Reason string
	AppliesTo  []string `json:"applies_to"`
}

func (t *cfnTemplate) suppressions(tb testing.TB, id string) []suppression {
	tb.Helper()
	var meta struct {
		RulesToSuppress []suppression `json:"rules_to_suppress"`
	}
	mustRemarshal(tb, t.Resources[id].Metadata["cdk_nag"], &meta)
	return meta.RulesToSuppress
}

// Every suppression is one of those the stack means to make, on the
// resources it is for, with its reason: a finding on anything else (a new
// wildcard, a new route without a key, a new function invoked
// asynchronously) is reported, not swallowed by a broad suppression.
func TestEverySuppressionIsMeantAndSaysWhy(t *testing.T) {
	tpl := MustSynthesizeWith(t, stack.Props{Stage: "prod", Edge: stack.Edge{WAF: true}})
	names := tpl.functionNames(t, "prod")
	functionRoles := map[string]bool{}
	for id := range names {
		functionRoles[getAttOf(tpl.Resources[id].Properties["Role"], "Arn")] = true
	}
	stateMachineRoles := map[string]bool{}
	for _, sm := range tpl.resourcesOfType("AWS::StepFunctions::StateMachine") {
		stateMachineRoles[getAttOf(sm.Properties["RoleArn"], "Arn")] = true
	}
	fnByRole := map[string]routes.Function{}
	for id, name := range names {
		fn, _ := routes.FunctionByName(name)
		fnByRole[getAttOf(tpl.Resources[id].Properties["Role"], "Arn")] = fn
	}
	got := map[string]int{}
	for id, r := range tpl.Resources {
		for _, s := range tpl.suppressions(t, id) {
			if len(strings.Fields(s.Reason)) < 10 {
				t.Errorf("%s: %s is suppressed with %q; say why", id, s.ID, s.Reason)
			}
			var what string
			switch {
			case s.ID == "AwsSolutions-COG4" && r.Type == "AWS::ApiGateway::Method":
				what = "COG4 on a method"
			case s.ID == "AwsSolutions-APIG4" && r.Type == "AWS::ApiGateway::Method" && r.Properties["HttpMethod"] == "ANY":
				what = "APIG4 on a 405 mock"
			case s.ID == "AwsSolutions-APIG4" && r.Type == "AWS::ApiGateway::Method":
				path := tpl.resourcePath(t, refTo(r.Properties["ResourceId"]))
				route, _, _ := routes.Match(r.Properties["HttpMethod"].(string), path)
				if route == nil || route.Authenticated() {
					t.Errorf("%s: APIG4 suppressed on %s %s, which takes a key", id, r.Properties["HttpMethod"], path)
				}
				what = "APIG4 on a public route"
			case s.ID == "AwsSolutions-APIG2" && r.Type == "AWS::ApiGateway::RestApi":
				what = "APIG2 on the API"
			case s.ID == "AwsSolutions-IAM5" && r.Type == "AWS::IAM::Policy" && stateMachineRoles[refTo(r.Properties["Roles"].([]any)[0])]:
				what = "IAM5 on the state machine's policy"
			case s.ID == "AwsSolutions-IAM5" && r.Type == "AWS::IAM::Policy" && !slices.Equal(s.AppliesTo, []string{"Resource::*"}):
				// The one wildcard a grant on the executions or the schedules
				// holds, on the functions with such actions only.
				fn := fnByRole[refTo(r.Properties["Roles"].([]any)[0])]
				switch {
				case slices.Equal(s.AppliesTo, []string{"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:workflows-prod-runs:*"}) &&
					(slices.Contains(fn.ServiceActions, routes.ActionStopExecution) || slices.Contains(fn.ServiceActions, routes.ActionDescribeExecution)):
					what = "IAM5 on the executions"
				case slices.Equal(s.AppliesTo, []string{"Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/workflows-prod/*"}) &&
					slices.ContainsFunc(fn.ServiceActions, func(a string) bool { return strings.HasPrefix(a, "scheduler:") }):
					what = "IAM5 on the schedules"
				default:
					t.Errorf("%s: IAM5 suppressed for %v on %s's policy", id, s.AppliesTo, fn.Name)
					continue
				}
				got[what]++
				continue
			case s.ID == "AwsSolutions-IAM5" && r.Type == "AWS::IAM::Policy":
				for _, role := range r.Properties["Roles"].([]any) {
					if !functionRoles[refTo(role)] {
						t.Errorf("%s: IAM5 suppressed on a policy of %v, not a function's role", id, role)
					}
				}
				what = "IAM5 on a function's policy"
			case s.ID == "AwsSolutions-IAM5" && stateMachineRoles[id]:
				continue // the role's suppression, which its policy carries
			case s.ID == "AwsSolutions-SF1" && r.Type == "AWS::StepFunctions::StateMachine" && r.Properties["StateMachineType"] == "EXPRESS":
				what = "SF1 on the Express machine"
			case s.ID == "Serverless-EventBusDLQ" && r.Type == "AWS::Events::Rule":
				what = "EventBusDLQ on the start check's rule"
			case s.ID == "AwsSolutions-IAM5" && r.Type == "AWS::IAM::Role" && !functionRoles[id]:
				what = "IAM5 on the gateway's logging role"
			case s.ID == "Serverless-LambdaDLQ" && r.Type == "AWS::Lambda::Function":
				what = "LambdaDLQ on a function"
				if names[id] == routes.ScheduledRunFunction && !strings.Contains(s.Reason, "on-failure destination") {
					t.Errorf("%s: scheduled-run's LambdaDLQ is suppressed with %q; it is invoked asynchronously, so its reason must be its on-failure destination", id, s.Reason)
				}
			case (s.ID == "AwsSolutions-SQS3" || s.ID == "Serverless-SQSRedrivePolicy") && r.Type == "AWS::SQS::Queue":
				// Only the two queues of lost firings, which are
				// dead-letter queues themselves.
				what = s.ID + " on a queue of lost firings"
			case s.ID == "AwsSolutions-COG4" || s.ID == "AwsSolutions-IAM5":
				continue // the suppression reaches children that the rule does not check
			default:
				t.Errorf("%s (%s): unexpected suppression of %s: %s", id, r.Type, s.ID, s.Reason)
				continue
			}
			if strings.HasPrefix(s.ID, "AwsSolutions-IAM5") && !slices.Equal(s.AppliesTo, []string{"Resource::*"}) {
				t.Errorf("%s: IAM5 suppressed for %v; only the Resource::* finding is meant", id, s.AppliesTo)
			}
			got[what]++
		}
	}
	public := 0
	for _, r := range routes.All {
		if !r.Authenticated() {
			public++
		}
	}
	paths := map[string]bool{}
	for _, r := range routes.All {
		paths[r.Path] = true
	}
	var onExecutions, onSchedules int
	for _, fn := range routes.Functions() {
		if slices.Contains(fn.ServiceActions, routes.ActionStopExecution) || slices.Contains(fn.ServiceActions, routes.ActionDescribeExecution) {
			onExecutions++
		}
		if slices.ContainsFunc(fn.ServiceActions, func(a string) bool { return strings.HasPrefix(a, "scheduler:") }) {
			onSchedules++
		}
	}
	want := map[string]int{
		"IAM5 on the state machine's policy":                     2, // the Standard's and the Express one's
		"IAM5 on the executions":                                 onExecutions,
		"IAM5 on the schedules":                                  onSchedules,
		"EventBusDLQ on the start check's rule":                  1,
		"SF1 on the Express machine":                             1,
		"COG4 on a method":                                       len(routes.All) + len(paths),
		"APIG4 on a 405 mock":                                    len(paths),
		"APIG4 on a public route":                                public,
		"APIG2 on the API":                                       1,
		"IAM5 on a function's policy":                            len(names),
		"IAM5 on the gateway's logging role":                     1,
		"LambdaDLQ on a function":                                len(names),
		"AwsSolutions-SQS3 on a queue of lost firings":           2,
		"Serverless-SQSRedrivePolicy on a queue of lost firings": 2,
	}
	if !maps.Equal(got, want) {
		t.Errorf("suppressions\n got %v\nwant %v", got, want)
	}
}

// onlyResource is the template's one resource of typ.
func onlyResource(tb testing.TB, tpl *cfnTemplate, typ string) resource {
	tb.Helper()
	found := tpl.resourcesOfType(typ)
	if len(found) != 1 {
		tb.Fatalf("%d resources of type %s, want 1", len(found), typ)
	}
	return found[onlyKey(found)]
}
