package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
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

// api is the REST API with its stage and the log group of its access logs.
type api struct {
	restAPI    awsapigateway.RestApi
	accessLogs awslogs.LogGroup
}

// newAPI builds the REST API from the route table: one Lambda proxy method
// per route, the key authorizer on every route that takes a key, an ANY
// method answering 405 on every path, and the contract's gateway responses.
func newAPI(scope constructs.Construct, functions map[string]*apiFunction, cacheSeconds int, settings stageSettings) (*api, error) {
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
		// Access logging needs the account-wide CloudWatch role of API
		// Gateway. It is kept on teardown: other APIs of the account use it.
		CloudWatchRole:              jsii.Bool(true),
		CloudWatchRoleRemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(settings.name),
			TracingEnabled:       jsii.Bool(true),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(string(accessLogFormat))),
			// Execution logs stay off: API Gateway writes them to a log group
			// of its own without retention, and at INFO with data tracing they
			// would hold the x-api-key header.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_OFF,
			DataTraceEnabled: jsii.Bool(false),
		},
	})

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
		resource.AddMethod(jsii.String(route.Method), integration, options)
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
		for name, value := range gatewayresponse.Headers {
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
	return &api{restAPI: restAPI, accessLogs: accessLogs}, nil
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
	resource.AddMethod(jsii.String("ANY"), integration, &awsapigateway.MethodOptions{
		AuthorizationType: awsapigateway.AuthorizationType_NONE,
		MethodResponses: &[]*awsapigateway.MethodResponse{{
			StatusCode: jsii.String(status),
			ResponseParameters: &map[string]*bool{
				"method.response.header.Allow":        jsii.Bool(true),
				"method.response.header.X-Request-Id": jsii.Bool(true),
			},
		}},
	})
}

// gatewayResponseID turns a response type (ACCESS_DENIED) into a construct
// id (AccessDenied).
func gatewayResponseID(responseType string) string {
	return constructID(strings.ToLower(strings.ReplaceAll(responseType, "_", "-"))) + "Response"
}
