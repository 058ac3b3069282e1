package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
	"github.com/workflowsapi/workflows/internal/routes"
)

// BootstrapName is the executable a provided.al2023 function runs.
const BootstrapName = blueprint.Handler

// DefaultLogLevel is the functions' application log level unless
// `-c logLevel=...` says otherwise.
const DefaultLogLevel = blueprint.DefaultLogLevel

// LogLevels are the levels a deployer may choose: the ones log/slog writes
// and Lambda's JSON log filter reads.
var LogLevels = blueprint.LogLevels

func logLevelOrDefault(level string) (string, error) {
	if level == "" {
		return DefaultLogLevel, nil
	}
	upper := strings.ToUpper(level)
	if !slices.Contains(LogLevels, upper) {
		return "", fmt.Errorf("stack: log level %q is none of %v", level, LogLevels)
	}
	return upper, nil
}

// The runner's and the start check's timeouts (blueprint.TimeoutSeconds has
// every function's, and says why).
const (
	RunnerTimeoutSeconds     = blueprint.RunnerTimeoutSeconds
	StartCheckTimeoutSeconds = blueprint.StartCheckTimeoutSeconds
)

// RunnerReservedConcurrencyContext names the context value (`cdk deploy -c
// runnerReservedConcurrency=N`) that reserves N of the account's concurrent
// Lambda executions for the runner, and caps it there. The runner's
// invocations last up to 900 s and share the account's pool with the
// routes and the authorizer: reserved, a flood of runs cannot take the
// concurrency the API needs to answer (it is throttled at N instead, and Step
// Functions retries its throttled Advances for about a minute before the run
// is recorded failed). 0 reserves nothing: the runner draws on the shared
// pool like every function (Lambda's own 0 would stop every run, so it is
// never written). Lambda keeps at least 100 of the account's concurrency
// unreserved, so N needs an account limit of at least N + 100: a new
// account, with 10, can reserve nothing until its quota is raised. See
// docs/infrastructure.md for the trade-off and the runs a second N gives.
const RunnerReservedConcurrencyContext = "runnerReservedConcurrency"

// DefaultRunnerReservedConcurrency is the runner's reservation on stages that
// hold data (staging, prod: accounts whose quota has been raised, usually to
// 1,000) when no context says otherwise; throwaway stages (dev, dev-*),
// which are often deployed to new accounts, reserve nothing by default, so
// that a first deploy there does not fail on the quota.
const DefaultRunnerReservedConcurrency = 100

// runnerReservedConcurrency is the reservation to write: 0 for none.
func runnerReservedConcurrency(asked *int, settings stageSettings) (int, error) {
	switch {
	case asked == nil && settings.protectData:
		return DefaultRunnerReservedConcurrency, nil
	case asked == nil:
		return 0, nil
	case *asked < 0:
		return 0, fmt.Errorf("stack: -c %s=%d: the runner's reserved concurrency is 0 (none) or more", RunnerReservedConcurrencyContext, *asked)
	}
	return *asked, nil
}

// apiFunction is one Lambda with the log group and role made for it alone.
type apiFunction struct {
	name     string
	function awslambda.Function
	logGroup awslogs.LogGroup
}

// newFunctions builds every function of routes.Functions(), each from
// assetDir/<name>/bootstrap, with a role that may write its own log group,
// send traces, and call exactly the actions routes.Functions() lists for it
// (permissions.go).
func newFunctions(scope constructs.Construct, table awsdynamodb.Table, keys keys, settings stageSettings, assetDir, logLevel string, runnerConcurrency int) (map[string]*apiFunction, error) {
	// blueprint.Runtime and blueprint.Architecture, as CDK names them.
	runtime, architecture := awslambda.Runtime_PROVIDED_AL2023(), awslambda.Architecture_ARM_64()
	if *runtime.Name() != blueprint.Runtime || *architecture.Name() != blueprint.Architecture {
		return nil, fmt.Errorf("stack: the functions run %s on %s, blueprint says %s on %s", *runtime.Name(), *architecture.Name(), blueprint.Runtime, blueprint.Architecture)
	}
	functions := map[string]*apiFunction{}
	for _, spec := range routes.Functions() {
		if _, seen := functions[spec.Name]; seen {
			return nil, fmt.Errorf("stack: function %q is listed twice; each route has its own function", spec.Name)
		}
		fn, err := newFunction(scope, spec, table, keys, settings, assetDir, logLevel, runnerConcurrency)
		if err != nil {
			return nil, err
		}
		functions[spec.Name] = fn
	}
	return functions, nil
}

func newFunction(scope constructs.Construct, spec routes.Function, table awsdynamodb.Table, keys keys, settings stageSettings, assetDir, logLevel string, runnerConcurrency int) (*apiFunction, error) {
	name := spec.Name
	grants, err := blueprint.Grants(spec)
	if err != nil {
		return nil, err
	}
	codeDir := filepath.Join(assetDir, name)
	if _, err := os.Stat(filepath.Join(codeDir, BootstrapName)); err != nil {
		return nil, fmt.Errorf("stack: no %s for function %s (run `make lambdas` first): %w", BootstrapName, name, err)
	}

	construct := constructs.NewConstruct(scope, jsii.String(constructID(name)))
	logGroup := awslogs.NewLogGroup(construct, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     settings.logRetention,
		RemovalPolicy: settings.removalPolicy(),
	})
	// A role of its own, without AWSLambdaBasicExecutionRole: that managed
	// policy may create and write any log group in the account.
	role := awsiam.NewRole(construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs the " + name + " function of the Workflows API"),
	})
	logGroup.GrantWrite(role)
	addGrants(role, dataGrants(grants, table, keys))

	description := "Workflows API route function " + name
	var reserved *float64
	switch name {
	case routes.AuthorizerFunction:
		description = "Workflows API REQUEST authorizer: resolves the x-api-key header"
	case routes.RunnerFunction:
		description = "Workflows API runner: the run state machine's Advance task, executes a run's steps"
		if runnerConcurrency > 0 {
			reserved = jsii.Number(runnerConcurrency)
		}
	case routes.StartCheckFunction:
		description = "Workflows API start check: starts runs whose execution was lost, records runs whose execution ended without the runner"
	case routes.ScheduledRunFunction:
		description = "Workflows API scheduled run: the target of every EventBridge Scheduler schedule, starts one run"
	}
	// blueprint.Environment's variables of the table, the log level and
	// the keys; the run engine's are added once it exists (runs.go).
	values := map[blueprint.Value]*string{
		blueprint.TableNameValue:    table.TableName(),
		blueprint.LogLevelValue:     jsii.String(logLevel),
		blueprint.KeyARNValue:       keys.secrets.KeyArn(),
		blueprint.SignalKeyARNValue: keys.signal.KeyArn(),
	}
	environment := map[string]*string{}
	for _, v := range blueprint.Environment(spec) {
		if value, ok := values[v.Value]; ok {
			environment[v.Name] = value
		}
	}
	function := awslambda.NewFunction(construct, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(settings.functionName(name)),
		Description:  jsii.String(description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String(BootstrapName),
		Code:         awslambda.Code_FromAsset(jsii.String(codeDir), nil),
		MemorySize:   jsii.Number(blueprint.MemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(blueprint.TimeoutSeconds(name))),
		Role:         role,
		LogGroup:     logGroup,
		Tracing:      awslambda.Tracing_ACTIVE,
		// The functions write JSON lines (log/slog); in Lambda's JSON format
		// the platform's own lines are JSON too, and Lambda drops
		// application lines below the level before they are stored.
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel(logLevel),
		Environment:           &environment,
		// Only the runner's, and only when asked for (nil: the shared pool).
		ReservedConcurrentExecutions: reserved,
	})
	return &apiFunction{name: name, function: function, logGroup: logGroup}, nil
}

// constructID turns a function name (list-api-keys) into a construct id
// (ListApiKeys), which CloudFormation logical ids are made from.
func constructID(function string) string { return blueprint.ConstructID(function) }
