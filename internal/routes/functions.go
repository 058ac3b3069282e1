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
// them, theirs). Dependencies run one way: runs -> workflows -> connections
// (to check that a step's connection exists) and workflows -> webhooks (a
// webhook workflow's signing secret is made with it and dropped with it); the
// authorizer resolves keys. internal/webhooks is a leaf, so that the workflow
// routes can make secrets without linking runs: the receiving route (the runs
// issue) reaches runs through an interface its main wires, not an import.
// TestFunctionLinks holds every function's imports to it, so a function links
// only its own feature and what that feature is granted.
var FeatureLinks = map[Feature][]Feature{
	FeatureKeys:        nil,
	FeatureWorkflows:   {FeatureConnections, FeatureWebhooks},
	FeatureConnections: nil,
	FeatureRuns:        {FeatureWorkflows},
	FeatureWebhooks:    nil,
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
	ActionDeleteItem   = "dynamodb:DeleteItem"

	// ActionGenerateDataKey makes the data key that seals one secret (a
	// connection's credentials, a webhook signing secret); sealing needs
	// nothing else of KMS.
	ActionGenerateDataKey = "kms:GenerateDataKey"
	// ActionDecrypt unwraps a sealed secret's data key: only where the secret
	// is used (the runner applying credentials, the webhook receiver checking
	// a signature), never in a read route.
	ActionDecrypt = "kms:Decrypt"
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
	// KeyActions are the exact KMS actions the function calls on the API's
	// one KMS key (see secrets): the stack grants these on that key and
	// gives KMS_KEY_ID to these functions only.
	KeyActions []string
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

	// Workflows: a head item per workflow and an immutable item per version
	// (store/keys.go). Create checks each named connection (GetItem) and
	// writes the version, the head and, for a webhook workflow, its secret
	// (PutItem). Update also sets the head only if its version is the one
	// read (UpdateItem) and drops the secret of a workflow that stops being
	// a webhook one (DeleteItem).
	ListWorkflows.Function:  {ActionQuery},
	CreateWorkflow.Function: {ActionGetItem, ActionPutItem},
	GetWorkflow.Function:    {ActionGetItem},
	UpdateWorkflow.Function: {ActionGetItem, ActionPutItem, ActionUpdateItem, ActionDeleteItem},
	DeleteWorkflow.Function: {ActionDeleteItem},

	// The head (is it a webhook workflow of this account?), then the secret.
	RollWebhookSecret.Function: {ActionGetItem, ActionUpdateItem},

	ListConnections.Function:  {ActionQuery},
	GetConnection.Function:    {ActionGetItem},
	CreateConnection.Function: {ActionPutItem},
	UpdateConnection.Function: {ActionUpdateItem},
	DeleteConnection.Function: {ActionDeleteItem},
}

// keyActions is, per function, what it calls on the KMS key. The functions
// that store a secret seal it (GenerateDataKey); none of them reads one back.
var keyActions = map[string][]string{
	CreateConnection.Function:  {ActionGenerateDataKey},
	UpdateConnection.Function:  {ActionGenerateDataKey},
	CreateWorkflow.Function:    {ActionGenerateDataKey},
	UpdateWorkflow.Function:    {ActionGenerateDataKey},
	RollWebhookSecret.Function: {ActionGenerateDataKey},
}

// Functions lists every Lambda function: the authorizer first, then one per
// route in route-table order.
func Functions() []Function {
	out := []Function{{Name: AuthorizerFunction, Feature: FeatureAuthorizer, TableActions: sortedActions(AuthorizerFunction)}}
	for _, r := range All {
		out = append(out, Function{Name: r.Function, Route: r, Feature: r.Feature, TableActions: sortedActions(r.Function), KeyActions: slices.Sorted(slices.Values(keyActions[r.Function]))})
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
