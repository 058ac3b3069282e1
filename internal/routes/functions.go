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
	// FeatureWebhookReceive is the receiving route, in internal/webhooks/receive:
	// it verifies with internal/webhooks and starts runs, while
	// internal/webhooks itself stays a leaf the workflow routes can link.
	FeatureWebhookReceive Feature = "webhooks/receive"
	// FeatureRunner advances runs (the Step Functions task, the local driver's
	// work, the periodic start check).
	FeatureRunner Feature = "runner"
	// FeatureEngine executes one step (http, transform, condition, delay);
	// no AWS, no storage.
	FeatureEngine Feature = "engine"
	// FeatureOrchestrator drives runs: the Step Functions adapter and the
	// local driver.
	FeatureOrchestrator Feature = "orchestrator"
	// FeatureSchedules keeps one EventBridge Scheduler schedule per schedule
	// workflow (and the local gateway's own firing of them).
	FeatureSchedules Feature = "schedules"
	// FeatureConsole serves the console's page and assets (internal/console):
	// static files, no store, no other feature.
	FeatureConsole Feature = "console"
)

// Features lists every feature package. A package belongs to the longest
// feature its path starts with (internal/webhooks/receive to
// FeatureWebhookReceive, not FeatureWebhooks).
var Features = []Feature{FeatureKeys, FeatureWorkflows, FeatureConnections, FeatureRuns, FeatureWebhooks, FeatureOpenAPI, FeatureAuthorizer,
	FeatureWebhookReceive, FeatureRunner, FeatureEngine, FeatureOrchestrator, FeatureSchedules, FeatureConsole}

// FeatureLinks is the one table of the links between features that are
// allowed: a feature may import the features listed for it (and, through
// them, theirs). Dependencies run one way: runs -> workflows -> connections
// (to check that a step's connection exists) and workflows -> webhooks (a
// workflow's secrets, the webhook signing secret and the notification
// secret, are made with it and dropped with it); the authorizer resolves
// keys. internal/webhooks is a leaf, so that the workflow routes can make
// secrets without linking runs: the receiving route (the runs issue)
// reaches runs through an interface its main wires, not an import. The
// runner links webhooks to sign the events a workflow's notify sends.
// TestFunctionLinks holds every function's imports to it, so a function links
// only its own feature and what that feature is granted.
var FeatureLinks = map[Feature][]Feature{
	FeatureKeys:           nil,
	FeatureWorkflows:      {FeatureConnections, FeatureWebhooks, FeatureSchedules},
	FeatureConnections:    nil,
	FeatureRuns:           {FeatureWorkflows, FeatureOrchestrator},
	FeatureWebhooks:       nil,
	FeatureOpenAPI:        nil,
	FeatureAuthorizer:     {FeatureKeys},
	FeatureWebhookReceive: {FeatureWebhooks, FeatureRuns},
	FeatureRunner:         {FeatureRuns, FeatureEngine, FeatureConnections, FeatureWebhooks},
	FeatureEngine:         {FeatureWorkflows, FeatureConnections},
	FeatureOrchestrator:   nil,
	FeatureSchedules:      nil,
	FeatureConsole:        nil,
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
	// connection's credentials, a webhook signing or notification secret);
	// sealing needs nothing else of KMS.
	ActionGenerateDataKey = "kms:GenerateDataKey"
	// ActionDecrypt unwraps a sealed secret's data key: only where the secret
	// is used (the runner applying credentials and signing notifications,
	// the webhook receiver checking a signature), never in a read route.
	ActionDecrypt = "kms:Decrypt"

	// ActionGenerateMac makes a wait_for_signal step's token: an HMAC,
	// under the API's signal key, of the step and a nonce kept with it
	// (internal/signaltoken). Only the token's hash is stored; the runner
	// (to store that hash) and the read routes (to show the signalUrl)
	// compute it again.
	ActionGenerateMac = "kms:GenerateMac"
)

// Function is one Lambda function of the API.
type Function struct {
	Name string
	// Route is the route the function serves, the one its main starts; nil
	// for the functions that are not routes (the authorizer).
	Route *Route
	// Routes is every route the function serves, Route first: one for
	// most, the page and its assets for the console. The stack and
	// template.yaml give the function a method on each.
	Routes []*Route
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
	// SignalKeyActions are the exact KMS actions the function calls on the
	// API's signal key (an HMAC key, internal/signaltoken): the stack
	// grants these on that key and gives SIGNAL_KEY_ID to these functions
	// only.
	SignalKeyActions []string
	// Indexes are the table's GSIs the function queries: its role is granted
	// its TableActions on these index ARNs too.
	Indexes []string
	// ServiceActions are the other AWS actions the function calls (Step
	// Functions, EventBridge Scheduler); the stack grants each on the one
	// resource it is for (the state machine and its executions, the
	// schedule group, the schedules' role).
	ServiceActions []string
	// Compiles says the function parses or compiles what a definition
	// holds: a definition written (create, update), a run's input checked
	// against its schema (the starts), jq and templates run (the runner).
	// Only these may link internal/workflows/definition and its compilers
	// (gojq, JSON Schema, the time zone database); functions/links_test.go
	// holds every other function, the reads first, to that.
	Compiles bool
	// StartsRuns says the function starts runs' executions, so it may start
	// them on the Express state machine too (orchestrator.Express): the
	// starts, a webhook, a schedule, the start check and the runner (a
	// child run). Its states:StartExecution is granted on both machines,
	// and it is given EXPRESS_STATE_MACHINE_ARN; cancel-run's, which starts
	// only delivery executions, is not.
	StartsRuns bool
}

// The other AWS actions functions call.
const (
	ActionStartExecution    = "states:StartExecution"
	ActionStopExecution     = "states:StopExecution"
	ActionDescribeExecution = "states:DescribeExecution"
	// ActionSendTaskSuccess completes the task token a parent's
	// WaitForEvent state waits on, when its child run ends.
	ActionSendTaskSuccess = "states:SendTaskSuccess"
	ActionCreateSchedule  = "scheduler:CreateSchedule"
	ActionUpdateSchedule  = "scheduler:UpdateSchedule"
	ActionDeleteSchedule  = "scheduler:DeleteSchedule"
	ActionGetSchedule     = "scheduler:GetSchedule"
	ActionListSchedules   = "scheduler:ListSchedules"
	// ActionPassRole hands the schedules' own role to Scheduler, which
	// assumes it to invoke ScheduledRunFunction.
	ActionPassRole = "iam:PassRole"
)

// The functions that are not routes.
const (
	// AuthorizerFunction names the REQUEST authorizer's Lambda.
	AuthorizerFunction = "authorizer"
	// RunnerFunction is the state machine's Advance task: it advances one
	// run (and, from the state machine's catch, records it failed).
	RunnerFunction = "runner"
	// StartCheckFunction runs every few minutes: it starts the execution of
	// a run stored queued whose start was lost, and records the end of a run
	// whose execution ended without the runner (stopped, timed out).
	StartCheckFunction = "start-check"
	// ScheduledRunFunction is the target of every EventBridge Scheduler
	// schedule: it starts one run of the workflow for the scheduled time.
	ScheduledRunFunction = "scheduled-run"
)

// workers are the functions that are not routes, after the authorizer, with
// the feature each runs.
var workers = []struct {
	name    string
	feature Feature
}{
	{RunnerFunction, FeatureRunner},
	{StartCheckFunction, FeatureRunner},
	{ScheduledRunFunction, FeatureRuns},
}

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
	// writes the version, the head and, for a webhook workflow or one with
	// notify, its signing or notification secret (PutItem: each its own
	// item). Update also sets the head only if its version is the one read
	// (UpdateItem) and drops the secret of a workflow that stops being a
	// webhook one or loses its notify (DeleteItem); Delete drops both.
	ListWorkflows.Function:  {ActionQuery},
	CreateWorkflow.Function: {ActionGetItem, ActionPutItem},
	GetWorkflow.Function:    {ActionGetItem},
	UpdateWorkflow.Function: {ActionGetItem, ActionPutItem, ActionUpdateItem, ActionDeleteItem},
	DeleteWorkflow.Function: {ActionDeleteItem},

	// The head (is it a webhook workflow of this account? does it have
	// notify?), then the secret item.
	RollWebhookSecret.Function: {ActionGetItem, ActionUpdateItem},
	RollNotifySecret.Function:  {ActionGetItem, ActionUpdateItem},

	// Runs (store/keys.go): the run item in its account, its steps in their
	// own partition, a marker per unfinished run, an idempotency record per
	// Idempotency-Key. Starting reads the workflow (head, version) and
	// writes the marker, then the run. Cancelling a waiting run, and the
	// start check recording the end of a run whose execution ended, read
	// its steps and end the open one (PutItem) before the run; a cancel
	// then reads the run's children (Query) and cancels them. Listing a
	// run's children reads the parent (GetItem), its child records (Query)
	// and the children (BatchGetItem). The runner starts a workflow step's
	// child as the run route starts a run (the workflow's head and
	// version, the marker, the child record, the run), and reads a
	// workflow's notification secret item (GetItem) to sign its events.
	RunWorkflow.Function: {ActionGetItem, ActionPutItem},
	ListRuns.Function:    {ActionGetItem, ActionQuery, ActionBatchGetItem},
	GetRun.Function:      {ActionGetItem, ActionQuery},
	GetRunStep.Function:  {ActionGetItem, ActionQuery}, // a fan-out step's items
	CancelRun.Function:   {ActionGetItem, ActionQuery, ActionPutItem, ActionUpdateItem, ActionDeleteItem},
	RetryRun.Function:    {ActionGetItem, ActionQuery, ActionPutItem},
	// A signal reads the run and the step, records the step succeeded
	// (PutItem), drops the token's lookup item (DeleteItem) and answers
	// with the run's steps (Query); by its signalUrl the lookup item is
	// read first (GetItem), and the run's view is not shown.
	SignalRun.Function:      {ActionGetItem, ActionQuery, ActionPutItem, ActionDeleteItem},
	ReceiveSignal.Function:  {ActionGetItem, ActionPutItem, ActionDeleteItem},
	ReceiveWebhook.Function: {ActionGetItem, ActionPutItem},
	RunnerFunction:          {ActionGetItem, ActionQuery, ActionPutItem, ActionUpdateItem, ActionDeleteItem},
	StartCheckFunction:      {ActionGetItem, ActionQuery, ActionPutItem, ActionUpdateItem, ActionDeleteItem},
	ScheduledRunFunction:    {ActionGetItem, ActionPutItem},

	ListConnections.Function:  {ActionQuery},
	GetConnection.Function:    {ActionGetItem},
	CreateConnection.Function: {ActionPutItem},
	UpdateConnection.Function: {ActionUpdateItem},
	DeleteConnection.Function: {ActionDeleteItem},
}

// indexes is, per function, the GSIs it queries (store/keys.go plans them).
var indexes = map[string][]string{
	ListRuns.Function: {"GSI1", "GSI2"},
}

// serviceActions is, per function, what it calls on Step Functions and
// EventBridge Scheduler.
var serviceActions = map[string][]string{
	RunWorkflow.Function: {ActionStartExecution},
	RetryRun.Function:    {ActionStartExecution},
	// A signal wakes the run: SendTaskSuccess of the token its execution
	// waits on.
	SignalRun.Function:     {ActionSendTaskSuccess},
	ReceiveSignal.Function: {ActionSendTaskSuccess},
	// A cancelled child wakes its parent (SendTaskSuccess of the parent's
	// token); the runner also starts and cancels children. A run cancelled
	// at once (queued, waiting) ends here and not in the runner, so its
	// run.cancelled event's delivery is started here too
	// (StartExecution of a delivery execution); the start check does the
	// same for the runs whose end it records, with the StartExecution it
	// already has.
	CancelRun.Function:      {ActionStartExecution, ActionStopExecution, ActionSendTaskSuccess},
	ReceiveWebhook.Function: {ActionStartExecution},
	ScheduledRunFunction:    {ActionStartExecution},
	StartCheckFunction:      {ActionStartExecution, ActionDescribeExecution, ActionSendTaskSuccess},
	RunnerFunction:          {ActionStartExecution, ActionStopExecution, ActionSendTaskSuccess},
	CreateWorkflow.Function: {ActionCreateSchedule, ActionPassRole},
	UpdateWorkflow.Function: {ActionCreateSchedule, ActionUpdateSchedule, ActionDeleteSchedule, ActionPassRole},
	DeleteWorkflow.Function: {ActionDeleteSchedule},
}

// keyActions is, per function, what it calls on the KMS key. The functions
// that store a secret seal it (GenerateDataKey); none of them reads one back.
// compiles are the functions that parse or compile a definition's contents
// (Function.Compiles).
var compiles = map[string]bool{
	"create-workflow": true, "update-workflow": true,
	"run-workflow": true, "retry-run": true, "scheduled-run": true, "receive-webhook": true,
	RunnerFunction: true,
}

// startsRuns are the functions that start runs (Function.StartsRuns).
var startsRuns = map[string]bool{
	"run-workflow": true, "retry-run": true, "scheduled-run": true, "receive-webhook": true,
	StartCheckFunction: true, RunnerFunction: true,
}

var keyActions = map[string][]string{
	CreateConnection.Function:  {ActionGenerateDataKey},
	UpdateConnection.Function:  {ActionGenerateDataKey},
	CreateWorkflow.Function:    {ActionGenerateDataKey}, // a webhook or notification secret
	UpdateWorkflow.Function:    {ActionGenerateDataKey}, // the same
	RollWebhookSecret.Function: {ActionGenerateDataKey},
	RollNotifySecret.Function:  {ActionGenerateDataKey},
	// Opening: only where the secret is used.
	RunnerFunction:          {ActionDecrypt}, // a step's connection credentials; the notification secret, to sign an event
	ReceiveWebhook.Function: {ActionDecrypt}, // the signing secret, to check a delivery
}

// signalKeyActions is, per function, what it calls on the signal key: the
// runner makes a waiting step's token to store its hash, and the read routes
// make it again to show the step's signalUrl.
var signalKeyActions = map[string][]string{
	RunnerFunction:      {ActionGenerateMac},
	GetRun.Function:     {ActionGenerateMac},
	GetRunStep.Function: {ActionGenerateMac},
}

// Functions lists every Lambda function: the authorizer first, then one per
// route's function in route-table order (a function that serves several
// routes once, where its first route is), then the workers (runner, start
// check, scheduled run).
func Functions() []Function {
	out := []Function{function(AuthorizerFunction, nil, FeatureAuthorizer)}
	for _, r := range All {
		if first, _ := ByFunction(r.Function); first == r {
			out = append(out, function(r.Function, r, r.Feature))
		}
	}
	for _, w := range workers {
		out = append(out, function(w.name, nil, w.feature))
	}
	return out
}

func function(name string, route *Route, feature Feature) Function {
	return Function{
		Name: name, Route: route, Routes: RoutesOf(name), Feature: feature,
		TableActions:     sortedActions(name),
		KeyActions:       slices.Sorted(slices.Values(keyActions[name])),
		SignalKeyActions: slices.Sorted(slices.Values(signalKeyActions[name])),
		Indexes:          slices.Sorted(slices.Values(indexes[name])),
		ServiceActions:   slices.Sorted(slices.Values(serviceActions[name])),
		Compiles:         compiles[name],
		StartsRuns:       startsRuns[name],
	}
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
