package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
)

// stageMethodSettings returns the stage's method settings for every method
// (HttpMethod *, ResourcePath /*), or nil.
func (t *cfnTemplate) stageMethodSettings(tb testing.TB) map[string]any {
	tb.Helper()
	stages := t.resourcesOfType("AWS::ApiGateway::Stage")
	if len(stages) != 1 {
		tb.Fatalf("%d stages, want 1", len(stages))
	}
	settings, _ := stages[onlyKey(stages)].Properties["MethodSettings"].([]any)
	for _, s := range settings {
		m := s.(map[string]any)
		if m["HttpMethod"] == "*" && m["ResourcePath"] == "/*" {
			return m
		}
	}
	return nil
}

// Traffic stops at the gateway: every method of every stage is throttled,
// by default at the documented rate and burst, so a flood of made-up keys
// does not reach the authorizer beyond it.
func TestEveryStageThrottlesEveryMethodAtTheDefaultRate(t *testing.T) {
	for _, stage := range []string{devStage, "prod"} {
		t.Run(stage, func(t *testing.T) {
			m := MustSynthesize(t, stage).stageMethodSettings(t)
			if m == nil {
				t.Fatal("no method settings for */* on the stage: API Gateway would admit up to the account's limit")
			}
			if m["ThrottlingRateLimit"] != float64(stack.DefaultThrottleRateLimit) || m["ThrottlingBurstLimit"] != float64(stack.DefaultThrottleBurstLimit) {
				t.Errorf("throttle rate %v, burst %v; want the defaults %d and %d",
					m["ThrottlingRateLimit"], m["ThrottlingBurstLimit"], stack.DefaultThrottleRateLimit, stack.DefaultThrottleBurstLimit)
			}
		})
	}
}

func TestTheEdgeSettingsComeFromContext(t *testing.T) {
	context := map[string]any{
		"stage": "prod", stack.ThrottleRateContext: "50", stack.ThrottleBurstContext: "80",
		stack.WAFContext: "true", stack.WAFRateLimitContext: "3000", stack.LogLevelContext: "debug",
		stack.AuthorizerCacheContext: "60",
	}
	props, err := stack.PropsFromContext(func(key string) any { return context[key] })
	if err != nil {
		t.Fatal(err)
	}
	want := stack.Edge{ThrottleRateLimit: 50, ThrottleBurstLimit: 80, WAF: true, WAFRateLimit: 3000}
	if props.Stage != "prod" || props.Edge != want || props.LogLevel != "debug" || props.AuthorizerCacheSeconds != 60 {
		t.Errorf("props %+v, want stage prod, edge %+v, log level debug, cache 60", props, want)
	}

	none, err := stack.PropsFromContext(func(string) any { return nil })
	if err != nil || none.Stage != stack.DefaultStage || none.Edge != (stack.Edge{}) || none.LogLevel != "" {
		t.Errorf("without context: %+v, %v; want the default stage and zero values (the defaults)", none, err)
	}

	for key, value := range map[string]string{
		stack.ThrottleRateContext: "fast", stack.ThrottleBurstContext: "1.5", stack.WAFContext: "yes",
		stack.WAFRateLimitContext: "many", stack.AuthorizerCacheContext: "1m",
	} {
		if _, err := stack.PropsFromContext(func(k string) any {
			if k == key {
				return value
			}
			return nil
		}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("-c %s=%s: err %v, want one that names %s", key, value, err, key)
		}
	}

	m := MustSynthesizeWith(t, stack.Props{Stage: "prod", Edge: stack.Edge{ThrottleRateLimit: 50, ThrottleBurstLimit: 80}}).stageMethodSettings(t)
	if m["ThrottlingRateLimit"] != float64(50) || m["ThrottlingBurstLimit"] != float64(80) {
		t.Errorf("asked for 50/s and a burst of 80, the stage throttles at %v/s, burst %v", m["ThrottlingRateLimit"], m["ThrottlingBurstLimit"])
	}
}

func TestThereIsNoFirewallUnlessAskedFor(t *testing.T) {
	tpl := MustSynthesize(t, "prod")
	for _, typ := range []string{"AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation"} {
		if n := len(tpl.resourcesOfType(typ)); n != 0 {
			t.Errorf("%d %s without -c waf=true", n, typ)
		}
	}
}

// firewall returns the web ACL of a stack synthesized with the firewall on.
func firewall(t *testing.T, tpl *cfnTemplate) (id string, acl map[string]any) {
	t.Helper()
	acls := tpl.resourcesOfType("AWS::WAFv2::WebACL")
	if len(acls) != 1 {
		t.Fatalf("%d web ACLs, want 1", len(acls))
	}
	id = onlyKey(acls)
	return id, acls[id].Properties
}

func TestTheFirewallLimitsEachSourceIPAndAnswersInTheEnvelope(t *testing.T) {
	const limit = 3000
	tpl := MustSynthesizeWith(t, stack.Props{Stage: "prod", Edge: stack.Edge{WAF: true, WAFRateLimit: limit}})
	id, acl := firewall(t, tpl)
	if acl["Scope"] != "REGIONAL" || acl["DefaultAction"].(map[string]any)["Allow"] == nil {
		t.Errorf("scope %v, default action %v; want a regional web ACL that allows by default", acl["Scope"], acl["DefaultAction"])
	}
	rules := acl["Rules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("%d rules, want the rate rule and the managed common rule set", len(rules))
	}

	rate := rules[0].(map[string]any)
	statement := rate["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
	if rate["Priority"] != float64(0) || statement["AggregateKeyType"] != "IP" || statement["Limit"] != float64(limit) ||
		statement["EvaluationWindowSec"] != float64(gatewayresponse.FirewallRateWindowSeconds) {
		t.Errorf("rate rule %v: want the first rule, per IP, %d a minute", rate, limit)
	}
	response := rate["Action"].(map[string]any)["Block"].(map[string]any)["CustomResponse"].(map[string]any)
	want := gatewayresponse.FirewallRateLimited(limit)
	if response["ResponseCode"] != float64(429) {
		t.Errorf("the rate rule answers %v, want 429", response["ResponseCode"])
	}
	headers := response["ResponseHeaders"].([]any)
	if len(headers) != 1 || headers[0].(map[string]any)["Name"] != "Retry-After" || headers[0].(map[string]any)["Value"] != "60" {
		t.Errorf("the rate rule's headers are %v, want Retry-After: 60", headers)
	}
	body := acl["CustomResponseBodies"].(map[string]any)[response["CustomResponseBodyKey"].(string)].(map[string]any)
	if body["ContentType"] != "APPLICATION_JSON" || body["Content"] != want.Body() {
		t.Errorf("the rate rule's body is %v, want JSON %s", body, want.Body())
	}
	if !strings.HasPrefix(want.Message, "Rate limit exceeded. Limit: 3000 requests per minute") {
		t.Errorf("message %q does not say the limit as the seed page does", want.Message)
	}

	common := rules[1].(map[string]any)
	group := common["Statement"].(map[string]any)["ManagedRuleGroupStatement"].(map[string]any)
	if group["VendorName"] != "AWS" || group["Name"] != "AWSManagedRulesCommonRuleSet" || common["OverrideAction"].(map[string]any)["None"] == nil {
		t.Errorf("second rule %v, want AWS's common rule set with its own actions", common)
	}
	var counted []string
	for _, o := range group["RuleActionOverrides"].([]any) {
		o := o.(map[string]any)
		if o["ActionToUse"].(map[string]any)["Count"] == nil {
			t.Errorf("override %v does not count", o)
		}
		counted = append(counted, o["Name"].(string))
	}
	// A body of up to 256 KiB is the contract; this rule blocks over 8 KB.
	if !slices.Contains(counted, "SizeRestrictions_BODY") || !slices.Equal(counted, stack.FirewallCountedRules) {
		t.Errorf("counted rules %v, want %v", counted, stack.FirewallCountedRules)
	}

	associations := tpl.resourcesOfType("AWS::WAFv2::WebACLAssociation")
	if len(associations) != 1 {
		t.Fatalf("%d web ACL associations, want 1", len(associations))
	}
	association := associations[onlyKey(associations)]
	if getAttOf(association.Properties["WebACLArn"], "Arn") != id {
		t.Errorf("the association is of %v, want the web ACL", association.Properties["WebACLArn"])
	}
	// A reference to the stage, not only its name: CloudFormation then
	// creates the association after the stage.
	stage := onlyKey(tpl.resourcesOfType("AWS::ApiGateway::Stage"))
	if arn := mustJSON(t, association.Properties["ResourceArn"]); !strings.Contains(arn, `"/stages/",{"Ref":"`+stage+`"}`) {
		t.Errorf("the association is on %s, want the stage %s", arn, stage)
	}
}
