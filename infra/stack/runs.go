package stack

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
)

// The run engine's settings (blueprint says why).
const (
	FailureQueueRetentionDays = blueprint.FailureQueueRetentionDays
	ScheduledRunAsyncRetries  = blueprint.ScheduledRunAsyncRetries
	StartCheckEveryMinutes    = blueprint.StartCheckEveryMinutes
)

// runEngine is what drives runs in AWS: the Standard state machine around
// the runner, the Express one beside it for the runs that never wait, the
// start check's schedule, and the schedule group with the role EventBridge
// Scheduler invokes scheduled-run with.
type runEngine struct {
	stateMachine awsstepfunctions.StateMachine
	logGroup     awslogs.LogGroup
	// expressStateMachine runs the runs that never wait on an event
	// (orchestrator.Express) with sfn.ExpressDefinition, around the same
	// runner; expressLogGroup is its history, which Express keeps nowhere
	// else.
	expressStateMachine awsstepfunctions.StateMachine
	expressLogGroup     awslogs.LogGroup
	scheduleGroup       awsscheduler.CfnScheduleGroup
	schedulerRole       awsiam.Role
	// executionsARN covers the state machine's executions (one per run).
	executionsARN string
	// stateMachineARN is the state machine's ARN made from its name, not
	// its Ref: the runner, which the state machine's definition names,
	// starts child runs and completes their parents' task tokens on it, and
	// a Ref would make the two depend on each other (a cycle
	// CloudFormation refuses).
	stateMachineARN string
	// expressStateMachineARN is the Express machine's, made from its name
	// for the same reason: the runner starts child runs on it too.
	expressStateMachineARN string
	// schedulesARN covers the schedules of the group (one per workflow).
	schedulesARN   string
	startCheckRule awsevents.Rule
	// scheduledRunARN is the schedules' target.
	scheduledRunARN string
	// scheduleDLQ holds the firings Scheduler could not deliver to
	// scheduled-run within a schedule's retry policy (every schedule's
	// dead-letter queue, set by internal/schedules).
	scheduleDLQ awssqs.Queue
	// scheduledRunFailures holds the firings scheduled-run was invoked with
	// and failed on, after Lambda's retries (its on-failure destination).
	scheduledRunFailures awssqs.Queue
	scheduledRunAsync    awslambda.CfnEventInvokeConfig
}

// newFailureQueue is a queue of lost firings: encrypted with SQS's own key
// (no KMS grant for Scheduler or Lambda to hold), refusing anything but TLS,
// keeping a message as long as SQS allows.
func newFailureQueue(scope constructs.Construct, id string, settings stageSettings) awssqs.Queue {
	return awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(FailureQueueRetentionDays)),
		RemovalPolicy:   settings.removalPolicy(),
	})
}

// newRunStateMachine is one of the two run state machines around the
// runner, with its own role and log group: the Standard one (kind "",
// sfn.Definition) or the Express one (kind "Express",
// sfn.ExpressDefinition), which differ in their type, name and definition
// only. Each role may invoke the runner, by its exact ARN (not its versions
// or aliases: the state machine calls the function itself), and write its
// logs and traces (added by CDK).
func newRunStateMachine(scope constructs.Construct, kind string, runner *apiFunction, settings stageSettings) (awsstepfunctions.StateMachine, awslogs.LogGroup) {
	name, typ, definition, what := settings.stateMachineName(), awsstepfunctions.StateMachineType_STANDARD, sfn.Definition, "run state machine"
	level := awsstepfunctions.LogLevel_ALL
	if kind == "Express" {
		name, typ, definition, what = settings.expressStateMachineName(), awsstepfunctions.StateMachineType_EXPRESS, sfn.ExpressDefinition,
			"Express run state machine (the runs that never wait)"
		// Failed executions only: logging every state of every run (about
		// 11 events, 4 KB) would cost about $2 per million runs in log
		// ingestion, twice the Express execution itself; a run's history
		// is its records in DynamoDB (GET /runs/{id}), and a failure, the
		// one thing those may not explain, is logged (cdk-nag's SF1 is
		// suppressed for it, nagExpressLogsErrors).
		level = awsstepfunctions.LogLevel_ERROR
	}
	role := awsiam.NewRole(scope, jsii.String(kind+"StateMachineRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("Runs the Workflows API's " + what + ": invokes the runner only"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*runner.function.FunctionArn()),
	}))
	logGroup := awslogs.NewLogGroup(scope, jsii.String(kind+"StateMachineLogs"), &awslogs.LogGroupProps{
		Retention:     settings.logRetention,
		RemovalPolicy: settings.removalPolicy(),
	})
	stateMachine := awsstepfunctions.NewStateMachine(scope, jsii.String(kind+"StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(name),
		StateMachineType: typ,
		// The one definition of its kind (internal/orchestrator/sfn), with
		// the runner's ARN as a token CloudFormation resolves.
		DefinitionBody: awsstepfunctions.DefinitionBody_FromString(jsii.String(definition(*runner.function.FunctionArn()))),
		Role:           role,
		Logs: &awsstepfunctions.LogOptions{
			Destination: logGroup,
			Level:       level,
			// Every state's entry and exit is logged (on Standard), without
			// its input and output: those hold the runner's answers and the
			// causes of caught errors, which are the run's business (GET
			// /runs/{id} shows them) and have no place in a log.
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
		// A run's executions are not its data (DynamoDB holds the run):
		// an execution stopped by a deletion is recorded by nobody, but the
		// stack's table goes (or stays) with its own policy.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	return stateMachine, logGroup
}

// newRunEngine builds the run engine around the runner, start-check and
// scheduled-run functions of functions, then grants every function its
// ServiceActions on their resources and gives it the variables that name
// them.
func newRunEngine(scope constructs.Construct, functions map[string]*apiFunction, settings stageSettings) (*runEngine, error) {
	runner, startCheck, scheduledRun := functions[routes.RunnerFunction], functions[routes.StartCheckFunction], functions[routes.ScheduledRunFunction]
	if runner == nil || startCheck == nil || scheduledRun == nil {
		return nil, fmt.Errorf("stack: routes.Functions() lacks the runner, start-check or scheduled-run function")
	}
	construct := constructs.NewConstruct(scope, jsii.String("Runs"))
	stack := awscdk.Stack_Of(scope)

	stateMachine, logGroup := newRunStateMachine(construct, "", runner, settings)
	expressStateMachine, expressLogGroup := newRunStateMachine(construct, "Express", runner, settings)

	// The start check, every few minutes. A failed check is simply done
	// again by the next one: no retries piling up behind it.
	startCheckRule := awsevents.NewRule(construct, jsii.String("StartCheckSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the Workflows API's start check"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(StartCheckEveryMinutes))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(startCheck.function, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0),
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(StartCheckEveryMinutes)),
		})},
	})

	// The schedules' group, and the role Scheduler assumes to invoke
	// scheduled-run: only that function, and only for this account's
	// schedules (the confused-deputy guard AWS documents for Scheduler).
	scheduleGroup := awsscheduler.NewCfnScheduleGroup(construct, jsii.String("ScheduleGroup"), &awsscheduler.CfnScheduleGroupProps{
		Name: jsii.String(settings.scheduleGroupName()),
	})
	schedulerRole := awsiam.NewRole(construct, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("Assumed by EventBridge Scheduler to invoke the Workflows API's scheduled-run function only"),
	})
	schedulerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*scheduledRun.function.FunctionArn()),
	}))

	// Scheduler invokes scheduled-run asynchronously. A firing it cannot
	// deliver (throttled, refused, the function gone) is retried within the
	// schedule's retry policy, then sent, with the schedule's role, to the
	// schedules' dead-letter queue: SendMessage there and nothing else.
	scheduleDLQ := newFailureQueue(construct, "ScheduleDeadLetterQueue", settings)
	schedulerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(*scheduleDLQ.QueueArn()),
	}))
	// A delivered firing whose function fails is Lambda's to retry
	// (ScheduledRunAsyncRetries), then goes to the on-failure destination
	// with the request and the error: without it, it would be dropped with
	// no run stored for the start check to find. Lambda sends with the
	// function's role: SendMessage on that queue only, blueprint.Grants'
	// (CDK's SqsDestination would also grant GetQueueAttributes and
	// GetQueueUrl, which Lambda does not call).
	failures := newFailureQueue(construct, "ScheduledRunFailureQueue", settings)
	scheduledRunRole := scheduledRun.function.Role().(awsiam.Role)
	async := awslambda.NewCfnEventInvokeConfig(construct, jsii.String("ScheduledRunAsyncInvoke"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:         scheduledRun.function.FunctionName(),
		Qualifier:            jsii.String("$LATEST"),
		MaximumRetryAttempts: jsii.Number(ScheduledRunAsyncRetries),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: failures.QueueArn()},
		},
	})
	// Lambda checks that the role may send to the destination when the
	// configuration is made: the role's policy goes first.
	async.Node().AddDependency(scheduledRunRole)

	engine := &runEngine{
		stateMachine:        stateMachine,
		logGroup:            logGroup,
		expressStateMachine: expressStateMachine,
		expressLogGroup:     expressLogGroup,
		scheduleGroup:       scheduleGroup,
		schedulerRole:       schedulerRole,
		startCheckRule:      startCheckRule,
		scheduledRunARN:     *scheduledRun.function.FunctionArn(),

		scheduleDLQ:          scheduleDLQ,
		scheduledRunFailures: failures,
		scheduledRunAsync:    async,
		stateMachineARN: *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
			ResourceName: jsii.String(settings.stateMachineName()),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}),
		expressStateMachineARN: *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
			ResourceName: jsii.String(settings.expressStateMachineName()),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}),
		executionsARN: *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("states"), Resource: jsii.String("execution"),
			ResourceName: jsii.String(settings.stateMachineName() + ":*"),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}),
		schedulesARN: *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("scheduler"), Resource: jsii.String("schedule"),
			ResourceName: jsii.String(settings.scheduleGroupName() + "/*"),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		}),
	}
	// scheduled-run's grant on its on-failure destination first, then
	// every function's on the run engine, and the variables that name them.
	specs := routes.Functions()
	grantsOf := map[string][]blueprint.Grant{}
	for _, spec := range specs {
		grants, err := blueprint.Grants(spec)
		if err != nil {
			return nil, err
		}
		grantsOf[spec.Name] = grants
	}
	addGrants(scheduledRunRole, engine.grantsOn(grantsOf[routes.ScheduledRunFunction], failuresOnly))
	values := engine.values()
	for _, spec := range specs {
		fn := functions[spec.Name]
		grants := engine.grantsOn(grantsOf[spec.Name], engineResources)
		addGrants(fn.function.Role().(awsiam.Role), grants)
		engine.suppressWildcards(fn, grants, settings)
		for _, v := range blueprint.Environment(spec) {
			if value, ok := values[v.Value]; ok {
				fn.function.AddEnvironment(jsii.String(v.Name), jsii.String(value), nil)
			}
		}
	}
	suppressRunEngineFindings(engine, startCheck, scheduledRun)
	return engine, nil
}

// The run engine's resources a function may be granted actions on, in two
// sets: scheduled-run's grant on its on-failure destination is added where
// the destination is made, the others once every resource exists.
var (
	failuresOnly    = []blueprint.Resource{blueprint.ScheduledRunFailuresResource}
	engineResources = []blueprint.Resource{blueprint.StateMachineResource, blueprint.ExpressStateMachineResource,
		blueprint.ExecutionsResource, blueprint.SchedulesResource, blueprint.SchedulerRoleResource}
)

// grantsOn resolves the grants that are on one of resources: starting on the
// state machine (and, for the functions that start runs, on the Express
// one); stopping and describing on its executions
// (arn:...:execution:<state machine>:*, since each run has its own); the
// schedule actions on the group's schedules; passing the scheduler's role
// (only to Scheduler, blueprint's condition); sending to scheduled-run's
// on-failure destination.
func (e *runEngine) grantsOn(grants []blueprint.Grant, resources []blueprint.Resource) []grant {
	arns := map[blueprint.Resource]string{
		blueprint.StateMachineResource:         e.stateMachineARN,
		blueprint.ExpressStateMachineResource:  e.expressStateMachineARN,
		blueprint.ExecutionsResource:           e.executionsARN,
		blueprint.SchedulesResource:            e.schedulesARN,
		blueprint.SchedulerRoleResource:        *e.schedulerRole.RoleArn(),
		blueprint.ScheduledRunFailuresResource: *e.scheduledRunFailures.QueueArn(),
	}
	var out []grant
	for _, g := range grants {
		if slices.Contains(resources, g.On) {
			out = append(out, resolve(g, arns[g.On]))
		}
	}
	return out
}

// values are the run engine's values of blueprint.Environment.
// SCHEDULE_GROUP_NAME is the group's Ref (its name), so CloudFormation makes
// the group before a function that uses it.
func (e *runEngine) values() map[blueprint.Value]string {
	return map[blueprint.Value]string{
		blueprint.StateMachineARNValue:        e.stateMachineARN,
		blueprint.ExpressStateMachineARNValue: e.expressStateMachineARN,
		blueprint.ScheduleGroupNameValue:      *e.scheduleGroup.Ref(),
		blueprint.SchedulerRoleARNValue:       *e.schedulerRole.RoleArn(),
		blueprint.ScheduledRunFunctionValue:   e.scheduledRunARN,
		blueprint.ScheduleDLQARNValue:         *e.scheduleDLQ.QueueArn(),
	}
}

// nagExpressLogsErrors is cdk-nag's rule that a state machine log ALL its
// events; the Express machine logs ERROR (newRunStateMachine).
const nagExpressLogsErrors = "AwsSolutions-SF1"

const reasonExpressLogsErrors = "The Express run machine logs its failed executions only: every state of every run would " +
	"cost about $2 per million runs in log ingestion, twice the execution itself. A run's history is its records " +
	"in DynamoDB (GET /runs/{id}); the Standard machine, for runs that wait, logs ALL."

// suppressRunEngineFindings records what cdk-nag finds in the run engine
// and the stack accepts, each with its reason.
func suppressRunEngineFindings(e *runEngine, startCheck, scheduledRun *apiFunction) {
	// CDK's own statements for the state machines' logs and traces: the
	// CloudWatch Logs delivery actions and X-Ray's take no resource.
	for _, sm := range []awsstepfunctions.StateMachine{e.stateMachine, e.expressStateMachine} {
		suppress(sm.Role(), true, nagWildcardPermission, reasonLogDeliveryHasNoResources, "Resource::*")
	}
	suppress(e.expressStateMachine, false, nagExpressLogsErrors, reasonExpressLogsErrors)
	suppress(startCheck.function, false, nagNoDLQ, reasonPeriodicFunction)
	suppress(e.startCheckRule, false, nagNoEventTargetDLQ, reasonPeriodicFunction)
	suppress(scheduledRun.function, false, nagNoDLQ, reasonScheduledFunction)
	for _, q := range []awssqs.Queue{e.scheduleDLQ, e.scheduledRunFailures} {
		suppress(q, false, nagQueueWithoutDLQ, reasonFailureQueue)
		suppress(q, false, nagQueueWithoutRedrive, reasonFailureQueue)
	}
}

// The IAM5 findings of the grants on every execution of the state machine
// and every schedule of the group, as cdk-nag names them.
func executionsFinding(settings stageSettings) string {
	return "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:" + settings.stateMachineName() + ":*"
}

func schedulesFinding(settings stageSettings) string {
	return "Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/" + settings.scheduleGroupName() + "/*"
}

// suppressWildcards accepts, on fn's role, the two wildcards its grants may
// hold: each names the one state machine or the one schedule group, and
// stands for the run or workflow id the function is called about, which
// IAM cannot know.
func (e *runEngine) suppressWildcards(fn *apiFunction, grants []grant, settings stageSettings) {
	for _, g := range grants {
		switch g.on {
		case blueprint.ExecutionsResource:
			suppress(fn.function.Role(), true, nagWildcardPermission, reasonOneExecutionPerRun, executionsFinding(settings))
		case blueprint.SchedulesResource:
			suppress(fn.function.Role(), true, nagWildcardPermission, reasonOneSchedulePerWorkflow, schedulesFinding(settings))
		}
	}
}
