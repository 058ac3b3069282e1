package stack

import (
	"fmt"
	"slices"

	"github.com/workflowsapi/workflows/internal/routes"
)

// TableActions is, for every Lambda function, the exact DynamoDB actions it
// calls on the table (routes.DynamoDBActions, where the code that makes the
// calls is tested against it): its role is granted these and nothing more,
// on the table's ARN only.
var TableActions = routes.DynamoDBActions

// Functions lists every Lambda function of the API: the authorizer first,
// then one per route in route-table order.
func Functions() []string {
	names := []string{routes.AuthorizerFunction}
	for _, r := range routes.All {
		names = append(names, r.Function)
	}
	return names
}

// tableActionsFor returns the sorted actions of function, and an error if
// the table has no entry for it: a new route must say what it calls before
// it can be deployed.
func tableActionsFor(function string) ([]string, error) {
	actions, ok := TableActions[function]
	if !ok || len(actions) == 0 {
		return nil, fmt.Errorf("stack: TableActions has no DynamoDB actions for function %q", function)
	}
	sorted := slices.Clone(actions)
	slices.Sort(sorted)
	return slices.Compact(sorted), nil
}
