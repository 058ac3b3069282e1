package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/gatewayresponse"
	"github.com/workflowsapi/workflows/internal/routes"
)

// MethodNotAllowed is the body API Gateway answers a known path with when no
// route has the request's method: a MOCK integration on an ANY method of each
// path, so no Lambda runs. The local gateway answers with the same one.
var MethodNotAllowed = gatewayresponse.MethodNotAllowed

// publicRouteReasons says, for each route the route table leaves without a
// key, why it takes none. A route that loses its scope without a reason here
// fails the stack (and cdk-nag's APIG4 would report it).
var publicRouteReasons = map[string]string{
	routes.ReceiveWebhook.Function: "Webhook deliveries come from other systems, which hold no API key: each is signed " +
		"with the workflow's webhook secret (HMAC-SHA256 over timestamp and body), checked by the function, which " +
		"refuses a bad or stale signature with 401; it is limited per source IP.",
	routes.ReceiveSignal.Function: "A wait_for_signal step's signalUrl is handed to another system, which holds no API key: " +
		"the token in its path is the capability, 256 bits of an HMAC under the API's signal key, of which only the " +
		"hash is stored; the function answers 404 to any other token, acts at most once per token, and is limited per source IP.",
	routes.GetOpenAPI.Function: "The API's own description (OpenAPI), public by the contract so that a client can be " +
		"generated before it has a key; it reads nothing but the limiter's counter and is limited per source IP.",
	routes.GetConsole.Function: "The console's static page, script and stylesheet, embedded in the function: they hold no " +
		"data, and the page asks the person for a key and calls the API with it from the browser; it reads nothing but " +
		"the limiter's counter and is limited per source IP.",
}

// accessLogFields is the JSON access log line of every request. It names the
// gateway response type (responseType) so that authorizer failures can be
// counted, and never holds a header value: the key stays out of the logs.
var accessLogFields = map[string]string{
	"requestId":          "$context.requestId",
	"stage":              "$context.stage",
	"requestTime":        "$context.requestTime",
	"sourceIp":           "$context.identity.sourceIp",
	"httpMethod":         "$context.httpMethod",
	"resourcePath":       "$context.resourcePath",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"responseLatency":    "$context.responseLatency",
	"integrationStatus":  "$context.integrationStatus",
	"integrationLatency": "$context.integrationLatency",
	"responseType":       "$context.error.responseType",
	"authorizerStatus":   "$context.authorizer.status",
	"authorizerLatency":  "$context.authorizer.latency",
	"keyId":              "$context.authorizer.principalId",
	"xrayTraceId":        "$context.xrayTraceId",
}

// api is the REST API with its stage, the log group of its access logs, and
// the account-wide role API Gateway writes its logs with.
type api struct {
	restAPI     awsapigateway.RestApi
	accessLogs  awslogs.LogGroup
	loggingRole awsiam.Role
}

// newAPI builds the REST API from the route table: one Lambda proxy method
// per route, the key authorizer on every route that takes a key, an ANY
// method answering 405 on every path, and the contract's gateway responses.
func newAPI(scope constructs.Construct, functions map[string]*apiFunction, cacheSeconds int, settings stageSettings, edge Edge) (*api, error) {
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     settings.logRetention,
		RemovalPolicy: settings.removalPolicy(),
	})
	accessLogFormat, err := json.Marshal(accessLogFields)
	if err != nil {
		return nil, fmt.Errorf("stack: access log format: %w", err)
	}
	restAPI := awsapigateway.NewRestApi(scope, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String(settings.apiName()),
		Description:   jsii.String("Workflows API (" + settings.name + ")"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// The account-wide CloudWatch role is made below, without the AWS
		// managed policy CDK would attach.
		CloudWatchRole: jsii.Bool(false),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(settings.name),
			TracingEnabled:       jsii.Bool(true),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(string(accessLogFormat))),
			// Traffic stops here before it costs a Lambda call (edge.go).
			// API Gateway answers the excess with the THROTTLED gateway
			// response.
			ThrottlingRateLimit:  jsii.Number(edge.ThrottleRateLimit),
			ThrottlingBurstLimit: jsii.Number(edge.ThrottleBurstLimit),
			// Execution logs at ERROR, without data tracing: what API
			// Gateway itself failed at (an authorizer or integration that
			// errored, a configuration error), which the access log only
			// names. At INFO they would trace every request, the
			// authorizer's incoming identity (the x-api-key value) among
			// it, and data tracing would log headers and bodies.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled: jsii.Bool(false),
			MetricsEnabled:   jsii.Bool(false),
		},
	})
	loggingRole := newGatewayLoggingRole(restAPI)
	newExecutionLogs(scope, restAPI, settings)

	keyAuthorizer := awsapigateway.NewRequestAuthorizer(scope, jsii.String("ApiKeyAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String("api-key"),
		Handler:         functions[routes.AuthorizerFunction].function,
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String(authcontext.HeaderAPIKey))},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(cacheSeconds)),
	})

	// Paths in route-table order, not map order: API Gateway's deployment
	// id is a hash over the methods in the order they are added, and a
	// random order would redeploy the API on every synth.
	var paths []string
	methodsByPath := map[string][]string{}
	for _, route := range routes.All {
		resource := restAPI.Root().ResourceForPath(jsii.String(route.Path))
		options := &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
		if route.Authenticated() {
			options = &awsapigateway.MethodOptions{
				AuthorizationType: awsapigateway.AuthorizationType_CUSTOM,
				Authorizer:        keyAuthorizer,
			}
		}
		integration := awsapigateway.NewLambdaIntegration(functions[route.Function].function, &awsapigateway.LambdaIntegrationOptions{
			Proxy: jsii.Bool(true),
			// The console's test button needs a permission of its own;
			// without it each function may be invoked by exactly its method.
			AllowTestInvoke: jsii.Bool(false),
		})
		method := resource.AddMethod(jsii.String(route.Method), integration, options)
		if !route.Authenticated() {
			reason, ok := publicRouteReasons[route.Function]
			if !ok {
				return nil, fmt.Errorf("stack: %s %s takes no key; say why in publicRouteReasons", route.Method, route.Path)
			}
			suppress(method, false, nagNoAuthorizer, reason)
		}
		if _, seen := methodsByPath[route.Path]; !seen {
			paths = append(paths, route.Path)
		}
		methodsByPath[route.Path] = append(methodsByPath[route.Path], route.Method)
	}
	for _, path := range paths {
		addMethodNotAllowed(restAPI.Root().ResourceForPath(jsii.String(path)), methodsByPath[path])
	}

	for _, gr := range gatewayresponse.All {
		headers := map[string]*string{}
		for name, value := range gr.ResponseHeaders() {
			headers[name] = jsii.String(value)
		}
		options := &awsapigateway.GatewayResponseOptions{
			Type:            awsapigateway.ResponseType_Of(jsii.String(gr.Type)),
			Templates:       &map[string]*string{"application/json": jsii.String(gr.Body())},
			ResponseHeaders: &headers,
		}
		if gr.StatusCode != 0 {
			options.StatusCode = jsii.String(strconv.Itoa(gr.StatusCode))
		}
		restAPI.AddGatewayResponse(jsii.String(gatewayResponseID(gr.Type)), options)
	}
	return &api{restAPI: restAPI, accessLogs: accessLogs, loggingRole: loggingRole}, nil
}

// gatewayLoggingActions are what API Gateway's CloudWatch role may do: the
// actions of AWS's AmazonAPIGatewayPushToCloudWatchLogs policy, written out
// so that a change to the managed policy cannot change what the role may do.
var gatewayLoggingActions = []string{
	"logs:CreateLogGroup",
	"logs:CreateLogStream",
	"logs:DescribeLogGroups",
	"logs:DescribeLogStreams",
	"logs:FilterLogEvents",
	"logs:GetLogEvents",
	"logs:PutLogEvents",
}

// newGatewayLoggingRole makes the role API Gateway writes access and
// execution logs with, and sets it as the account's (AWS::ApiGateway::Account
// is one setting per account and region, shared by every REST API there).
// It keeps the construct ids CDK's own role had, so a deployed stack updates
// the role in place; like CDK's, it is kept when the stack is deleted, as
// other APIs of the account may log through it.
func newGatewayLoggingRole(restAPI awsapigateway.RestApi) awsiam.Role {
	role := awsiam.NewRole(restAPI, jsii.String("CloudWatchRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway's account-wide role for writing REST API logs to CloudWatch Logs"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"PushToCloudWatchLogs": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
					Actions: jsii.Strings(gatewayLoggingActions...),
					// Every REST API of the account and region logs through
					// this role, to log groups API Gateway names itself.
					Resources: jsii.Strings("*"),
				})},
			}),
		},
	})
	role.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN)
	account := awsapigateway.NewCfnAccount(restAPI, jsii.String("Account"), &awsapigateway.CfnAccountProps{
		CloudWatchRoleArn: role.RoleArn(),
	})
	account.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	account.Node().AddDependency(restAPI.Node().DefaultChild())
	// The stage logs from its first request: the account's role must be
	// set by then.
	restAPI.DeploymentStage().Node().AddDependency(account)
	return role
}

// newExecutionLogs makes the log group API Gateway writes the stage's
// execution logs to, under the name API Gateway gives it, before the stage
// exists: made by API Gateway it would keep its logs forever.
func newExecutionLogs(scope constructs.Construct, restAPI awsapigateway.RestApi, settings stageSettings) {
	logs := awslogs.NewLogGroup(scope, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("API-Gateway-Execution-Logs_" + *restAPI.RestApiId() + "/" + settings.name),
		Retention:     settings.logRetention,
		RemovalPolicy: settings.removalPolicy(),
	})
	restAPI.DeploymentStage().Node().AddDependency(logs)
}

// addMethodNotAllowed puts an ANY method on resource that answers 405 with
// an Allow header. API Gateway prefers a resource's explicit methods to ANY,
// so only methods no route has reach it. It takes no key, as the local
// gateway answers 405 before it authenticates.
func addMethodNotAllowed(resource awsapigateway.Resource, methods []string) {
	allowed := slices.Clone(methods)
	slices.Sort(allowed)
	status := strconv.Itoa(MethodNotAllowed.StatusCode)
	integration := awsapigateway.NewMockIntegration(&awsapigateway.IntegrationOptions{
		RequestTemplates: &map[string]*string{
			"application/json": jsii.String(fmt.Sprintf(`{"statusCode": %s}`, status)),
		},
		PassthroughBehavior: awsapigateway.PassthroughBehavior_WHEN_NO_MATCH,
		// The one integration response has no selection pattern, so it
		// answers whatever the mock returns.
		IntegrationResponses: &[]*awsapigateway.IntegrationResponse{{
			StatusCode: jsii.String(status),
			ResponseParameters: &map[string]*string{
				"method.response.header.Allow":        jsii.String("'" + strings.Join(allowed, ", ") + "'"),
				"method.response.header.X-Request-Id": jsii.String(gatewayresponse.Headers["X-Request-Id"]),
			},
			ResponseTemplates: &map[string]*string{"application/json": jsii.String(MethodNotAllowed.Body())},
		}},
	})
	method := resource.AddMethod(jsii.String("ANY"), integration, &awsapigateway.MethodOptions{
		AuthorizationType: awsapigateway.AuthorizationType_NONE,
		MethodResponses: &[]*awsapigateway.MethodResponse{{
			StatusCode: jsii.String(status),
			ResponseParameters: &map[string]*bool{
				"method.response.header.Allow":        jsii.Bool(true),
				"method.response.header.X-Request-Id": jsii.Bool(true),
			},
		}},
	})
	suppress(method, false, nagNoAuthorizer, reasonMethodNotAllowedMock)
}

// gatewayResponseID turns a response type (ACCESS_DENIED) into a construct
// id (AccessDenied).
func gatewayResponseID(responseType string) string {
	return constructID(strings.ToLower(strings.ReplaceAll(responseType, "_", "-"))) + "Response"
}
