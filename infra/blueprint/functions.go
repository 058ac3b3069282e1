// Package blueprint is the part of the deployment that both of its
// descriptions share, written down once and without CDK: what every function
// of routes.Functions() runs with (runtime, memory, timeout, variables), what
// each may call on which resource (Grants), and the settings of the edge and
// of the run engine. infra/stack builds the CDK stack from it and
// infra/samtemplate writes template.yaml from it, each turning a Resource or a
// Value into its own reference (a CDK token, a SAM intrinsic), so the two
// cannot disagree on what a function gets; infra/stack's drift test compares
// what they resolve it to.
package blueprint

import (
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
	"github.com/workflowsapi/workflows/internal/signaltoken/kmsmac"
)

// How every function runs: Go's bootstrap on Lambda's OS-only runtime, on
// Graviton.
const (
	Runtime      = "provided.al2023"
	Architecture = "arm64"
	// Handler is the executable a provided.al2023 function runs: each
	// function's bootstrap (bin/<function>/bootstrap).
	Handler = "bootstrap"
)

// Sizes. Go handlers are small and start fast; 256 MB gives a little more
// CPU than the minimum for the SHA-256 of each key check. The authorizer's
// timeout is short because API Gateway waits on it before every route.
const (
	MemoryMB                 = 256
	RouteTimeoutSeconds      = 10
	AuthorizerTimeoutSeconds = 5
	// RunnerTimeoutSeconds is Lambda's ceiling, 15 minutes: one Advance
	// runs steps while its budget lasts, and a step's own timeoutSeconds
	// may be up to workflows.MaxStepTimeoutSeconds (900), so the longest
	// attempt needs a whole invocation. The runner reads what is left from
	// its context's deadline and starts no attempt that cannot end (and be
	// recorded) before it; Step Functions then invokes it again at once.
	RunnerTimeoutSeconds = 900
	// StartCheckTimeoutSeconds bounds one periodic start check (every
	// StartCheckEveryMinutes): it reads the unfinished-run markers and asks
	// Step Functions about each, a few tens of milliseconds a run. Well
	// under the period, so two checks rarely overlap (and overlapping is
	// safe: starting twice starts once, and every write is conditional).
	StartCheckTimeoutSeconds = 120
)

// TimeoutSeconds is the function's timeout: a route's, unless it is the
// authorizer, the runner or the start check. scheduled-run starts one run,
// as a route does.
func TimeoutSeconds(function string) int {
	switch function {
	case routes.AuthorizerFunction:
		return AuthorizerTimeoutSeconds
	case routes.RunnerFunction:
		return RunnerTimeoutSeconds
	case routes.StartCheckFunction:
		return StartCheckTimeoutSeconds
	}
	return RouteTimeoutSeconds
}

// DefaultLogLevel is the functions' application log level unless the
// deployment says otherwise (`-c logLevel=...`, template.yaml's LogLevel).
const DefaultLogLevel = "INFO"

// LogLevels are the levels a deployer may choose: the ones log/slog writes
// and Lambda's JSON log filter reads.
var LogLevels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// The environment the functions read (internal/store, internal/lambdaapp,
// internal/secrets/kmssealer, internal/signaltoken/kmsmac,
// internal/orchestrator/sfn, internal/schedules/eventbridge).
const (
	EnvTableName               = "TABLE_NAME"
	EnvLogLevel                = "LOG_LEVEL"
	EnvKMSKeyID                = "KMS_KEY_ID"
	EnvSignalKeyID             = kmsmac.EnvKeyID
	EnvStateMachineARN         = sfn.EnvStateMachineARN
	EnvExpressStateMachineARN  = sfn.EnvExpressStateMachineARN
	EnvScheduleGroupName       = eventbridge.EnvGroupName
	EnvSchedulerRoleARN        = eventbridge.EnvRoleARN
	EnvScheduledRunFunctionARN = eventbridge.EnvTargetARN
	EnvScheduleDLQARN          = eventbridge.EnvDeadLetterARN
)

// Value is what a variable holds, which each description writes its own
// way: the CDK stack as a token, template.yaml as !Ref or !GetAtt.
type Value string

// The values.
const (
	TableNameValue              Value = "the table's name"
	LogLevelValue               Value = "the application log level"
	KeyARNValue                 Value = "the secrets' KMS key's ARN"
	SignalKeyARNValue           Value = "the signal tokens' KMS HMAC key's ARN"
	StateMachineARNValue        Value = "the run state machine's ARN"
	ExpressStateMachineARNValue Value = "the Express run state machine's ARN"
	ScheduleGroupNameValue      Value = "the schedule group's name"
	SchedulerRoleARNValue       Value = "the role Scheduler invokes scheduled-run with"
	ScheduledRunFunctionValue   Value = "scheduled-run's ARN, every schedule's target"
	ScheduleDLQARNValue         Value = "the schedules' dead-letter queue's ARN"
)

// Variable is one environment variable of a function.
type Variable struct {
	Name  string
	Value Value
}

// Environment is fn's variables, and nothing else, so a function cannot even
// name what it may not use: the table's name and the log level for every
// function (the process logs at Lambda's level, lambdaenv.LogLevel, so it
// does not build lines Lambda would drop); KMS_KEY_ID to the functions with
// KeyActions; SIGNAL_KEY_ID to the functions with SignalKeyActions (so
// kmsmac.FromEnv fails at start in any other deployed function, which
// has no local key directory); STATE_MACHINE_ARN with any states: action;
// EXPRESS_STATE_MACHINE_ARN beside it to the functions that start runs
// (StartsRuns), the ones granted states:StartExecution on the Express
// machine; SCHEDULE_GROUP_NAME with any scheduler: action; and the
// scheduler's role, target and dead-letter queue with the actions that
// write a schedule's target (create, update).
func Environment(fn routes.Function) []Variable {
	out := []Variable{{EnvTableName, TableNameValue}, {EnvLogLevel, LogLevelValue}}
	if len(fn.KeyActions) > 0 {
		out = append(out, Variable{EnvKMSKeyID, KeyARNValue})
	}
	if len(fn.SignalKeyActions) > 0 {
		out = append(out, Variable{EnvSignalKeyID, SignalKeyARNValue})
	}
	has := func(match func(action string) bool) bool {
		for _, a := range fn.ServiceActions {
			if match(a) {
				return true
			}
		}
		return false
	}
	if has(func(a string) bool { return hasService(a, "states") }) {
		out = append(out, Variable{EnvStateMachineARN, StateMachineARNValue})
	}
	if fn.StartsRuns {
		out = append(out, Variable{EnvExpressStateMachineARN, ExpressStateMachineARNValue})
	}
	if has(func(a string) bool { return hasService(a, "scheduler") }) {
		out = append(out, Variable{EnvScheduleGroupName, ScheduleGroupNameValue})
	}
	if has(func(a string) bool { return a == routes.ActionCreateSchedule || a == routes.ActionUpdateSchedule }) {
		out = append(out,
			Variable{EnvSchedulerRoleARN, SchedulerRoleARNValue},
			Variable{EnvScheduledRunFunctionARN, ScheduledRunFunctionValue},
			Variable{EnvScheduleDLQARN, ScheduleDLQARNValue})
	}
	return out
}

// ConstructID turns a function name (list-api-keys) into the name both
// descriptions give it (ListApiKeys): the CDK construct id the logical ids
// are made from, template.yaml's ListApiKeysFunction, which infra/infra.mk's
// build-%Function rule turns back into the folder.
func ConstructID(function string) string {
	id := make([]byte, 0, len(function))
	upper := true
	for i := 0; i < len(function); i++ {
		c := function[i]
		if c == '-' {
			upper = true
			continue
		}
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper = false
		id = append(id, c)
	}
	return string(id)
}
