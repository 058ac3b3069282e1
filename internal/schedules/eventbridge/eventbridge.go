// Package eventbridge is the schedules.Scheduler in AWS: one EventBridge
// Scheduler schedule per schedule workflow, in the stack's schedule group,
// invoking the scheduled-run function. It holds the client adapter
// (EventBridge, NewEventBridgeFromEnv), its configuration and environment
// (EventBridgeConfig, Env*), its budget, and the target's input and retry
// policy (TargetInput, RetryPolicy, which read cron expressions with
// robfig/cron).
//
// It is apart from internal/schedules because it links the Scheduler client
// (github.com/aws/aws-sdk-go-v2/service/scheduler): the workflow feature
// takes a schedules.Scheduler and imports only internal/schedules, so a
// function that links the workflows package without keeping schedules (a
// read route, the runs routes) links no Scheduler client. Only the mains of
// the functions granted Scheduler actions (routes.Function.ServiceActions),
// wfctl, infra (for the Env* names) and tests import this package;
// functions/links_test.go holds every other function to it. It stays inside
// the schedules feature (routes.FeatureSchedules).
package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/robfig/cron/v3"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/awsconfig"
	"github.com/workflowsapi/workflows/internal/schedules"
)

// The environment of the functions that keep schedules (fixed names; the
// stack sets them).
const (
	EnvGroupName = "SCHEDULE_GROUP_NAME"
	EnvRoleARN   = "SCHEDULER_ROLE_ARN"
	EnvTargetARN = "SCHEDULED_RUN_FUNCTION_ARN"
	// EnvDeadLetterARN is the SQS queue a firing goes to when Scheduler
	// could not deliver it to the target within its retry policy.
	EnvDeadLetterARN = "SCHEDULE_DLQ_ARN"
	// EnvEndpoint points the client elsewhere than AWS (moto in tests).
	EnvEndpoint = "SCHEDULER_ENDPOINT"
)

// scheduledTimePlaceholder is EventBridge Scheduler's context attribute for
// when a firing was due; Scheduler writes the time in its place in the
// target's input.
const scheduledTimePlaceholder = "<aws.scheduler.scheduled-time>"

// EventBridgeConfig says where schedules live and what they invoke.
type EventBridgeConfig struct {
	// GroupName is the schedule group the stack made for the API's
	// schedules: one schedule per workflow, named after the workflow id.
	GroupName string
	// TargetARN is the scheduled-run function's ARN.
	TargetARN string
	// RoleARN is the role Scheduler assumes to invoke the target (and to
	// send to DeadLetterARN).
	RoleARN string
	// DeadLetterARN is the queue of the firings Scheduler gave up on, so
	// that none is lost without a trace (the stack alarms on it).
	DeadLetterARN string
}

// EventBridgeConfigFromEnv reads the config from the fixed variables. The
// group is always required; the target, role and dead-letter queue only
// where schedules are put (puts true): deleting one needs none of them, and
// delete-workflow is not given them. A schedule is never put without its
// dead-letter queue: a firing Scheduler cannot deliver would be dropped.
func EventBridgeConfigFromEnv(getenv func(string) string, puts bool) (EventBridgeConfig, error) {
	c := EventBridgeConfig{GroupName: getenv(EnvGroupName), TargetARN: getenv(EnvTargetARN), RoleARN: getenv(EnvRoleARN),
		DeadLetterARN: getenv(EnvDeadLetterARN)}
	required := map[string]string{EnvGroupName: c.GroupName}
	if puts {
		required[EnvTargetARN], required[EnvRoleARN], required[EnvDeadLetterARN] = c.TargetARN, c.RoleARN, c.DeadLetterARN
	}
	var missing []string
	for name, v := range required {
		if v == "" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return c, fmt.Errorf("schedules: %v must be set", missing)
	}
	return c, nil
}

// EventBridge is the schedules.Scheduler on EventBridge Scheduler.
type EventBridge struct {
	client *scheduler.Client
	config EventBridgeConfig
	budget Budget
}

// Budget bounds the time and the attempts of every Scheduler call.
type Budget = awsbudget.Budget

// DefaultBudget is KMS's and Step Functions' (kmssealer.DefaultBudget,
// sfn.DefaultBudget), for the same reasons: Scheduler answers its schedule
// calls in tens of milliseconds, and the workflow route functions (10 s)
// make one or two of them (a refused CreateSchedule, then UpdateSchedule)
// after their limiter call and DynamoDB writes. Without it a call had the
// SDK's default retryer (back-offs of up to 20 s) and no deadline at all, so
// a Scheduler that hung held the route until the Lambda's timeout. A
// schedule write that fails is not lost: the workflow write wins (its
// ScheduleError is logged) and Sync makes the schedule right later.
var DefaultBudget = Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

// EventBridgeOption changes an EventBridge Scheduler.
type EventBridgeOption func(*EventBridge)

// WithBudget replaces DefaultBudget; zero fields keep its values. Tests use
// it to see a hung Scheduler fail in milliseconds.
func WithBudget(b Budget) EventBridgeOption {
	return func(e *EventBridge) { e.budget = b.Or(DefaultBudget) }
}

// NewEventBridge returns the schedules.Scheduler on client. It sets its own Budget on
// every call, whatever retry settings client was built with.
func NewEventBridge(client *scheduler.Client, config EventBridgeConfig, opts ...EventBridgeOption) *EventBridge {
	e := &EventBridge{client: client, config: config, budget: DefaultBudget}
	for _, o := range opts {
		o(e)
	}
	return e
}

// withBudget is a per-call option that puts the EventBridge's budget on one
// Scheduler call (one page of a list), as kmssealer and sfn do: the bounded
// retryer (RetryMaxAttempts set with it, as awsbudget.Budget.Retryer asks)
// and the call and attempt deadlines, whatever the client was built with
// (AWS_MAX_ATTEMPTS included).
func (e *EventBridge) withBudget(o *scheduler.Options) {
	o.Retryer = e.budget.Retryer()
	o.RetryMaxAttempts = e.budget.MaxAttempts
	o.APIOptions = append(o.APIOptions, e.budget.Deadlines)
}

// NewEventBridgeFromEnv builds the client from the Lambda's environment
// (SCHEDULER_ENDPOINT overriding the endpoint) and the config from the
// fixed variables (puts as for EventBridgeConfigFromEnv), with
// DefaultBudget unless opts say otherwise.
func NewEventBridgeFromEnv(ctx context.Context, puts bool, opts ...EventBridgeOption) (*EventBridge, error) {
	cfg, err := EventBridgeConfigFromEnv(os.Getenv, puts)
	if err != nil {
		return nil, err
	}
	endpoint := os.Getenv(EnvEndpoint)
	awsConfig, err := awsconfig.Load(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("schedules: %w", err)
	}
	client := scheduler.NewFromConfig(awsConfig, func(o *scheduler.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return NewEventBridge(client, cfg, opts...), nil
}

// TargetInput is the input a schedule gives the scheduled-run function:
// a schedules.Firing with Scheduler's placeholder for the scheduled time. Written
// without HTML escaping, which would turn the placeholder's < and > into
// \u003c and \u003e, which Scheduler does not replace.
func TargetInput(account, workflowID string) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(schedules.Firing{AccountID: account, WorkflowID: workflowID, ScheduledTime: scheduledTimePlaceholder}); err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(buf.Bytes())), nil
}

// Put creates the workflow's schedule, or, if it exists, replaces it
// (UpdateSchedule replaces every field). A new workflow's costs one call.
func (e *EventBridge) Put(ctx context.Context, s schedules.Schedule) error {
	if e.config.TargetARN == "" || e.config.RoleARN == "" || e.config.DeadLetterARN == "" {
		return fmt.Errorf("schedules: %s, %s and %s must be set to put schedules", EnvTargetARN, EnvRoleARN, EnvDeadLetterARN)
	}
	input, err := TargetInput(s.AccountID, s.WorkflowID)
	if err != nil {
		return err
	}
	state := types.ScheduleStateEnabled
	if !s.Enabled {
		state = types.ScheduleStateDisabled
	}
	var timezone *string
	if s.Timezone != "" {
		timezone = aws.String(s.Timezone)
	}
	retry, err := RetryPolicy(s.Expression, s.Timezone, time.Now())
	if err != nil {
		return fmt.Errorf("schedules: the schedule of %s: %w", s.WorkflowID, err)
	}
	target := &types.Target{Arn: aws.String(e.config.TargetARN), RoleArn: aws.String(e.config.RoleARN), Input: aws.String(input),
		RetryPolicy: retry, DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String(e.config.DeadLetterARN)}}
	window := &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}
	description := aws.String("Runs workflow " + s.WorkflowID)
	_, err = e.client.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(s.WorkflowID), GroupName: aws.String(e.config.GroupName), Description: description,
		ScheduleExpression: aws.String(s.Expression), ScheduleExpressionTimezone: timezone,
		State: state, FlexibleTimeWindow: window, Target: target,
	}, e.withBudget)
	var exists *types.ConflictException
	if !errors.As(err, &exists) {
		if err != nil {
			return fmt.Errorf("schedules: create the schedule of %s: %w", s.WorkflowID, err)
		}
		return nil
	}
	_, err = e.client.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
		Name: aws.String(s.WorkflowID), GroupName: aws.String(e.config.GroupName), Description: description,
		ScheduleExpression: aws.String(s.Expression), ScheduleExpressionTimezone: timezone,
		State: state, FlexibleTimeWindow: window, Target: target,
	}, e.withBudget)
	if err != nil {
		return fmt.Errorf("schedules: update the schedule of %s: %w", s.WorkflowID, err)
	}
	return nil
}

// Scheduler's bounds on a target's retry policy.
const (
	minEventAgeSeconds = 60
	maxEventAgeSeconds = 86400
	// MaxRetryAttempts is Scheduler's most: the event age is what bounds
	// the retries of a firing (Scheduler backs off between them).
	MaxRetryAttempts = 185
)

// RetryPolicy is how long Scheduler keeps trying to deliver one firing to
// the target when the invocation itself fails (throttled, the function
// missing, the role refused): about the schedule's period, so a firing is
// retried until the next one is due and not past it (a late firing still
// starts its own run, the run id comes from its scheduled time), then sent
// to the dead-letter queue. The period of a rate is its interval; a cron's
// is the shortest gap between its next firings after now (a weekday 9:00
// cron: a day). Scheduler takes 60 s to 24 h, so the age is clamped there.
func RetryPolicy(expression, timezone string, now time.Time) (*types.RetryPolicy, error) {
	period, err := schedulePeriod(expression, timezone, now)
	if err != nil {
		return nil, err
	}
	age := min(max(int32(period/time.Second), minEventAgeSeconds), maxEventAgeSeconds)
	return &types.RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(age), MaximumRetryAttempts: aws.Int32(MaxRetryAttempts)}, nil
}

// cronFirings is how many of a cron's next firings its period is read from:
// enough to see a week of a daily or weekday schedule.
const cronFirings = 16

// schedulePeriod reads the expressions workflows.Trigger.SchedulerExpression
// writes: "rate(<n> minute[s]|hour[s]|day[s])" and "cron(<minute> <hour>
// <day-of-month> <month> <day-of-week> *)" in timezone. A cron that never
// fires has no period; it is given the longest age.
func schedulePeriod(expression, timezone string, now time.Time) (time.Duration, error) {
	if body, ok := strings.CutPrefix(expression, "rate("); ok && strings.HasSuffix(body, ")") {
		number, unit, _ := strings.Cut(strings.TrimSuffix(body, ")"), " ")
		n, err := strconv.Atoi(number)
		perUnit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour,
			"day": 24 * time.Hour, "days": 24 * time.Hour}[unit]
		if err != nil || n < 1 || perUnit == 0 {
			return 0, fmt.Errorf("%q is not a rate of minutes, hours or days", expression)
		}
		return time.Duration(n) * perUnit, nil
	}
	body, ok := strings.CutPrefix(expression, "cron(")
	fields := strings.Fields(strings.TrimSuffix(body, ")"))
	if !ok || !strings.HasSuffix(body, ")") || len(fields) != 6 {
		return 0, fmt.Errorf("%q is neither rate(...) nor a six-field cron(...)", expression)
	}
	location, err := time.LoadLocation(timezone)
	if err != nil || timezone == "" {
		return 0, fmt.Errorf("cron %q needs an IANA time zone, not %q", expression, timezone)
	}
	parsed, err := cronFields.Parse(strings.Join(fields[:5], " "))
	if err != nil {
		return 0, fmt.Errorf("cron %q: %w", expression, err)
	}
	spec := parsed.(*cron.SpecSchedule)
	spec.Location = location
	shortest := time.Duration(0)
	last := spec.Next(now)
	for range cronFirings {
		next := spec.Next(last)
		if last.IsZero() || next.IsZero() {
			break
		}
		if gap := next.Sub(last); shortest == 0 || gap < shortest {
			shortest = gap
		}
		last = next
	}
	if shortest == 0 {
		return maxEventAgeSeconds * time.Second, nil
	}
	return shortest, nil
}

// cronFields reads the first five of Scheduler's six cron fields; "?" is
// robfig/cron's "*" too. Day-of-week names (MON-FRI) read the same in both.
var cronFields = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Delete deletes the workflow's schedule; one already gone is not an error.
func (e *EventBridge) Delete(ctx context.Context, workflowID string) error {
	_, err := e.client.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(workflowID), GroupName: aws.String(e.config.GroupName)}, e.withBudget)
	var absent *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &absent) {
		return fmt.Errorf("schedules: delete the schedule of %s: %w", workflowID, err)
	}
	return nil
}

// List returns the name (the workflow id) of every schedule in the group.
func (e *EventBridge) List(ctx context.Context) ([]string, error) {
	var names []string
	pages := scheduler.NewListSchedulesPaginator(e.client, &scheduler.ListSchedulesInput{GroupName: aws.String(e.config.GroupName)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx, e.withBudget)
		if err != nil {
			return nil, fmt.Errorf("schedules: list the schedules: %w", err)
		}
		for _, s := range page.Schedules {
			names = append(names, aws.ToString(s.Name))
		}
	}
	return names, nil
}
