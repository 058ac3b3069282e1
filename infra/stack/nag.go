package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/workflowsapi/workflows/internal/routes"
)

// AddRuleChecks runs AWS's own rule packs of cdk-nag, AwsSolutions and
// Serverless, on every stack under scope when it is synthesized: each
// finding is an error or warning annotation on the construct, an error fails
// `cdk synth` and `cdk deploy`, and the tests fail on any error (nag_test.go).
// A finding this stack accepts is suppressed in code, on the construct it is
// about, with the reason (suppress); the ones fixed are fixed.
//
// No compliance report is written: the annotations are the report.
func AddRuleChecks(scope constructs.IConstruct) {
	props := &cdknag.NagPackProps{Reports: jsii.Bool(false)}
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(props), nil)
	awscdk.Aspects_Of(scope).Add(cdknag.NewServerlessChecks(props), nil)
}

// The rules suppressed somewhere in the stack, by id.
const (
	// Methods without an authorizer.
	nagNoAuthorizer = "AwsSolutions-APIG4"
	// Methods without a Cognito user pool authorizer.
	nagNoCognito = "AwsSolutions-COG4"
	// No request validator.
	nagNoRequestValidation = "AwsSolutions-APIG2"
	// Wildcards in IAM policies.
	nagWildcardPermission = "AwsSolutions-IAM5"
	// Lambda functions without a dead-letter queue.
	nagNoDLQ = "Serverless-LambdaDLQ"
	// EventBridge targets without a dead-letter queue.
	nagNoEventTargetDLQ = "Serverless-EventBusDLQ"
	// SQS queues that neither are an SQS queue's dead-letter queue nor have
	// one.
	nagQueueWithoutDLQ = "AwsSolutions-SQS3"
	// SQS queues without a redrive policy (the Serverless pack's SQS3).
	nagQueueWithoutRedrive = "Serverless-SQSRedrivePolicy"
)

// The reasons, written once.
const (
	reasonMethodNotAllowedMock = "Answers 405 METHOD_NOT_ALLOWED from a MOCK integration: no Lambda runs and nothing is read, " +
		"so there is nothing a key would protect; the local gateway, too, answers 405 before it authenticates."
	reasonAPIKeysNotCognito = "The contract's credential is an API key in the x-api-key header, checked by the Lambda REQUEST " +
		"authorizer (one consistent GetItem of the key's hash); callers have no Cognito identity and the API has no users to sign in."
	reasonValidationInTheFunctions = "Each function validates its request itself, strictly (exact JSON names, no duplicates, " +
		"types, ranges) and answers 400 VALIDATION_ERROR with the contract's per-field details; a gateway model would be a " +
		"second, weaker copy of the contract (JSON Schema draft 4) answering without details, and there is nothing cheap " +
		"left to check at the gateway: the one required header, x-api-key, is the authorizer's identity source, so a " +
		"request without it is refused before any Lambda runs."
	reasonXRayHasNoResources = "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions: " +
		"IAM only accepts Resource * for them (Lambda's active tracing needs both)."
	reasonAccountLoggingRole = "API Gateway's CloudWatch role is one setting per account and region, shared by every REST " +
		"API there, which writes to log groups API Gateway names itself; these are the actions of AWS's " +
		"AmazonAPIGatewayPushToCloudWatchLogs, on every log group as in that policy, written out so they cannot change."
	reasonLogDeliveryHasNoResources = "The state machine's logging to CloudWatch Logs uses the log delivery actions " +
		"(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, " +
		"PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and its tracing X-Ray's PutTraceSegments, " +
		"PutTelemetryRecords, GetSamplingRules and GetSamplingTargets, none of which IAM accepts a resource for but *."
	reasonOneExecutionPerRun = "Each run has its own execution, named after the run id, so stopping or describing the " +
		"execution of the run a request names is granted on the executions of the one run state machine " +
		"(execution:<state machine>:*); the state machine's name is fixed, only the run id is open."
	reasonOneSchedulePerWorkflow = "Each schedule workflow has its own schedule, named after the workflow id, so the " +
		"schedule actions are granted on the schedules of the stage's one schedule group (schedule/<group>/*); " +
		"the group is fixed, only the workflow id is open."
	reasonPeriodicFunction = "Invoked by an EventBridge rule every few minutes to do the same idempotent check; an " +
		"invocation that fails is not retried (the rule target retries nothing) because the next one does the same work, " +
		"so a dead-letter queue would only collect events nobody needs to replay."
	reasonScheduledFunction = "Invoked asynchronously by EventBridge Scheduler: a failed invocation is retried by Lambda " +
		"(MaximumRetryAttempts 2), then goes to the function's on-failure destination, an encrypted SQS queue the stack " +
		"alarms on, which records the request and the error (a dead-letter queue would keep the request only); " +
		"a firing Scheduler cannot deliver goes to the schedules' own dead-letter queue, also alarmed."
	reasonFailureQueue = "This queue is itself where lost firings end: the dead-letter queue of every EventBridge Scheduler " +
		"schedule, or scheduled-run's on-failure destination. Nothing consumes it automatically (a person reads and replays " +
		"its messages, and an alarm fires on the first one), so no receive can fail and nothing would ever move to a " +
		"dead-letter queue of its own; cdk-nag only recognises queues that are another SQS queue's redrive target."
	reasonSynchronousFunction = "Invoked synchronously only (by API Gateway: the authorizer and the proxy integrations; " +
		"the runner by the run state machine, which retries and catches its failures), " +
		"so a failure is the caller's answer and nothing is queued for retry: a dead-letter queue applies to asynchronous " +
		"invocations and would never receive anything."
)

// suppress records that construct (and, with children, everything under it)
// accepts rule for reason. appliesTo narrows a granular rule (IAM5) to the
// findings named, so a new wildcard elsewhere is still reported.
func suppress(construct constructs.IConstruct, children bool, rule, reason string, appliesTo ...string) {
	suppression := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, 0, len(appliesTo))
		for _, a := range appliesTo {
			list = append(list, a)
		}
		suppression.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{suppression}, jsii.Bool(children))
}

// suppressFindings records the stack-wide suppressions; the ones about one
// construct are made next to it (api.go, functions.go).
func suppressFindings(a *api, functions []*apiFunction, byName map[string]*apiFunction) {
	suppress(a.restAPI, true, nagNoCognito, reasonAPIKeysNotCognito)
	suppress(a.restAPI.Node().DefaultChild(), false, nagNoRequestValidation, reasonValidationInTheFunctions)
	suppress(a.loggingRole, true, nagWildcardPermission, reasonAccountLoggingRole, "Resource::*")
	for _, fn := range functions {
		suppress(fn.function.Role(), true, nagWildcardPermission, reasonXRayHasNoResources, "Resource::*")
		if fn == byName[routes.StartCheckFunction] || fn == byName[routes.ScheduledRunFunction] {
			continue // invoked asynchronously: runs.go says why they have no queue
		}
		suppress(fn.function, false, nagNoDLQ, reasonSynchronousFunction)
	}
}
