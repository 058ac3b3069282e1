package stack

import (
	"fmt"
	"slices"

	"github.com/workflowsapi/workflows/internal/routes"
)

// The DynamoDB actions the code calls, by what calls them.
const (
	actionGetItem      = "dynamodb:GetItem"
	actionPutItem      = "dynamodb:PutItem"
	actionUpdateItem   = "dynamodb:UpdateItem"
	actionQuery        = "dynamodb:Query"
	actionBatchGetItem = "dynamodb:BatchGetItem"
)

// TableActions is, for every Lambda function, the exact DynamoDB actions it
// calls on the table: its role is granted these and nothing more. Every route
// function calls UpdateItem, for the rate limiter's counter and the key's
// lastUsedAt; the key routes add what their store methods call. Routes whose
// feature is not built yet need only the limiter today, and gain actions in
// the change that brings their code.
//
// The grants cover the table's ARN only, not its indexes: no function
// queries GSI1 yet. A function that starts to must add the index ARN here.
var TableActions = map[string][]string{
	routes.AuthorizerFunction: {actionGetItem},

	"list-api-keys":  {actionUpdateItem, actionQuery, actionBatchGetItem, actionGetItem},
	"create-api-key": {actionUpdateItem, actionPutItem},
	"revoke-api-key": {actionUpdateItem, actionGetItem},
	"roll-api-key":   {actionUpdateItem, actionGetItem, actionPutItem},

	"list-workflows":  {actionUpdateItem},
	"create-workflow": {actionUpdateItem},
	"get-workflow":    {actionUpdateItem},
	"update-workflow": {actionUpdateItem},
	"delete-workflow": {actionUpdateItem},
	"run-workflow":    {actionUpdateItem},

	"list-runs":  {actionUpdateItem},
	"get-run":    {actionUpdateItem},
	"cancel-run": {actionUpdateItem},
	"retry-run":  {actionUpdateItem},

	"list-connections":  {actionUpdateItem},
	"get-connection":    {actionUpdateItem},
	"create-connection": {actionUpdateItem},
	"update-connection": {actionUpdateItem},
	"delete-connection": {actionUpdateItem},

	"receive-webhook": {actionUpdateItem},
}

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
