// Package stack is the Workflows API's one CloudFormation stack, built from
// the same Go definitions the code runs on: the route table
// (internal/routes), the gateway responses (internal/gatewayresponse) and the
// table definition (internal/store). What each function may call is read
// from routes.Functions() (permissions.go).
package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
	"github.com/workflowsapi/workflows/internal/routes"
)

// AuthorizerCacheContext names the context value (`cdk deploy -c
// authorizerCacheTtlSeconds=60`) that sets how long API Gateway caches the
// authorizer's answer for one key. It defaults to 0: a revoked key is refused
// on its next request. See docs/infrastructure.md for the trade-off.
//
// It is a context value, not a CloudFormation parameter: API Gateway applies
// a changed authorizer only with a new deployment of the API, and CDK makes
// one when the authorizer's synthesized properties change, which a
// parameter's value never does.
const AuthorizerCacheContext = "authorizerCacheTtlSeconds"

// MaxAuthorizerCacheSeconds is API Gateway's ceiling for the cache.
const MaxAuthorizerCacheSeconds = blueprint.MaxAuthorizerCacheSeconds

// FeatureFlags are the CDK feature flags this stack is written for. They are
// set in code, not only in cdk.json, so the tests synthesize exactly what
// `cdk synth` does.
var FeatureFlags = map[string]any{
	// A changed authorizer must redeploy the API's stage.
	"@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId": true,
	// Merge a role's statements so a policy stays readable and small.
	"@aws-cdk/aws-iam:minimizePolicies":     true,
	"@aws-cdk/core:enablePartitionLiterals": true,
}

// Props configures the stack. Zero values take the documented defaults
// (edge.go, functions.go); PropsFromContext reads them from `cdk -c`.
type Props struct {
	awscdk.StackProps
	// Stage names the deployment (dev, staging, prod, dev-<name>). Stages
	// other than dev and dev-* protect their data: see stage.go.
	Stage string
	// LambdaAssetDir holds <function>/bootstrap for every function;
	// `make lambdas` writes bin/.
	LambdaAssetDir string
	// AuthorizerCacheSeconds is the authorizer's result cache TTL, 0 to
	// MaxAuthorizerCacheSeconds; see AuthorizerCacheContext.
	AuthorizerCacheSeconds int
	// Edge is the stage's throttle and the optional firewall (edge.go).
	Edge Edge
	// LogLevel is the functions' application log level (DEBUG, INFO, WARN,
	// ERROR); "" is DefaultLogLevel.
	LogLevel string
	// RunnerReservedConcurrency is the runner's reserved concurrency: nil
	// is the stage's default (DefaultRunnerReservedConcurrency), 0 none; see
	// RunnerReservedConcurrencyContext.
	RunnerReservedConcurrency *int
}

// NewWorkflowsStack builds the stack. It fails when a function of
// routes.Functions() has no binary or no exact actions, or a setting is out
// of range.
func NewWorkflowsStack(scope constructs.Construct, id string, props *Props) (awscdk.Stack, error) {
	settings, err := settingsFor(props.Stage)
	if err != nil {
		return nil, err
	}
	if props.AuthorizerCacheSeconds < 0 || props.AuthorizerCacheSeconds > MaxAuthorizerCacheSeconds {
		return nil, fmt.Errorf("stack: the authorizer cache TTL must be 0 to %d seconds, not %d", MaxAuthorizerCacheSeconds, props.AuthorizerCacheSeconds)
	}
	edge, err := props.Edge.withDefaults()
	if err != nil {
		return nil, err
	}
	logLevel, err := logLevelOrDefault(props.LogLevel)
	if err != nil {
		return nil, err
	}
	runnerConcurrency, err := runnerReservedConcurrency(props.RunnerReservedConcurrency, settings)
	if err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("project"), jsii.String("workflows-api"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("stage"), jsii.String(settings.name), nil)

	table, err := newTable(stack, settings)
	if err != nil {
		return nil, err
	}
	keys := keys{secrets: newSecretsKey(stack, settings), signal: newSignalKey(stack, settings)}
	functions, err := newFunctions(stack, table, keys, settings, props.LambdaAssetDir, logLevel, runnerConcurrency)
	if err != nil {
		return nil, err
	}
	restAPI, err := newAPI(stack, functions, props.AuthorizerCacheSeconds, settings, edge)
	if err != nil {
		return nil, err
	}
	if edge.WAF {
		newFirewall(stack, restAPI, settings, edge)
	}

	alarms := newMonitoring(stack, settings)
	alarms.watchAPI(restAPI)
	alarms.watchTable(table)
	watched := make([]*apiFunction, 0, len(functions))
	for _, fn := range routes.Functions() {
		watched = append(watched, functions[fn.Name])
	}
	alarms.watchThrottles(watched)
	suppressFindings(restAPI, watched, functions)

	// Runs: the Standard state machine that drives every run through the
	// runner, the Express one for the runs that never wait, the start
	// check, the schedules' group and role; and every function's Step
	// Functions and Scheduler actions (runs.go).
	engine, err := newRunEngine(stack, functions, settings)
	if err != nil {
		return nil, err
	}
	alarms.watchRunEngine(engine, functions[routes.RunnerFunction], functions[routes.StartCheckFunction],
		functions[routes.ScheduledRunFunction], functions[routes.CancelRun.Function])

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Base URL of the API"),
		Value:       jsii.String(*restAPI.restAPI.Url() + routes.BasePath[1:]),
	})
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Description: jsii.String("TABLE_NAME for wfctl against this stage"),
		Value:       table.TableName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("Subscribe to be told when an alarm fires"),
		Value:       alarms.topic.TopicArn(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("The state machine that drives every run (one execution per run id)"),
		Value:       engine.stateMachine.StateMachineArn(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ExpressStateMachineArn"), &awscdk.CfnOutputProps{
		Description: jsii.String("The Express state machine that drives the runs that never wait (their history is in its log group)"),
		Value:       engine.expressStateMachine.StateMachineArn(),
	})
	// What `wfctl schedules sync` needs beside TABLE_NAME, and where lost
	// firings wait to be read.
	for _, o := range []struct{ id, description, value string }{
		{"ScheduleGroupName", "SCHEDULE_GROUP_NAME for wfctl schedules sync", *engine.scheduleGroup.Ref()},
		{"SchedulerRoleArn", "SCHEDULER_ROLE_ARN for wfctl schedules sync", *engine.schedulerRole.RoleArn()},
		{"ScheduledRunFunctionArn", "SCHEDULED_RUN_FUNCTION_ARN for wfctl schedules sync", engine.scheduledRunARN},
		{"ScheduleDeadLetterQueueArn", "SCHEDULE_DLQ_ARN for wfctl schedules sync: the firings Scheduler could not deliver", *engine.scheduleDLQ.QueueArn()},
		{"ScheduleDeadLetterQueueUrl", "The firings Scheduler could not deliver (aws sqs receive-message --queue-url)", *engine.scheduleDLQ.QueueUrl()},
		{"ScheduledRunFailureQueueUrl", "The firings scheduled-run failed on after Lambda's retries", *engine.scheduledRunFailures.QueueUrl()},
	} {
		awscdk.NewCfnOutput(stack, jsii.String(o.id), &awscdk.CfnOutputProps{Description: jsii.String(o.description), Value: jsii.String(o.value)})
	}
	return stack, nil
}
