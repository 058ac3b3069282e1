package sfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
)

func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }

// The adapter is what the runs routes are given.
var _ runs.Orchestrator = (*sfn.Orchestrator)(nil)

// testRunnerARN is the runner function the test state machines name; moto
// invokes nothing, so it only has to look like one.
const testRunnerARN = "arn:aws:lambda:us-east-1:123456789012:function:workflows-test-runner"

var machineCount atomic.Int64

// mustStateMachine creates a Standard state machine from Definition in moto,
// with a name of the test's own, and returns its ARN.
func mustStateMachine(t *testing.T) string {
	t.Helper()
	return mustMachine(t, types.StateMachineTypeStandard, sfn.Definition(testRunnerARN))
}

// mustExpressMachine creates an Express state machine from
// ExpressDefinition in moto and returns its ARN.
func mustExpressMachine(t *testing.T) string {
	t.Helper()
	return mustMachine(t, types.StateMachineTypeExpress, sfn.ExpressDefinition(testRunnerARN))
}

func mustMachine(t *testing.T, typ types.StateMachineType, definition string) string {
	t.Helper()
	client := awstest.MustSFNClient(t)
	name := fmt.Sprintf("runs-%d-%d", os.Getpid(), machineCount.Add(1))
	out, err := client.CreateStateMachine(context.Background(), &awssfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(definition),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/workflows-test-state-machine"),
		Type:       typ,
	})
	if err != nil {
		t.Fatalf("create the state machine in moto: %v", err)
	}
	arn := aws.ToString(out.StateMachineArn)
	t.Cleanup(func() {
		_, _ = client.DeleteStateMachine(context.Background(), &awssfn.DeleteStateMachineInput{StateMachineArn: aws.String(arn)})
	})
	// The definition moto keeps is the one given, byte for byte.
	described, err := client.DescribeStateMachine(context.Background(), &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe the state machine: %v", err)
	}
	if got := aws.ToString(described.Definition); got != definition {
		t.Fatalf("moto holds another definition:\n%s", got)
	}
	if described.Type != typ {
		t.Fatalf("moto made a %s state machine, want %s", described.Type, typ)
	}
	return arn
}

// executions lists the state machine's executions as moto has them.
func executions(t *testing.T, stateMachineARN string) []types.ExecutionListItem {
	t.Helper()
	out, err := awstest.MustSFNClient(t).ListExecutions(context.Background(), &awssfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN)})
	if err != nil {
		t.Fatalf("list executions: %v", err)
	}
	return out.Executions
}

func newRunID() string { return ids.New(ids.PrefixRun, time.Now()) }

func TestStartStartsOneExecutionNamedAfterTheRunWithTheTaskAsInput(t *testing.T) {
	arn := mustStateMachine(t)
	var calls awstest.Calls
	o := sfn.New(awstest.MustSFNClient(t, calls.SFN), arn)
	ctx := context.Background()
	runID := newRunID()

	for range 3 {
		if err := o.Start(ctx, "acct_1", runID, orchestrator.Standard); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if got := calls.Snapshot(); !maps.Equal(got, map[string]int{"StartExecution": 3}) {
		t.Errorf("calls %v, want one StartExecution per Start", got)
	}
	list := executions(t, arn)
	if len(list) != 1 {
		t.Fatalf("%d executions after three starts of one run, want 1", len(list))
	}
	if name := aws.ToString(list[0].Name); name != runID {
		t.Errorf("execution named %q, want the run id %q", name, runID)
	}
	if got, want := aws.ToString(list[0].ExecutionArn), o.ExecutionARN(runID); got != want {
		t.Errorf("execution ARN %s, but Stop and Describe would use %s", got, want)
	}

	described, err := awstest.MustSFNClient(t).DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: list[0].ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	// The input is runner.Task, exactly: the runner decodes it.
	var task runner.Task
	if err := json.Unmarshal([]byte(aws.ToString(described.Input)), &task); err != nil {
		t.Fatalf("the input %s is no runner.Task: %v", aws.ToString(described.Input), err)
	}
	if task != (runner.Task{AccountID: "acct_1", RunID: runID}) {
		t.Errorf("input %+v, want the account and the run", task)
	}
	want, _ := json.Marshal(runner.Task{AccountID: "acct_1", RunID: runID})
	if got := aws.ToString(described.Input); got != string(want) {
		t.Errorf("input %s, want runner.Task's JSON %s", got, want)
	}

	state, err := o.Describe(ctx, runID)
	if err != nil || state != sfn.ExecutionRunning {
		t.Errorf("Describe = %q, %v; want running", state, err)
	}
}

// An execution that has ended refuses its name for good (Step Functions
// answers ExecutionAlreadyExists): a second start of a run that ran is not
// an error and starts nothing.
func TestStartOfARunWhoseExecutionEndedStartsNothing(t *testing.T) {
	arn := mustStateMachine(t)
	o := sfn.New(awstest.MustSFNClient(t), arn)
	ctx := context.Background()
	runID := newRunID()
	if err := o.Start(ctx, "acct_1", runID, orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	if err := o.Stop(ctx, runID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := o.Start(ctx, "acct_1", runID, orchestrator.Standard); err != nil {
		t.Errorf("a start after the execution ended: %v, want nil", err)
	}
	list := executions(t, arn)
	if len(list) != 1 || list[0].Status != types.ExecutionStatusAborted {
		t.Errorf("executions %+v, want the one stopped execution", list)
	}
}

func TestStopStopsTheRunsExecutionAndDescribeSaysSo(t *testing.T) {
	arn := mustStateMachine(t)
	var calls awstest.Calls
	o := sfn.New(awstest.MustSFNClient(t, calls.SFN), arn)
	ctx := context.Background()
	stopped, running := newRunID(), newRunID()
	for _, id := range []string{stopped, running} {
		if err := o.Start(ctx, "acct_1", id, orchestrator.Standard); err != nil {
			t.Fatal(err)
		}
	}
	calls.Reset()
	if err := o.Stop(ctx, stopped); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Stopping again is no error (a cancel repeated).
	if err := o.Stop(ctx, stopped); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
	if got := calls.Snapshot(); !maps.Equal(got, map[string]int{"StopExecution": 2}) {
		t.Errorf("calls %v, want one StopExecution per Stop and no lookup", got)
	}
	for id, want := range map[string]sfn.ExecutionState{stopped: sfn.ExecutionAborted, running: sfn.ExecutionRunning} {
		state, err := o.Describe(ctx, id)
		if err != nil || state != want {
			t.Errorf("Describe(%s) = %q, %v; want %q", id, state, err, want)
		}
	}
	if !sfn.ExecutionAborted.Ended() || sfn.ExecutionRunning.Ended() || sfn.ExecutionNotFound.Ended() {
		t.Error("Ended: aborted has ended; running and not found have not")
	}
}

func TestARunWithoutExecutionIsNotFoundAndStoppingItIsNoError(t *testing.T) {
	arn := mustStateMachine(t)
	var calls awstest.Calls
	o := sfn.New(awstest.MustSFNClient(t, calls.SFN), arn)
	ctx := context.Background()
	runID := newRunID()
	state, err := o.Describe(ctx, runID)
	if err != nil || state != sfn.ExecutionNotFound {
		t.Errorf("Describe of a run never started = %q, %v; want not found, nil", state, err)
	}
	if err := o.Stop(ctx, runID); err != nil {
		t.Errorf("Stop of a run never started: %v, want nil", err)
	}
	if got := calls.Snapshot(); !maps.Equal(got, map[string]int{"DescribeExecution": 1, "StopExecution": 1}) {
		t.Errorf("calls %v", got)
	}
	if len(executions(t, arn)) != 0 {
		t.Error("Stop or Describe started an execution")
	}
}

// A start that fails is reported, so the caller retries it (or the start
// check does): here the state machine does not exist.
func TestStartOnAMissingStateMachineFails(t *testing.T) {
	missing := "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine"
	o := sfn.New(awstest.MustSFNClient(t), missing, sfn.WithBudget(sfn.Budget{MaxAttempts: 1}))
	err := o.Start(context.Background(), "acct_1", newRunID(), orchestrator.Standard)
	if err == nil {
		t.Fatal("Start on a missing state machine succeeded")
	}
	if _, ok := errors.AsType[*types.StateMachineDoesNotExist](err); !ok {
		t.Errorf("error %v, want the SDK's StateMachineDoesNotExist wrapped", err)
	}
}

func TestAnotherARNThanAStateMachinesFailsEveryCallWithoutACall(t *testing.T) {
	var calls awstest.Calls
	client := awstest.MustSFNClient(t, calls.SFN)
	for _, arn := range []string{
		"",
		"workflows-runs",
		"arn:aws:lambda:us-east-1:123456789012:function:runner",
		"arn:aws:states:us-east-1:123456789012:execution:runs:run_1",
		"arn:aws:states:us-east-1:123456789012:stateMachine:",
	} {
		o := sfn.New(client, arn)
		ctx := context.Background()
		if err := o.Start(ctx, "acct_1", "run_1", orchestrator.Standard); err == nil {
			t.Errorf("Start with %q succeeded", arn)
		}
		if err := o.Stop(ctx, "run_1"); err == nil {
			t.Errorf("Stop with %q succeeded", arn)
		}
		if _, err := o.Describe(ctx, "run_1"); err == nil {
			t.Errorf("Describe with %q succeeded", arn)
		}
	}
	if got := calls.Snapshot(); len(got) != 0 {
		t.Errorf("calls %v, want none", got)
	}
}

func TestExecutionARNIsTheStateMachinesWithTheRunsName(t *testing.T) {
	o := sfn.New(nil, "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:workflows-prod-runs")
	if got, want := o.ExecutionARN("run_01abc"), "arn:aws-cn:states:cn-north-1:123456789012:execution:workflows-prod-runs:run_01abc"; got != want {
		t.Errorf("ExecutionARN = %s, want %s", got, want)
	}
}

func TestFromEnv(t *testing.T) {
	arn := mustStateMachine(t)
	t.Setenv(sfn.EnvEndpoint, awstest.Endpoint(t))

	t.Setenv(sfn.EnvStateMachineARN, "")
	if _, err := sfn.FromEnv(context.Background()); err == nil || !strings.Contains(err.Error(), sfn.EnvStateMachineARN) {
		t.Errorf("FromEnv without %s: %v, want an error naming it", sfn.EnvStateMachineARN, err)
	}
	t.Setenv(sfn.EnvStateMachineARN, "arn:aws:lambda:us-east-1:123456789012:function:runner")
	if _, err := sfn.FromEnv(context.Background()); err == nil {
		t.Error("FromEnv took a function ARN for the state machine")
	}

	t.Setenv(sfn.EnvStateMachineARN, arn)
	o, err := sfn.FromEnv(context.Background())
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	runID := newRunID()
	if err := o.Start(context.Background(), "acct_1", runID, orchestrator.Standard); err != nil {
		t.Fatalf("Start through FromEnv's client: %v", err)
	}
	if list := executions(t, arn); len(list) != 1 || aws.ToString(list[0].Name) != runID {
		t.Errorf("executions %+v, want the run's", list)
	}
}

// A run's delivery execution is a second execution of the same state
// machine, named <run>-notify, with the run's own task as input: it starts
// beside the run's stopped one, once however often it is asked for, and
// Describe finds it by that name (the start check's question).
func TestStartDeliveryStartsOneExecutionBesideTheRunsOwn(t *testing.T) {
	arn := mustStateMachine(t)
	o := sfn.New(awstest.MustSFNClient(t), arn)
	ctx := context.Background()
	runID := newRunID()
	if err := o.Start(ctx, "acct_1", runID, orchestrator.Standard); err != nil {
		t.Fatal(err)
	}
	if err := o.Stop(ctx, runID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := o.StartDelivery(ctx, "acct_1", runID); err != nil {
			t.Fatalf("StartDelivery: %v", err)
		}
	}
	byName := map[string]types.ExecutionStatus{}
	for _, e := range executions(t, arn) {
		byName[aws.ToString(e.Name)] = e.Status
	}
	delivery := orchestrator.DeliveryExecution(runID)
	if want := map[string]types.ExecutionStatus{runID: types.ExecutionStatusAborted, delivery: types.ExecutionStatusRunning}; !maps.Equal(byName, want) {
		t.Fatalf("executions %v, want the run's stopped and one delivery running", byName)
	}
	described, err := awstest.MustSFNClient(t).DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(o.ExecutionARN(delivery))})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(runner.Task{AccountID: "acct_1", RunID: runID})
	if got := aws.ToString(described.Input); got != string(want) {
		t.Errorf("the delivery's input %s, want the run's task %s", got, want)
	}
	if state, err := o.Describe(ctx, delivery); err != nil || state != sfn.ExecutionRunning {
		t.Errorf("Describe(%s) = %q, %v; want running", delivery, state, err)
	}
}

// TestAnExpressRunStartsOnTheExpressMachine: a run created for Express
// starts there (and not on Standard), with the task as input; the start
// check's Restart starts another execution of it, named apart; without the
// Express machine such a start fails, saying so.
func TestAnExpressRunStartsOnTheExpressMachine(t *testing.T) {
	ctx := context.Background()
	standard, express := mustStateMachine(t), mustExpressMachine(t)
	o := sfn.New(awstest.MustSFNClient(t), standard, sfn.WithExpress(express))
	if !o.Express() {
		t.Fatal("Express() is false with WithExpress")
	}
	runID := newRunID()
	if err := o.Start(ctx, "acct_1", runID, orchestrator.Express); err != nil {
		t.Fatal(err)
	}
	if got := executions(t, standard); len(got) != 0 {
		t.Errorf("the Standard machine has %d executions, want none", len(got))
	}
	got := executions(t, express)
	if len(got) != 1 || aws.ToString(got[0].Name) != runID {
		t.Fatalf("Express executions %+v, want one named %s", got, runID)
	}
	described, err := awstest.MustSFNClient(t).DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: got[0].ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var task runner.Task
	if err := json.Unmarshal([]byte(aws.ToString(described.Input)), &task); err != nil || task.AccountID != "acct_1" || task.RunID != runID {
		t.Errorf("input %s, want the run's task", aws.ToString(described.Input))
	}

	if err := o.Restart(ctx, "acct_1", runID, time.Unix(1_700_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range executions(t, express) {
		names[aws.ToString(e.Name)] = true
	}
	if len(names) != 2 || !names[runID] || !names[runID+"-r1700000000"] {
		t.Errorf("Express executions %v, want the first and the restart", names)
	}

	without := sfn.New(awstest.MustSFNClient(t), standard)
	if without.Express() {
		t.Error("Express() is true without WithExpress")
	}
	if err := without.Start(ctx, "acct_1", newRunID(), orchestrator.Express); err == nil || !strings.Contains(err.Error(), sfn.EnvExpressStateMachineARN) {
		t.Errorf("a start on an Express machine not configured: %v, want an error naming %s", err, sfn.EnvExpressStateMachineARN)
	}
}

// TestFromEnvReadsTheExpressMachine: EXPRESS_STATE_MACHINE_ARN is optional,
// and refused when it is no state machine ARN.
func TestFromEnvReadsTheExpressMachine(t *testing.T) {
	standard, express := mustStateMachine(t), mustExpressMachine(t)
	t.Setenv(sfn.EnvStateMachineARN, standard)
	t.Setenv(sfn.EnvEndpoint, awstest.Endpoint(t))
	t.Setenv(sfn.EnvExpressStateMachineARN, "")
	o, err := sfn.FromEnv(context.Background())
	if err != nil || o.Express() {
		t.Fatalf("without the variable: %v, express %v", err, o != nil && o.Express())
	}
	t.Setenv(sfn.EnvExpressStateMachineARN, express)
	if o, err = sfn.FromEnv(context.Background()); err != nil || !o.Express() {
		t.Fatalf("with the variable: %v", err)
	}
	t.Setenv(sfn.EnvExpressStateMachineARN, "arn:aws:lambda:us-east-1:123456789012:function:nope")
	if _, err := sfn.FromEnv(context.Background()); err == nil || !strings.Contains(err.Error(), sfn.EnvExpressStateMachineARN) {
		t.Errorf("a bad Express ARN: %v", err)
	}
}
