package routes

import (
	"slices"
	"sort"
)

// Feature names a feature package: internal/<feature>, with its DynamoDB
// adapter in internal/store/<feature>db.
type Feature string

// The features. Each owns its model, rules and handlers.
const (
	FeatureKeys        Feature = "keys"
	FeatureWorkflows   Feature = "workflows"
	FeatureConnections Feature = "connections"
	FeatureRuns        Feature = "runs"
	FeatureWebhooks    Feature = "webhooks"
	FeatureOpenAPI     Feature = "openapi"
	FeatureAuthorizer  Feature = "authorizer"
)

// Features lists every feature package.
var Features = []Feature{FeatureKeys, FeatureWorkflows, FeatureConnections, FeatureRuns, FeatureWebhooks, FeatureOpenAPI, FeatureAuthorizer}

// FeatureLinks is the one table of the links between features that are
// allowed: a feature may import the features listed for it (and, through
// them, theirs). Dependencies run one way: webhooks -> runs -> workflows ->
// connections; the authorizer resolves keys. TestFunctionLinks holds every
// function's imports to it, so a function links only its own feature and
// what that feature is granted.
var FeatureLinks = map[Feature][]Feature{
	FeatureKeys:        nil,
	FeatureWorkflows:   {FeatureConnections},
	FeatureConnections: nil,
	FeatureRuns:        {FeatureWorkflows},
	FeatureWebhooks:    {FeatureRuns},
	FeatureOpenAPI:     nil,
	FeatureAuthorizer:  {FeatureKeys},
}

// Reachable returns f and every feature it may link, directly or through
// another, sorted.
func (f Feature) Reachable() []Feature {
	seen := map[Feature]bool{}
	var visit func(Feature)
	visit = func(g Feature) {
		if seen[g] {
			return
		}
		seen[g] = true
		for _, h := range FeatureLinks[g] {
			visit(h)
		}
	}
	visit(f)
	out := make([]Feature, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// The AWS actions the functions call.
const (
	ActionGetItem      = "dynamodb:GetItem"
	ActionPutItem      = "dynamodb:PutItem"
	ActionUpdateItem   = "dynamodb:UpdateItem"
	ActionQuery        = "dynamodb:Query"
	ActionBatchGetItem = "dynamodb:BatchGetItem"
)

// Function is one Lambda function of the API.
type Function struct {
	Name string
	// Route is the route the function serves; nil for the functions that
	// are not routes (the authorizer).
	Route *Route
	// Feature is the feature package the function runs.
	Feature Feature
	// TableActions are the exact DynamoDB actions the function calls on the
	// table: its role is granted these and nothing more, and
	// TestDynamoDBCallsPerRoute holds them to the calls each route makes.
	// They cover the table, not its indexes: no function queries GSI1 yet;
	// one that starts to must have the index ARN granted too.
	TableActions []string
}

// AuthorizerFunction names the REQUEST authorizer's Lambda.
const AuthorizerFunction = "authorizer"

// tableActions is, per function, what it calls on the table. Every route
// function calls UpdateItem for the limiter's counter (and the key's
// lastUsedAt); a route whose feature is not built needs nothing else, and
// gains actions in the change that brings its code.
var tableActions = map[string][]string{
	AuthorizerFunction: {ActionGetItem},

	ListAPIKeys.Function:  {ActionUpdateItem, ActionQuery, ActionBatchGetItem},
	CreateAPIKey.Function: {ActionUpdateItem, ActionPutItem, ActionQuery, ActionBatchGetItem},
	RevokeAPIKey.Function: {ActionUpdateItem, ActionGetItem},
	RollAPIKey.Function:   {ActionUpdateItem, ActionGetItem, ActionPutItem},
}

// Functions lists every Lambda function: the authorizer first, then one per
// route in route-table order.
func Functions() []Function {
	out := []Function{{Name: AuthorizerFunction, Feature: FeatureAuthorizer, TableActions: sortedActions(AuthorizerFunction)}}
	for _, r := range All {
		out = append(out, Function{Name: r.Function, Route: r, Feature: r.Feature, TableActions: sortedActions(r.Function)})
	}
	return out
}

// FunctionByName finds a function of Functions.
func FunctionByName(name string) (Function, bool) {
	for _, f := range Functions() {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

func sortedActions(function string) []string {
	actions := slices.Clone(tableActions[function])
	if _, isRoute := ByFunction(function); isRoute && !slices.Contains(actions, ActionUpdateItem) {
		actions = append(actions, ActionUpdateItem) // the limiter
	}
	slices.Sort(actions)
	return slices.Compact(actions)
}
