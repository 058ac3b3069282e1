package schedules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/workflowsapi/workflows/internal/awsconfig"
	"os"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// The environment of the functions that keep schedules (fixed names; the
// stack sets them).
const (
	EnvGroupName = "SCHEDULE_GROUP_NAME"
	EnvRoleARN   = "SCHEDULER_ROLE_ARN"
	EnvTargetARN = "SCHEDULED_RUN_FUNCTION_ARN"
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
	// RoleARN is the role Scheduler assumes to invoke the target.
	RoleARN string
}

// EventBridgeConfigFromEnv reads the config from the fixed variables. The
// group is always required; the target and role only where schedules are
// put (puts true): deleting one needs neither, and delete-workflow is not
// given them.
func EventBridgeConfigFromEnv(getenv func(string) string, puts bool) (EventBridgeConfig, error) {
	c := EventBridgeConfig{GroupName: getenv(EnvGroupName), TargetARN: getenv(EnvTargetARN), RoleARN: getenv(EnvRoleARN)}
	required := map[string]string{EnvGroupName: c.GroupName}
	if puts {
		required[EnvTargetARN], required[EnvRoleARN] = c.TargetARN, c.RoleARN
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

// EventBridge is the Scheduler on EventBridge Scheduler.
type EventBridge struct {
	client *scheduler.Client
	config EventBridgeConfig
}

// NewEventBridge returns the Scheduler on client.
func NewEventBridge(client *scheduler.Client, config EventBridgeConfig) *EventBridge {
	return &EventBridge{client: client, config: config}
}

// NewEventBridgeFromEnv builds the client from the Lambda's environment
// (SCHEDULER_ENDPOINT overriding the endpoint) and the config from the
// fixed variables (puts as for EventBridgeConfigFromEnv).
func NewEventBridgeFromEnv(ctx context.Context, puts bool) (*EventBridge, error) {
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
	return NewEventBridge(client, cfg), nil
}

// TargetInput is the input a schedule gives the scheduled-run function:
// a Firing with Scheduler's placeholder for the scheduled time. Written
// without HTML escaping, which would turn the placeholder's < and > into
// \u003c and \u003e, which Scheduler does not replace.
func TargetInput(account, workflowID string) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Firing{AccountID: account, WorkflowID: workflowID, ScheduledTime: scheduledTimePlaceholder}); err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(buf.Bytes())), nil
}

// Put creates the workflow's schedule, or, if it exists, replaces it
// (UpdateSchedule replaces every field). A new workflow's costs one call.
func (e *EventBridge) Put(ctx context.Context, s Schedule) error {
	if e.config.TargetARN == "" || e.config.RoleARN == "" {
		return fmt.Errorf("schedules: %s and %s must be set to put schedules", EnvTargetARN, EnvRoleARN)
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
	target := &types.Target{Arn: aws.String(e.config.TargetARN), RoleArn: aws.String(e.config.RoleARN), Input: aws.String(input)}
	window := &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff}
	description := aws.String("Runs workflow " + s.WorkflowID)
	_, err = e.client.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(s.WorkflowID), GroupName: aws.String(e.config.GroupName), Description: description,
		ScheduleExpression: aws.String(s.Expression), ScheduleExpressionTimezone: timezone,
		State: state, FlexibleTimeWindow: window, Target: target,
	})
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
	})
	if err != nil {
		return fmt.Errorf("schedules: update the schedule of %s: %w", s.WorkflowID, err)
	}
	return nil
}

// Delete deletes the workflow's schedule; one already gone is not an error.
func (e *EventBridge) Delete(ctx context.Context, workflowID string) error {
	_, err := e.client.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(workflowID), GroupName: aws.String(e.config.GroupName)})
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
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("schedules: list the schedules: %w", err)
		}
		for _, s := range page.Schedules {
			names = append(names, aws.ToString(s.Name))
		}
	}
	return names, nil
}
