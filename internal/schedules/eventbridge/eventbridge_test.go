package eventbridge_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/schedules/eventbridge"
)

func TestMain(m *testing.M) { os.Exit(awstest.Run(m)) }

const (
	targetARN = "arn:aws:lambda:us-east-1:123456789012:function:scheduled-run"
	roleARN   = "arn:aws:iam::123456789012:role/workflows-scheduler"
	dlqARN    = "arn:aws:sqs:us-east-1:123456789012:workflows-schedule-dlq"
)

func mustEventBridge(t *testing.T) (*eventbridge.EventBridge, *scheduler.Client, string, *awstest.Calls) {
	t.Helper()
	group := awstest.MustScheduleGroup(t)
	calls := &awstest.Calls{}
	e := eventbridge.NewEventBridge(awstest.MustSchedulerClient(t, calls.Scheduler), eventbridge.EventBridgeConfig{GroupName: group, TargetARN: targetARN, RoleARN: roleARN, DeadLetterARN: dlqARN})
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
	// A weekday 9:00 cron fires at least a day apart: a firing Scheduler
	// cannot deliver is retried for a day, then dead-lettered, never dropped.
	if got.Target.DeadLetterConfig == nil || aws.ToString(got.Target.DeadLetterConfig.Arn) != dlqARN {
		t.Errorf("dead-letter config %+v, want %s", got.Target.DeadLetterConfig, dlqARN)
	}
	if r := got.Target.RetryPolicy; r == nil || aws.ToInt32(r.MaximumEventAgeInSeconds) != 86400 || aws.ToInt32(r.MaximumRetryAttempts) != eventbridge.MaxRetryAttempts {
		t.Errorf("retry policy %+v, want a day's age and %d attempts", r, eventbridge.MaxRetryAttempts)
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
	// UpdateSchedule replaces the target whole: the retry policy follows the
	// new period and the dead-letter queue stays.
	if r := got.Target.RetryPolicy; r == nil || aws.ToInt32(r.MaximumEventAgeInSeconds) != 900 {
		t.Errorf("retry policy %+v after the change, want 900 s (the new rate)", r)
	}
	if got.Target.DeadLetterConfig == nil || aws.ToString(got.Target.DeadLetterConfig.Arn) != dlqARN {
		t.Errorf("dead-letter config %+v after the change", got.Target.DeadLetterConfig)
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
	env := map[string]string{eventbridge.EnvGroupName: "g", eventbridge.EnvTargetARN: targetARN}
	if _, err := eventbridge.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, false); err != nil {
		t.Fatalf("deleting needs the group only: %v", err)
	}
	_, err := eventbridge.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, true)
	if err == nil || !contains(err.Error(), eventbridge.EnvRoleARN) || !contains(err.Error(), eventbridge.EnvDeadLetterARN) || contains(err.Error(), eventbridge.EnvGroupName) {
		t.Fatalf("error %v, want one naming %s and %s only", err, eventbridge.EnvRoleARN, eventbridge.EnvDeadLetterARN)
	}
	env[eventbridge.EnvRoleARN] = roleARN
	if _, err := eventbridge.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, true); err == nil || !contains(err.Error(), eventbridge.EnvDeadLetterARN) {
		t.Fatalf("putting without a dead-letter queue: %v, want an error naming %s", err, eventbridge.EnvDeadLetterARN)
	}
	env[eventbridge.EnvDeadLetterARN] = dlqARN
	c, err := eventbridge.EventBridgeConfigFromEnv(func(k string) string { return env[k] }, true)
	if err != nil || c != (eventbridge.EventBridgeConfig{GroupName: "g", TargetARN: targetARN, RoleARN: roleARN, DeadLetterARN: dlqARN}) {
		t.Fatalf("%+v, %v", c, err)
	}
}

// Put refuses to make a schedule without a dead-letter queue rather than
// make one whose undeliverable firings vanish.
func TestEventBridgePutRefusesWithoutADeadLetterQueue(t *testing.T) {
	group := awstest.MustScheduleGroup(t)
	calls := &awstest.Calls{}
	e := eventbridge.NewEventBridge(awstest.MustSchedulerClient(t, calls.Scheduler), eventbridge.EventBridgeConfig{GroupName: group, TargetARN: targetARN, RoleARN: roleARN})
	err := e.Put(context.Background(), schedules.Schedule{AccountID: "acct_a", WorkflowID: "wf_01m8faf8h74r4czqj1rqt4bf1e", Expression: "rate(1 hour)", Enabled: true})
	if err == nil || !contains(err.Error(), eventbridge.EnvDeadLetterARN) {
		t.Fatalf("Put without a queue: %v, want an error naming %s", err, eventbridge.EnvDeadLetterARN)
	}
	if got := calls.Snapshot(); len(got) != 0 {
		t.Errorf("Put without a queue called %v", got)
	}
}

// The retry policy's event age is about the schedule's period, within
// Scheduler's 60 s to 24 h.
func TestRetryPolicyFollowsTheSchedulesPeriod(t *testing.T) {
	// A Monday, 2026-03-02 10:00 UTC; Europe/Berlin changes to summer time on
	// 2026-03-29, inside the firings read for a weekly cron.
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expression, timezone string
		want                 int32
	}{
		{"rate(1 minute)", "", 60},
		{"rate(15 minutes)", "", 900},
		{"rate(6 hours)", "", 6 * 3600},
		{"rate(1 day)", "", 86400},
		{"rate(7 days)", "", 86400}, // Scheduler's ceiling
		{"cron(0/5 * ? * * *)", "UTC", 300},
		{"cron(0,10 9 ? * MON-FRI *)", "Europe/Berlin", 600},
		{"cron(0 9 ? * MON-FRI *)", "Europe/Berlin", 86400},
		{"cron(30 2 ? * SUN *)", "Europe/Berlin", 86400},
		{"cron(0 0 1 * ? *)", "UTC", 86400},
		{"cron(* * ? * * *)", "UTC", 60},
		{"cron(0 0 30 2 ? *)", "UTC", 86400}, // never fires: the longest age
	} {
		r, err := eventbridge.RetryPolicy(tc.expression, tc.timezone, now)
		if err != nil {
			t.Errorf("%s in %q: %v", tc.expression, tc.timezone, err)
			continue
		}
		if got := aws.ToInt32(r.MaximumEventAgeInSeconds); got != tc.want || aws.ToInt32(r.MaximumRetryAttempts) != eventbridge.MaxRetryAttempts {
			t.Errorf("%s in %q: age %d s, %d attempts; want %d s", tc.expression, tc.timezone, got, aws.ToInt32(r.MaximumRetryAttempts), tc.want)
		}
	}
	for _, bad := range [][2]string{{"rate(0 minutes)", ""}, {"rate(5 weeks)", ""}, {"cron(0 9 * * *)", "UTC"}, {"cron(0 9 ? * MON-FRI *)", ""}, {"at(2026-03-02T10:00:00)", ""}} {
		if _, err := eventbridge.RetryPolicy(bad[0], bad[1], now); err == nil {
			t.Errorf("%s in %q: no error", bad[0], bad[1])
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
