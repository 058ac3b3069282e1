package blueprint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/workflowsapi/workflows/internal/routes"
)

// Resource is what a grant is on. Each description turns it into its own
// ARN: the CDK stack into its constructs' tokens, template.yaml into
// intrinsics of its logical ids.
type Resource string

// The resources a function may be granted actions on.
const (
	// TableResource is the table's ARN, and the ARN of each index a grant
	// names (never table/index/*).
	TableResource Resource = "table"
	// KeyResource is the secrets' KMS key.
	KeyResource Resource = "key"
	// SignalKeyResource is the KMS HMAC key wait_for_signal tokens are
	// made under (internal/signaltoken).
	SignalKeyResource Resource = "signalKey"
	// StateMachineResource is the run state machine: the Standard one,
	// which every run may use and every waiting run does.
	StateMachineResource Resource = "stateMachine"
	// ExpressStateMachineResource is the Express state machine, for the
	// runs that never wait on an event (orchestrator.Express). Only
	// states:StartExecution is ever granted on it, to the functions that
	// start runs (routes.Function.StartsRuns): Express machines have no
	// task tokens, and StopExecution and DescribeExecution do not apply to
	// their executions.
	ExpressStateMachineResource Resource = "expressStateMachine"
	// ExecutionsResource is every execution of the run state machine
	// (arn:...:execution:<state machine>:*): one per run.
	ExecutionsResource Resource = "executions"
	// SchedulesResource is every schedule of the stage's schedule group
	// (arn:...:schedule/<group>/*): one per schedule workflow.
	SchedulesResource Resource = "schedules"
	// SchedulerRoleResource is the role Scheduler invokes scheduled-run
	// with, which the functions that write a schedule hand to Scheduler.
	SchedulerRoleResource Resource = "schedulerRole"
	// ScheduledRunFailuresResource is scheduled-run's on-failure
	// destination, which Lambda sends to with the function's role.
	ScheduledRunFailuresResource Resource = "failureQueue"
)

// Grant is one Allow statement of a function's role: exact actions of one
// service on one resource.
type Grant struct {
	// Service is the actions' prefix: "dynamodb", "kms", "states", ...
	Service string
	Actions []string
	On      Resource
	// Indexes are, on TableResource, the indexes the grant also covers.
	Indexes []string
	// Condition narrows the grant (iam:PassRole to Scheduler only), as an
	// IAM condition block: operator, then key and value.
	Condition map[string]map[string]string
}

// passRoleCondition lets the schedules' role be handed to Scheduler only.
var passRoleCondition = map[string]map[string]string{"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}

// SignalKeyActions are the only actions any function may be granted on the
// signal key: making a token. Its hash is what is stored, so nothing ever
// verifies a MAC with KMS, and nothing else is done with an HMAC key.
var SignalKeyActions = []string{routes.ActionGenerateMac}

// ActionSendMessage is what Lambda calls, with scheduled-run's role, to put
// a failed asynchronous invocation in its on-failure destination.
const ActionSendMessage = "sqs:SendMessage"

// Grants returns what fn's role may call beyond its own log group and X-Ray:
// the actions fn's entry in routes.Functions() lists, each on the resource it
// is for, and nothing else, in this order: TableActions on the table and the
// indexes fn queries; KeyActions on the key; SignalKeyActions on the signal
// key (kms:GenerateMac only); ServiceActions on the run
// engine's resources (starting on the state machine; stopping and describing
// on its executions; the schedule actions on the group's schedules; passing
// the scheduler's role, to Scheduler only), one grant per resource in the
// order of the sorted actions; for a function that starts runs
// (StartsRuns), states:StartExecution on the Express state machine too,
// right after the grant on the Standard one; and, for scheduled-run,
// sqs:SendMessage on its on-failure destination. An action with no
// resource here, a wildcard, an action of another service or StartsRuns
// without states:StartExecution is an error, so nothing can be granted on
// everything by mistake.
func Grants(fn routes.Function) ([]Grant, error) {
	for _, index := range fn.Indexes {
		if index == "" || strings.ContainsAny(index, "*/?") {
			return nil, fmt.Errorf("blueprint: function %q: %q is not one index name", fn.Name, index)
		}
	}
	var out []Grant
	for _, g := range []Grant{
		{Service: "dynamodb", Actions: fn.TableActions, On: TableResource, Indexes: fn.Indexes},
		// Only the sealing and opening calls, on the one key: never
		// kms:Encrypt or ReEncrypt* (nothing here encrypts with the key
		// itself) nor any administration of it.
		{Service: "kms", Actions: fn.KeyActions, On: KeyResource},
		// Only making a token: never kms:VerifyMac (a signal is checked by
		// the hash of its token, with no KMS call) nor anything else.
		{Service: "kms", Actions: fn.SignalKeyActions, On: SignalKeyResource},
	} {
		if len(g.Actions) == 0 {
			continue
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("blueprint: routes.Functions() lists no actions for function %q", fn.Name)
	}
	for _, a := range fn.SignalKeyActions {
		if !slices.Contains(SignalKeyActions, a) {
			return nil, fmt.Errorf("blueprint: function %q: %q is not an action of the signal key (%v)", fn.Name, a, SignalKeyActions)
		}
	}

	var engine []Grant
	at := map[Resource]int{}
	for _, action := range slices.Sorted(slices.Values(fn.ServiceActions)) {
		var g Grant
		switch action {
		case routes.ActionStartExecution, routes.ActionSendTaskSuccess:
			// A task token belongs to an execution of the one state
			// machine: granted on the state machine, as CDK's
			// grantTaskResponse does.
			g = Grant{Service: "states", On: StateMachineResource}
		case routes.ActionStopExecution, routes.ActionDescribeExecution:
			g = Grant{Service: "states", On: ExecutionsResource}
		case routes.ActionCreateSchedule, routes.ActionUpdateSchedule, routes.ActionDeleteSchedule, routes.ActionGetSchedule:
			g = Grant{Service: "scheduler", On: SchedulesResource}
		case routes.ActionPassRole:
			g = Grant{Service: "iam", On: SchedulerRoleResource, Condition: passRoleCondition}
		default:
			return nil, fmt.Errorf("blueprint: function %q: no resource is known for %q", fn.Name, action)
		}
		i, seen := at[g.On]
		if !seen {
			i = len(engine)
			at[g.On] = i
			engine = append(engine, g)
		}
		engine[i].Actions = append(engine[i].Actions, action)
	}
	if fn.StartsRuns {
		// The same start, on the Express machine: the orchestrator picks
		// the machine per run. StartsRuns without the start itself is a
		// mistake in routes, not a narrower grant.
		if !slices.Contains(fn.ServiceActions, routes.ActionStartExecution) {
			return nil, fmt.Errorf("blueprint: function %q starts runs but lists no %s", fn.Name, routes.ActionStartExecution)
		}
		i := at[StateMachineResource]
		engine = slices.Insert(engine, i+1, Grant{Service: "states", Actions: []string{routes.ActionStartExecution}, On: ExpressStateMachineResource})
	}
	out = append(out, engine...)
	if fn.Name == routes.ScheduledRunFunction {
		out = append(out, Grant{Service: "sqs", Actions: []string{ActionSendMessage}, On: ScheduledRunFailuresResource})
	}
	for _, g := range out {
		if err := ExactActions(fn.Name, g.Service, g.Actions); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ExactActions checks that every action is one action of service, with no
// wildcard.
func ExactActions(function, service string, actions []string) error {
	for _, a := range actions {
		name, ok := strings.CutPrefix(a, service+":")
		if !ok || name == "" || strings.ContainsAny(name, "*?:") {
			return fmt.Errorf("blueprint: function %q: %q is not one exact %s action", function, a, service)
		}
	}
	return nil
}

func hasService(action, service string) bool { return strings.HasPrefix(action, service+":") }
