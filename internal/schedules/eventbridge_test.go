package schedules_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/schedules"
)

func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }

const (
	targetARN = "arn:aws:lambda:us-east-1:123456789012:function:scheduled-run"
	roleARN   = "arn:aws:iam::123456789012:role/workflows-scheduler"
)

func mustEventBridge(t *testing.T) (*schedules.EventBridge, *scheduler.Client, string, *awstest.Calls) {
	t.Helper()
	group := awstest.MustScheduleGroup(t)
	calls := &awstest.Calls{}
	e := schedules.NewEventBridge(awstest.MustSchedulerClient(t, calls.Scheduler), schedules.EventBridgeConfig{GroupName: group, TargetARN: targetARN, RoleARN: roleARN})
	return e, awstest.MustSchedulerClient(t), group, calls
}

func TestEventBridgePutCreatesTheWorkflowsScheduleWithItsTargetInputAndTimezone(t *testing.T) {
	e, admin, group, calls := mustEventBridge(t)
	ctx := context.Background()
	s := schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_01m8faf8h74r4czqj1rqt4bf1e", Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "Europe/Berlin", Enabled: true}
	if err := e.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := calls.Snapshot(); len(got) != 1 || got["CreateSchedule"] != 1 {
		t.Errorf("a new schedule cost %v, want one CreateSchedule", got)
	}
	got, err := admin.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.WorkflowID), GroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.ScheduleExpression) != s.Expression || aws.ToString(got.ScheduleExpressionTimezone) != "Europe/Berlin" {
		t.Errorf("expression %q in %q", aws.ToString(got.ScheduleExpression), aws.ToString(got.ScheduleExpressionTimezone))
	}
	if got.State != types.ScheduleStateEnabled || got.FlexibleTimeWindow == nil || got.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff {
		t.Errorf("state %q, window %+v", got.State, got.FlexibleTimeWindow)
	}
	if aws.ToString(got.Target.Arn) != targetARN || aws.ToString(got.Target.RoleArn) != roleARN {
		t.Errorf("target %q as %q", aws.ToString(got.Target.Arn), aws.ToString(got.Target.RoleArn))
	}
	// The placeholder must reach Scheduler as written (not \u003c…\u003e),
	// or it is never replaced by the scheduled time.
	wantInput := `{"accountId":"acct_a","workflowId":"wf_01m8faf8h74r4czqj1rqt4bf1e","scheduledTime":"<aws.scheduler.scheduled-time>"}`
	if aws.ToString(got.Target.Input) != wantInput {
		t.Errorf("input %s, want %s", aws.ToString(got.Target.Input), wantInput)
	}
	var firing schedules.Firing
	if err := json.Unmarshal([]byte(aws.ToString(got.Target.Input)), &firing); err != nil || firing.AccountID != "acct_a" || firing.WorkflowID != s.WorkflowID {
		t.Errorf("input reads back as %+v, %v", firing, err)
	}
}

func TestEventBridgePutReplacesAnExistingScheduleAndDisablesIt(t *testing.T) {
	e, admin, group, calls := mustEventBridge(t)
	ctx := context.Background()
	s := schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_01m8faf8h74r4czqj1rqt4bf1e", Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "UTC", Enabled: true}
	if err := e.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Expression, s.Timezone, s.Enabled = "rate(15 minutes)", "", false
	calls.Reset()
	if err := e.Put(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := calls.Snapshot(); got["CreateSchedule"] != 1 || got["UpdateSchedule"] != 1 || len(got) != 2 {
		t.Errorf("a replacement cost %v, want a refused CreateSchedule and an UpdateSchedule", got)
	}
	got, err := admin.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.WorkflowID), GroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.ScheduleExpression) != "rate(15 minutes)" || got.State != types.ScheduleStateDisabled {
		t.Errorf("after the change: %q, %q", aws.ToString(got.ScheduleExpression), got.State)
	}
	names, err := e.List(ctx)
	if err != nil || !slices.Equal(names, []string{s.WorkflowID}) {
		t.Errorf("List = %v, %v; one schedule, not two", names, err)
	}
}

func TestEventBridgeDeleteDeletesAndAnAbsentScheduleIsNoError(t *testing.T) {
	e, _, _, _ := mustEventBridge(t)
	ctx := context.Background()
	for _, id := range []string{"wf_01m8faf8h74r4czqj1rqt4bf1e", "wf_01m8faf8h74r4czqj1rqt4bf1f"} {
		if err := e.Put(ctx, schedules.Schedule{AccountID: "acct_a", WorkflowID: id, Expression: "rate(1 hour)", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Delete(ctx, "wf_01m8faf8h74r4czqj1rqt4bf1e"); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(ctx, "wf_01m8faf8h74r4czqj1rqt4bf1e"); err != nil {
		t.Fatalf("deleting an absent schedule: %v", err)
	}
	names, err := e.List(ctx)
	if err != nil || !slices.Equal(names, []string{"wf_01m8faf8h74r4czqj1rqt4bf1f"}) {
		t.Errorf("List = %v, %v", names, err)
	}
}

func TestEventBridgeConfigFromEnvNamesWhatIsMissing(t *testing.T) {
	env := map[string]string{schedules.EnvGroupName: "g", schedules.EnvTargetARN: targetARN}
	if _, err := schedules.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, false); err != nil {
		t.Fatalf("deleting needs the group only: %v", err)
	}
	_, err := schedules.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, true)
	if err == nil || !contains(err.Error(), schedules.EnvRoleARN) || contains(err.Error(), schedules.EnvGroupName) {
		t.Fatalf("error %v, want one naming %s only", err, schedules.EnvRoleARN)
	}
	env[schedules.EnvRoleARN] = roleARN
	c, err := schedules.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, true)
	if err != nil || c != (schedules.EventBridgeConfig{GroupName: "g", TargetARN: targetARN, RoleARN: roleARN}) {
		t.Fatalf("%+v, %v", c, err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
