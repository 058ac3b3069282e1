// Package sfn drives runs on AWS Step Functions: the run state machine's
// definition (Definition, which the CDK stack and template.yaml deploy) and
// the adapter the functions start, stop and inspect executions with
// (Orchestrator, which implements runs.Orchestrator).
//
// One execution per run, named after the run id, in the Standard state
// machine whose ARN is STATE_MACHINE_ARN, or, for a run that never waits
// (orchestrator.Express), in the Express one of EXPRESS_STATE_MACHINE_ARN.
// So:
//
//   - Start(accountID, runID, machine) is one StartExecution named runID with the
//     input {"accountId", "runId"} (runner.Task). Starting a run that has or
//     had an execution starts nothing and is not an error: Step Functions
//     answers the same name with the same input, while it runs, with the
//     running execution, and refuses it (ExecutionAlreadyExists) once it has
//     ended, which Start takes as done too.
//   - Stop(runID) is one StopExecution of the execution ARN made from the
//     state machine's ARN and runID (no lookup). An execution that does not
//     exist is not an error.
//   - Describe(runID) is one DescribeExecution, for the periodic start check
//     (functions/start-check): ExecutionNotFound means the run's start was
//     lost (start it); ExecutionRunning means the state machine has it;
//     ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut and
//     ExecutionAborted mean the execution has ended, so a run still stored
//     unfinished ended without the runner recording it (stopped in the
//     console: cancelled; failed, timed out: failed).
//
// The functions that call these are granted exactly the matching actions
// (routes.Function.ServiceActions): states:StartExecution on the state
// machine, states:StopExecution and states:DescribeExecution on its
// executions.
//
// FromEnv builds the adapter from STATE_MACHINE_ARN, at SFN_ENDPOINT if set
// (moto's server in tests), as kmssealer.FromEnv does for KMS.
package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/orchestrator"
)

// ExecutionState is where a run's execution is, as Describe tells it: the
// start check's own type (internal/orchestrator), so the adapter is the
// check's orchestrator.Executions as it is.
type ExecutionState = orchestrator.ExecutionState

// The states of an execution, as Step Functions' statuses map to them:
// RUNNING and PENDING_REDRIVE are running; FAILED is failed (the runner
// recorded the run failed, or an error nothing caught: RecordFailure's own
// invocation failed, the history limit); ABORTED is a StopExecution (a
// cancel, or someone in the console); an execution Step Functions has
// forgotten (90 days after it ended) is not found.
const (
	ExecutionNotFound  = orchestrator.ExecutionNotFound
	ExecutionRunning   = orchestrator.ExecutionRunning
	ExecutionSucceeded = orchestrator.ExecutionSucceeded
	ExecutionFailed    = orchestrator.ExecutionFailed
	ExecutionTimedOut  = orchestrator.ExecutionTimedOut
	ExecutionAborted   = orchestrator.ExecutionAborted
)

var _ orchestrator.Executions = (*Orchestrator)(nil)

// Budget bounds the time and the attempts of every Step Functions call.
type Budget = awsbudget.Budget

// DefaultBudget is KMS's (kmssealer.DefaultBudget), for the same reasons:
// Step Functions answers StartExecution, StopExecution and DescribeExecution
// in tens of milliseconds, and a route function (10 s) makes one such call
// after its DynamoDB writes. A start that fails after its three attempts is
// not lost: the periodic start check starts the run later.
var DefaultBudget = Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

// Option changes an Orchestrator.
type Option func(*Orchestrator)

// WithBudget replaces DefaultBudget; zero fields keep its values.
func WithBudget(b Budget) Option {
	return func(o *Orchestrator) { o.budget = b.Or(DefaultBudget) }
}

// WithExpress starts the runs that go on Express (orchestrator.Express) as
// executions of the Express state machine expressARN. Without it such a
// start fails: the run stays queued and the start check logs it.
func WithExpress(expressARN string) Option {
	return func(o *Orchestrator) { o.expressARN = expressARN }
}

// Orchestrator drives runs as executions of the run state machines. It
// implements runs.Orchestrator.
type Orchestrator struct {
	client          *awssfn.Client
	stateMachineARN string
	// expressARN is the Express state machine's ("" if not configured).
	expressARN string
	// executionPrefix is the execution ARN less the execution's name.
	executionPrefix string
	// badARN is why stateMachineARN is not a state machine ARN (nil if it
	// is): every call returns it.
	badARN error
	budget Budget
}

// New drives runs as executions of the state machine stateMachineARN
// (arn:<partition>:states:<region>:<account>:stateMachine:<name>). Execution
// ARNs are made from it, so with any other ARN every call fails (FromEnv
// refuses one at start-up instead).
func New(client *awssfn.Client, stateMachineARN string, opts ...Option) *Orchestrator {
	prefix, err := executionPrefix(stateMachineARN)
	o := &Orchestrator{client: client, stateMachineARN: stateMachineARN, executionPrefix: prefix, badARN: err, budget: DefaultBudget}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// executionPrefix turns arn:aws:states:r:a:stateMachine:name into
// arn:aws:states:r:a:execution:name: (Step Functions' execution ARN form).
func executionPrefix(stateMachineARN string) (string, error) {
	parts := strings.Split(stateMachineARN, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", fmt.Errorf("sfn: %q is not a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)", stateMachineARN)
	}
	parts[5] = "execution"
	return strings.Join(parts, ":") + ":", nil
}

// ExecutionARN is the ARN of runID's execution.
func (o *Orchestrator) ExecutionARN(runID string) string { return o.executionPrefix + runID }

// task is the execution input: runner.Task's fields (the runner package is
// not linked here; the tests hold the two to the same JSON).
type task struct {
	AccountID string `json:"accountId"`
	RunID     string `json:"runId"`
}

// Start starts runID's execution on its machine: one StartExecution named
// runID. On Standard, a run whose execution exists already (running or
// ended) starts nothing, and that is no error. On Express, Step Functions
// does not keep names unique: a start repeated (a retry after a lost
// answer, the start check) may start a second execution, which the runner's
// conditional writes make harmless.
func (o *Orchestrator) Start(ctx context.Context, accountID, runID string, machine orchestrator.Machine) error {
	if machine == orchestrator.Express {
		return o.startExpress(ctx, accountID, runID, runID)
	}
	return o.start(ctx, o.stateMachineARN, accountID, runID, runID)
}

// Express reports whether runs can start on the Express machine
// (WithExpress).
func (o *Orchestrator) Express() bool { return o.expressARN != "" }

// Restart starts another Express execution of runID, for the start check:
// named runID and a suffix of when, as Step Functions names must be unique
// on Standard and moto holds Express to that too.
func (o *Orchestrator) Restart(ctx context.Context, accountID, runID string, when time.Time) error {
	return o.startExpress(ctx, accountID, runID, fmt.Sprintf("%s-r%d", runID, when.Unix()))
}

func (o *Orchestrator) startExpress(ctx context.Context, accountID, runID, name string) error {
	if o.expressARN == "" {
		return errors.New("sfn: " + EnvExpressStateMachineARN + " is not set: a run for the Express machine cannot start")
	}
	return o.start(ctx, o.expressARN, accountID, runID, name)
}

// StartDelivery starts runID's delivery execution (named
// orchestrator.DeliveryExecution(runID)) with the run's own input: its
// Advances find the run ended and deliver its events. One that exists
// already starts nothing.
func (o *Orchestrator) StartDelivery(ctx context.Context, accountID, runID string) error {
	return o.start(ctx, o.stateMachineARN, accountID, runID, orchestrator.DeliveryExecution(runID))
}

func (o *Orchestrator) start(ctx context.Context, machineARN, accountID, runID, name string) error {
	if accountID == "" || runID == "" {
		return errors.New("sfn: a run to start needs its account and run id")
	}
	if o.badARN != nil {
		return o.badARN
	}
	input, err := json.Marshal(task{AccountID: accountID, RunID: runID})
	if err != nil {
		return fmt.Errorf("sfn: encode the execution input: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.budget.Call)
	defer cancel()
	_, err = o.client.StartExecution(ctx, &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(machineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	}, o.withBudget)
	if err != nil {
		if _, exists := errors.AsType[*types.ExecutionAlreadyExists](err); exists {
			return nil // started before: by this run's first start, a retry, or the start check
		}
		return fmt.Errorf("sfn: StartExecution %s: %w", name, err)
	}
	return nil
}

// Stop stops runID's execution: one StopExecution. An execution that does
// not exist is not an error; one that has ended already stays as it ended.
func (o *Orchestrator) Stop(ctx context.Context, runID string) error {
	if runID == "" {
		return errors.New("sfn: a run to stop needs its run id")
	}
	if o.badARN != nil {
		return o.badARN
	}
	ctx, cancel := context.WithTimeout(ctx, o.budget.Call)
	defer cancel()
	_, err := o.client.StopExecution(ctx, &awssfn.StopExecutionInput{
		ExecutionArn: aws.String(o.ExecutionARN(runID)),
		// Shown in the execution's history; nothing of the user's.
		Error: aws.String("RunCancelled"),
		Cause: aws.String("The run was cancelled through the API."),
	}, o.withBudget)
	if err != nil {
		if _, missing := errors.AsType[*types.ExecutionDoesNotExist](err); missing {
			return nil
		}
		return fmt.Errorf("sfn: StopExecution %s: %w", runID, err)
	}
	return nil
}

// CompleteTask completes the task token of a run's WaitForEvent state (its
// child ended): one SendTaskSuccess whose output is the run's task, which
// the state passes on to the next Advance. A token no longer waited on
// (completed already, its execution stopped or timed out) is not an error:
// the execution has gone on without it.
func (o *Orchestrator) CompleteTask(ctx context.Context, token, accountID, runID string) error {
	if token == "" || accountID == "" || runID == "" {
		return errors.New("sfn: a task to complete needs its token, account and run id")
	}
	output, err := json.Marshal(task{AccountID: accountID, RunID: runID})
	if err != nil {
		return fmt.Errorf("sfn: encode the task output: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.budget.Call)
	defer cancel()
	_, err = o.client.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{
		TaskToken: aws.String(token),
		Output:    aws.String(string(output)),
	}, o.withBudget)
	if err != nil {
		_, invalid := errors.AsType[*types.InvalidToken](err)
		_, gone := errors.AsType[*types.TaskDoesNotExist](err)
		_, timedOut := errors.AsType[*types.TaskTimedOut](err)
		if invalid || gone || timedOut {
			return nil
		}
		// The token is a credential of the execution: never in an error.
		return fmt.Errorf("sfn: SendTaskSuccess for run %s: %w", runID, err)
	}
	return nil
}

// Describe tells where runID's execution is: one DescribeExecution.
// ExecutionNotFound (with a nil error) when there is none.
func (o *Orchestrator) Describe(ctx context.Context, runID string) (ExecutionState, error) {
	if runID == "" {
		return "", errors.New("sfn: a run to describe needs its run id")
	}
	if o.badARN != nil {
		return "", o.badARN
	}
	ctx, cancel := context.WithTimeout(ctx, o.budget.Call)
	defer cancel()
	out, err := o.client.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{
		ExecutionArn: aws.String(o.ExecutionARN(runID)),
	}, o.withBudget)
	if err != nil {
		if _, missing := errors.AsType[*types.ExecutionDoesNotExist](err); missing {
			return ExecutionNotFound, nil
		}
		return "", fmt.Errorf("sfn: DescribeExecution %s: %w", runID, err)
	}
	return stateOf(out.Status)
}

func stateOf(status types.ExecutionStatus) (ExecutionState, error) {
	switch status {
	case types.ExecutionStatusRunning, types.ExecutionStatusPendingRedrive:
		return ExecutionRunning, nil
	case types.ExecutionStatusSucceeded:
		return ExecutionSucceeded, nil
	case types.ExecutionStatusFailed:
		return ExecutionFailed, nil
	case types.ExecutionStatusTimedOut:
		return ExecutionTimedOut, nil
	case types.ExecutionStatusAborted:
		return ExecutionAborted, nil
	}
	// A status newer than this code: better the start check leaves the run
	// alone (and logs this) than guess.
	return "", fmt.Errorf("sfn: unknown execution status %q", status)
}

// withBudget sets the Orchestrator's own budget on every call, whatever
// retry settings the client was built with.
func (o *Orchestrator) withBudget(opts *awssfn.Options) {
	opts.Retryer = o.budget.Retryer()
	opts.RetryMaxAttempts = o.budget.MaxAttempts
	opts.APIOptions = append(opts.APIOptions, o.budget.Deadlines)
}
