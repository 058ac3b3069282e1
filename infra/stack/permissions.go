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

// grant is the exact actions a function calls on one resource.
type grant struct {
	service  string // the actions' prefix: "dynamodb", "kms"
	actions  []string
	resource string
}

// grantsFor returns what fn's role may call beyond its own log group and
// X-Ray: the actions fn's entry in routes.Functions() lists, each on the
// resource it is for, and nothing else. The table's grant is on the table's
// ARN alone, not its indexes (table/index/*): no function queries an index
// yet, and one that starts to needs that ARN added here.
//
// Actions on another resource (the state machine, the schedules) are one
// more field of routes.Function and one more line here.
func grantsFor(fn routes.Function, table awsdynamodb.Table, key awskms.Key) ([]grant, error) {
	var out []grant
	for _, g := range []grant{
		{"dynamodb", fn.TableActions, *table.TableArn()},
		// Only the sealing and opening calls, on the one key: never
		// kms:Encrypt or ReEncrypt* (nothing here encrypts with the key
		// itself) nor any administration of it.
		{"kms", fn.KeyActions, *key.KeyArn()},
	} {
		if len(g.actions) == 0 {
			continue
		}
		for _, a := range g.actions {
			name, ok := strings.CutPrefix(a, g.service+":")
			if !ok || name == "" || strings.ContainsAny(name, "*?:") {
				return nil, fmt.Errorf("stack: function %q: %q is not one exact %s action", fn.Name, a, g.service)
			}
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stack: routes.Functions() lists no actions for function %q", fn.Name)
	}
	return out, nil
}

// addGrants puts one Allow statement per grant on role.
func addGrants(role awsiam.Role, grants []grant) {
	for _, g := range grants {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(g.actions...),
			Resources: jsii.Strings(g.resource),
		}))
	}
}
