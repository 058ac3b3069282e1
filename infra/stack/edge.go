package stack

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
)

// Traffic stops at the gateway (docs/performance.md, "Capacity at the
// edge"): the stage's throttle bounds what reaches any Lambda, and the
// optional firewall bounds what one source IP can send.
//
// The context values (`cdk deploy -c throttleRateLimit=...`) and their
// defaults. Like the authorizer's cache TTL they are context, not
// CloudFormation parameters, so that each stage's settings are in the
// command that deploys it; template.yaml, which is not deployed, takes them
// as parameters with the same defaults and bounds (both from blueprint).
const (
	ThrottleRateContext  = "throttleRateLimit"
	ThrottleBurstContext = "throttleBurstLimit"
	WAFContext           = "waf"
	WAFRateLimitContext  = "wafRateLimit"
	LogLevelContext      = "logLevel"

	// The defaults (blueprint says why).
	DefaultThrottleRateLimit  = blueprint.DefaultThrottleRateLimit
	DefaultThrottleBurstLimit = blueprint.DefaultThrottleBurstLimit
	DefaultWAFRateLimit       = blueprint.DefaultWAFRateLimit
)

// Edge is the stage's throttle and the optional firewall. Zero values take
// the defaults.
type Edge struct {
	// ThrottleRateLimit is the stage's steady rate, requests per second.
	ThrottleRateLimit float64
	// ThrottleBurstLimit is the stage's burst, requests.
	ThrottleBurstLimit int
	// WAF puts a regional AWS WAF web ACL in front of the stage: the AWS
	// managed common rule set and a per-source-IP rate rule.
	WAF bool
	// WAFRateLimit is the rate rule's limit per source IP per minute.
	WAFRateLimit int
}

func (e Edge) withDefaults() (Edge, error) {
	if e.ThrottleRateLimit == 0 {
		e.ThrottleRateLimit = DefaultThrottleRateLimit
	}
	if e.ThrottleBurstLimit == 0 {
		e.ThrottleBurstLimit = DefaultThrottleBurstLimit
	}
	if e.WAFRateLimit == 0 {
		e.WAFRateLimit = DefaultWAFRateLimit
	}
	switch {
	case e.ThrottleRateLimit < blueprint.MinThrottleRateLimit || e.ThrottleRateLimit > blueprint.MaxThrottleRateLimit:
		return e, fmt.Errorf("stack: the stage's throttle rate must be %d to %d requests a second, not %v", blueprint.MinThrottleRateLimit, blueprint.MaxThrottleRateLimit, e.ThrottleRateLimit)
	case e.ThrottleBurstLimit < blueprint.MinThrottleBurstLimit || e.ThrottleBurstLimit > blueprint.MaxThrottleBurstLimit:
		return e, fmt.Errorf("stack: the stage's throttle burst must be %d to %d requests, not %d", blueprint.MinThrottleBurstLimit, blueprint.MaxThrottleBurstLimit, e.ThrottleBurstLimit)
	case e.WAFRateLimit < blueprint.MinWAFRateLimit || e.WAFRateLimit > blueprint.MaxWAFRateLimit:
		return e, fmt.Errorf("stack: the firewall's rate limit must be %d to %d requests a minute per source IP, not %d", blueprint.MinWAFRateLimit, blueprint.MaxWAFRateLimit, e.WAFRateLimit)
	}
	return e, nil
}

// StageContext names the stage (`-c stage=NAME`, default DefaultStage).
const StageContext = "stage"

// ContextKeys are every context value PropsFromContext reads: what `cdk
// deploy -c KEY=VALUE` can set (docs/infrastructure.md's checklist is held
// to them).
var ContextKeys = []string{StageContext, AuthorizerCacheContext, ThrottleRateContext, ThrottleBurstContext, WAFContext,
	WAFRateLimitContext, LogLevelContext, RunnerReservedConcurrencyContext}

// PropsFromContext reads the settings a deployer passes with `cdk -c`
// (ContextKeys: stage, authorizerCacheTtlSeconds, throttleRateLimit,
// throttleBurstLimit, waf, wafRateLimit, logLevel, runnerReservedConcurrency)
// through context, which returns a context
// value or nil. Unset values keep their defaults; a value that is not a
// number (or, for waf, true or false) is an error.
func PropsFromContext(context func(key string) any) (Props, error) {
	props := Props{Stage: DefaultStage}
	var errs []string
	str := func(key string) (string, bool) {
		v := context(key)
		if v == nil {
			return "", false
		}
		s := strings.TrimSpace(fmt.Sprint(v))
		return s, s != ""
	}
	integer := func(key string, into *int) {
		if s, ok := str(key); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				errs = append(errs, fmt.Sprintf("-c %s=%s: a whole number is needed", key, s))
			}
			*into = n
		}
	}
	if s, ok := str(StageContext); ok {
		props.Stage = s
	}
	integer(AuthorizerCacheContext, &props.AuthorizerCacheSeconds)
	if s, ok := str(ThrottleRateContext); ok {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("-c %s=%s: a number of requests a second is needed", ThrottleRateContext, s))
		}
		props.Edge.ThrottleRateLimit = n
	}
	integer(ThrottleBurstContext, &props.Edge.ThrottleBurstLimit)
	if s, ok := str(WAFContext); ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("-c %s=%s: true or false is needed", WAFContext, s))
		}
		props.Edge.WAF = b
	}
	integer(WAFRateLimitContext, &props.Edge.WAFRateLimit)
	if s, ok := str(LogLevelContext); ok {
		props.LogLevel = s
	}
	if _, ok := str(RunnerReservedConcurrencyContext); ok {
		var n int
		integer(RunnerReservedConcurrencyContext, &n)
		props.RunnerReservedConcurrency = &n
	}
	if len(errs) > 0 {
		return props, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return props, nil
}

// The firewall's names, from one place: template.yaml uses the same.
const (
	firewallRateRuleName     = blueprint.FirewallRateRuleName
	firewallRateLimitedBody  = blueprint.FirewallRateLimitedBody
	firewallManagedRuleGroup = blueprint.FirewallManagedRuleGroup
)

// FirewallCountedRules are the rules of the AWS managed common rule set that
// count instead of block (blueprint says why).
var FirewallCountedRules = blueprint.FirewallCountedRules

// newFirewall puts a regional web ACL in front of the stage: first a rate
// rule that blocks a source IP sending more than the limit in a minute,
// with the contract's 429 body (gatewayresponse.FirewallRateLimited); then
// the AWS managed common rule set, whose blocks API Gateway answers with the
// WAF_FILTERED gateway response. Requests that pass go on to the stage's
// throttle and the authorizer.
func newFirewall(scope constructs.Construct, a *api, settings stageSettings, edge Edge) awswafv2.CfnWebACL {
	limited := gatewayresponse.FirewallRateLimited(edge.WAFRateLimit)
	visibility := func(metric string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			SampledRequestsEnabled:   jsii.Bool(true),
			MetricName:               jsii.String(metric),
		}
	}
	counted := make([]any, 0, len(FirewallCountedRules))
	for _, name := range FirewallCountedRules {
		counted = append(counted, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
			Name:        jsii.String(name),
			ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}},
		})
	}
	acl := awswafv2.NewCfnWebACL(scope, jsii.String("Firewall"), &awswafv2.CfnWebACLProps{
		Name:             jsii.String(settings.apiName()),
		Description:      jsii.String("Workflows API " + settings.name + ": a rate limit per source IP and the AWS managed common rules"),
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility(settings.apiName()),
		CustomResponseBodies: &map[string]*awswafv2.CfnWebACL_CustomResponseBodyProperty{
			firewallRateLimitedBody: {ContentType: jsii.String("APPLICATION_JSON"), Content: jsii.String(limited.Body())},
		},
		Rules: &[]any{
			&awswafv2.CfnWebACL_RuleProperty{
				Name:     jsii.String(firewallRateRuleName),
				Priority: jsii.Number(0),
				Statement: &awswafv2.CfnWebACL_StatementProperty{
					RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
						AggregateKeyType:    jsii.String("IP"),
						Limit:               jsii.Number(edge.WAFRateLimit),
						EvaluationWindowSec: jsii.Number(gatewayresponse.FirewallRateWindowSeconds),
					},
				},
				Action: &awswafv2.CfnWebACL_RuleActionProperty{
					Block: &awswafv2.CfnWebACL_BlockActionProperty{
						CustomResponse: &awswafv2.CfnWebACL_CustomResponseProperty{
							ResponseCode:          jsii.Number(limited.StatusCode),
							CustomResponseBodyKey: jsii.String(firewallRateLimitedBody),
							ResponseHeaders: &[]any{&awswafv2.CfnWebACL_CustomHTTPHeaderProperty{
								Name: jsii.String("Retry-After"), Value: jsii.String(strconv.Itoa(limited.RetryAfter)),
							}},
						},
					},
				},
				VisibilityConfig: visibility(firewallRateRuleName),
			},
			&awswafv2.CfnWebACL_RuleProperty{
				Name:     jsii.String(firewallManagedRuleGroup),
				Priority: jsii.Number(1),
				Statement: &awswafv2.CfnWebACL_StatementProperty{
					ManagedRuleGroupStatement: &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
						VendorName:          jsii.String("AWS"),
						Name:                jsii.String(firewallManagedRuleGroup),
						RuleActionOverrides: &counted,
					},
				},
				OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
				VisibilityConfig: visibility(firewallManagedRuleGroup),
			},
		},
	})
	// The stage's ARN refers to the stage, so the association waits for it.
	awswafv2.NewCfnWebACLAssociation(scope, jsii.String("FirewallAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: a.restAPI.DeploymentStage().StageArn(),
		WebAclArn:   acl.AttrArn(),
	})
	return acl
}
