package eventbridge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
)

// attemptsMade is the count of connections once the accept loop has seen
// every one the client opened: a connection the kernel completed may wait a
// moment for Accept.
func attemptsMade(accepted *atomic.Int32, atLeast int32) int32 {
	for deadline := time.Now().Add(2 * time.Second); accepted.Load() < atLeast && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return accepted.Load()
}

// backstop is the longest a test waits for a call to a hung Scheduler:
// without a budget the SDK waits as long as the caller's context allows.
const backstop = 15 * time.Second

// eventBridgeCalls are the calls EventBridge makes, each of which must give
// up on a hung Scheduler within the budget.
var eventBridgeCalls = []struct {
	name string
	call func(context.Context, *eventbridge.EventBridge) error
}{
	{"Put", func(ctx context.Context, e *eventbridge.EventBridge) error {
		return e.Put(ctx, schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_01m8faf8h74r4czqj1rqt4bf1e", Expression: "rate(1 hour)", Enabled: true})
	}},
	{"Delete", func(ctx context.Context, e *eventbridge.EventBridge) error {
		return e.Delete(ctx, "wf_01m8faf8h74r4czqj1rqt4bf1e")
	}},
	{"List", func(ctx context.Context, e *eventbridge.EventBridge) error {
		_, err := e.List(ctx)
		return err
	}},
}

// A Scheduler that hangs costs a workflow route at most the budget's call
// time, as KMS, Step Functions and DynamoDB do (internal/awsbudget), never
// the Lambda's timeout; and the budget's attempts bound the retries whatever
// the client was built with.
func TestAHungSchedulerFailsWithinTheBudgetAfterRetrying(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		budget []eventbridge.EventBridgeOption
		// call is the longest the call may take; slack is added for a busy
		// machine.
		call time.Duration
		// minAttempts and maxAttempts bound the connections made.
		minAttempts, maxAttempts int32
	}{
		// The deployed budget: two 1 s attempts fill the 2 s call (a third
		// would start after it ended).
		{"the default budget", nil, eventbridge.DefaultBudget.Call, 2, int32(eventbridge.DefaultBudget.MaxAttempts)},
		// Short attempts inside a long call: exactly the budget's two
		// attempts, not the client's five nor the SDK's default three, and
		// all of them cut by the attempt deadline long before the call's.
		{"a budget of two short attempts", []eventbridge.EventBridgeOption{
			eventbridge.WithBudget(eventbridge.Budget{Call: 10 * time.Second, Attempt: 100 * time.Millisecond, MaxAttempts: 2}),
		}, time.Second, 2, 2},
	}
	for _, c := range cases {
		for _, op := range eventBridgeCalls {
			t.Run(c.name+" ends "+op.name, func(t *testing.T) {
				t.Parallel()
				endpoint, accepted := awstest.HungEndpoint(t)
				client := scheduler.New(scheduler.Options{
					Region:           "us-east-1",
					Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
					BaseEndpoint:     aws.String(endpoint),
					RetryMaxAttempts: 5,
				})
				e := eventbridge.NewEventBridge(client, eventbridge.EventBridgeConfig{GroupName: "g", TargetARN: targetARN, RoleARN: roleARN, DeadLetterARN: dlqARN}, c.budget...)
				ctx, cancel := context.WithTimeout(context.Background(), backstop)
				defer cancel()
				start := time.Now()
				err := op.call(ctx, e)
				elapsed := time.Since(start)
				if err == nil {
					t.Fatalf("%s against a hung Scheduler succeeded", op.name)
				}
				if elapsed > c.call+time.Second {
					t.Errorf("%s gave up after %v, its budget is %v: %v", op.name, elapsed, c.call, err)
				}
				if got := attemptsMade(accepted, c.minAttempts); got < c.minAttempts || got > c.maxAttempts {
					t.Errorf("%d attempts, want %d to %d", got, c.minAttempts, c.maxAttempts)
				}
			})
		}
	}
}

// The functions build their EventBridge with NewEventBridgeFromEnv: it
// carries the budget too, and AWS_MAX_ATTEMPTS in the environment does not
// lift the budget's attempts. It sets the process environment, so it does
// not run in parallel.
func TestNewEventBridgeFromEnvKeepsTheBudgetOverAWSMaxAttempts(t *testing.T) {
	endpoint, accepted := awstest.HungEndpoint(t)
	for name, value := range map[string]string{
		eventbridge.EnvEndpoint: endpoint, eventbridge.EnvGroupName: "g", "AWS_MAX_ATTEMPTS": "10",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SCHEDULER": "",
	} {
		t.Setenv(name, value)
	}
	for _, c := range []struct {
		name     string
		budget   []eventbridge.EventBridgeOption
		call     time.Duration
		attempts int32 // at most
	}{
		{"the default budget", nil, eventbridge.DefaultBudget.Call, int32(eventbridge.DefaultBudget.MaxAttempts)},
		{"a budget of two short attempts", []eventbridge.EventBridgeOption{
			eventbridge.WithBudget(eventbridge.Budget{Call: 10 * time.Second, Attempt: 100 * time.Millisecond, MaxAttempts: 2}),
		}, time.Second, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := eventbridge.NewEventBridgeFromEnv(context.Background(), false, c.budget...)
			if err != nil {
				t.Fatal(err)
			}
			before := accepted.Load()
			ctx, cancel := context.WithTimeout(context.Background(), backstop)
			defer cancel()
			start := time.Now()
			err = e.Delete(ctx, "wf_01m8faf8h74r4czqj1rqt4bf1e")
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Delete against a hung Scheduler succeeded")
			}
			if elapsed > c.call+time.Second {
				t.Errorf("Delete gave up after %v, its budget is %v: %v", elapsed, c.call, err)
			}
			if got := attemptsMade(accepted, before+1) - before; got < 1 || got > c.attempts {
				t.Errorf("%d attempts, want 1 to %d (AWS_MAX_ATTEMPTS is 10)", got, c.attempts)
			}
		})
	}
}
