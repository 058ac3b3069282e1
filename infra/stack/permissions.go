package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/internal/routes"
)

// grant is the exact actions a function calls on the resources they are
// for.
type grant struct {
	service   string // the actions' prefix: "dynamodb", "kms"
	actions   []string
	resources []string
	// conditions narrow the grant (iam:PassRole to one service only).
	conditions map[string]any
}

// grantsFor returns what fn's role may call beyond its own log group and
// X-Ray: the actions fn's entry in routes.Functions() lists, each on the
// resource it is for, and nothing else. The table's grant is on the table's
// ARN and the ARN of each index the function queries (fn.Indexes), never
// table/index/*. The Step Functions and Scheduler actions (fn.ServiceActions)
// are granted by serviceGrantsFor (runs.go), once the state machine exists.
func grantsFor(fn routes.Function, table awsdynamodb.Table, key awskms.Key) ([]grant, error) {
	tableResources := []string{*table.TableArn()}
	for _, index := range fn.Indexes {
		if index == "" || strings.ContainsAny(index, "*/?") {
			return nil, fmt.Errorf("stack: function %q: %q is not one index name", fn.Name, index)
		}
		tableResources = append(tableResources, *table.TableArn()+"/index/"+index)
	}
	var out []grant
	for _, g := range []grant{
		{service: "dynamodb", actions: fn.TableActions, resources: tableResources},
		// Only the sealing and opening calls, on the one key: never
		// kms:Encrypt or ReEncrypt* (nothing here encrypts with the key
		// itself) nor any administration of it.
		{service: "kms", actions: fn.KeyActions, resources: []string{*key.KeyArn()}},
	} {
		if len(g.actions) == 0 {
			continue
		}
		if err := exactActions(fn.Name, g.service, g.actions); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stack: routes.Functions() lists no actions for function %q", fn.Name)
	}
	return out, nil
}

// exactActions checks that every action is one action of service, with no
// wildcard.
func exactActions(function, service string, actions []string) error {
	for _, a := range actions {
		name, ok := strings.CutPrefix(a, service+":")
		if !ok || name == "" || strings.ContainsAny(name, "*?:") {
			return fmt.Errorf("stack: function %q: %q is not one exact %s action", function, a, service)
		}
	}
	return nil
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
