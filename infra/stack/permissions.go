package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
)

// grant is one of blueprint.Grants, on the ARNs of this stack's resources.
type grant struct {
	on        blueprint.Resource
	actions   []string
	resources []string
	// conditions narrow the grant (iam:PassRole to one service only).
	conditions map[string]any
}

// resolve turns g into a grant on resources (for the table, the table's
// ARN, then each index's ARN under it: never table/index/*).
func resolve(g blueprint.Grant, arn string) grant {
	out := grant{on: g.On, actions: g.Actions, resources: []string{arn}}
	for _, index := range g.Indexes {
		out.resources = append(out.resources, arn+"/index/"+index)
	}
	if g.Condition != nil {
		out.conditions = map[string]any{}
		for operator, values := range g.Condition {
			block := map[string]any{}
			for k, v := range values {
				block[k] = v
			}
			out.conditions[operator] = block
		}
	}
	return out
}

// keys are the stack's two KMS keys.
type keys struct {
	// secrets is the secrets' symmetric key (KeyActions).
	secrets awskms.Key
	// signal is the signal tokens' HMAC key (SignalKeyActions).
	signal awskms.Key
}

// dataGrants returns fn's grants (blueprint.Grants: exactly the actions of
// its entry in routes.Functions(), each on the resource it is for) on the
// table and its indexes and on the two keys. The run engine's are resolved
// by runEngine.grantsOn (runs.go), once it exists.
func dataGrants(grants []blueprint.Grant, table awsdynamodb.Table, keys keys) []grant {
	arns := map[blueprint.Resource]string{
		blueprint.TableResource:     *table.TableArn(),
		blueprint.KeyResource:       *keys.secrets.KeyArn(),
		blueprint.SignalKeyResource: *keys.signal.KeyArn(),
	}
	var out []grant
	for _, g := range grants {
		if arn, ok := arns[g.On]; ok {
			out = append(out, resolve(g, arn))
		}
	}
	return out
}

// addGrants puts one Allow statement per grant on role.
func addGrants(role awsiam.Role, grants []grant) {
	for _, g := range grants {
		props := &awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(g.actions...),
			Resources: jsii.Strings(g.resources...),
		}
		if g.conditions != nil {
			props.Conditions = &g.conditions
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(props))
	}
}
