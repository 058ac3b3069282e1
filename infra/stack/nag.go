package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
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
	reasonSynchronousFunction = "Invoked synchronously only (by API Gateway: the authorizer and the proxy integrations), " +
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
func suppressFindings(a *api, functions []*apiFunction) {
	suppress(a.restAPI, true, nagNoCognito, reasonAPIKeysNotCognito)
	suppress(a.restAPI.Node().DefaultChild(), false, nagNoRequestValidation, reasonValidationInTheFunctions)
	suppress(a.loggingRole, true, nagWildcardPermission, reasonAccountLoggingRole, "Resource::*")
	for _, fn := range functions {
		suppress(fn.function.Role(), true, nagWildcardPermission, reasonXRayHasNoResources, "Resource::*")
		suppress(fn.function, false, nagNoDLQ, reasonSynchronousFunction)
	}
}
