package stack

import (
	"fmt"
	"slices"
	"strings"

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

	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/schedules"
)

// The environment of the functions that start, stop and check runs and keep
// schedules (fixed names: internal/orchestrator/sfn and internal/schedules
// read them). Each goes to exactly the functions whose ServiceActions need
// it (envFor).
const (
	envStateMachineARN         = sfn.EnvStateMachineARN
	envScheduleGroupName       = "SCHEDULE_GROUP_NAME"
	envSchedulerRoleARN        = "SCHEDULER_ROLE_ARN"
	envScheduledRunFunctionARN = "SCHEDULED_RUN_FUNCTION_ARN"
	envScheduleDLQARN          = schedules.EnvDeadLetterARN
)

// FailureQueueRetentionDays is how long the two queues of lost firings keep
// a message: SQS's most, so a firing lost on a Friday evening is still
// there to read and replay after the weekend (the alarms fire at once).
const FailureQueueRetentionDays = 14

// ScheduledRunAsyncRetries is how often Lambda retries a scheduled-run
// invocation whose function failed (Lambda's own default, said out loud):
// a firing is idempotent (its run id comes from the workflow and the
// scheduled time), and after the retries it goes to the failure queue.
const ScheduledRunAsyncRetries = 2

// StartCheckEveryMinutes is how often the start check runs: how long, at
// worst, a run whose start was lost stays queued, and a run whose execution
// ended without the runner (stopped in the console, timed out) stays shown
// as unfinished.
const StartCheckEveryMinutes = 5

// runEngine is what drives runs in AWS: the Standard state machine around
// the runner, the start check's schedule, and the schedule group with the
// role EventBridge Scheduler invokes scheduled-run with.
type runEngine struct {
	stateMachine  awsstepfunctions.StateMachine
	logGroup      awslogs.LogGroup
	scheduleGroup awsscheduler.CfnScheduleGroup
	schedulerRole awsiam.Role
	// executionsARN covers the state machine's executions (one per run).
	executionsARN string
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

	// The state machine's role may invoke the runner, by its exact ARN (not
	// its versions or aliases: the state machine calls the function
	// itself), and write its logs and traces (added by CDK).
	role := awsiam.NewRole(construct, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("Runs the Workflows API's run state machine: invokes the runner only"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*runner.function.FunctionArn()),
	}))
	logGroup := awslogs.NewLogGroup(construct, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		Retention:     settings.logRetention,
		RemovalPolicy: settings.removalPolicy(),
	})
	stateMachine := awsstepfunctions.NewStateMachine(construct, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(settings.stateMachineName()),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		// The one definition (internal/orchestrator/sfn), with the runner's
		// ARN as a token CloudFormation resolves.
		DefinitionBody: awsstepfunctions.DefinitionBody_FromString(jsii.String(sfn.Definition(*runner.function.FunctionArn()))),
		Role:           role,
		Logs: &awsstepfunctions.LogOptions{
			Destination: logGroup,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Every state's entry and exit is logged, without its input and
			// output: those hold the runner's answers and the causes of
			// caught errors, which are the run's business (GET /runs/{id}
			// shows them) and have no place in a log.
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
		// A run's executions are not its data (DynamoDB holds the run):
		// an execution stopped by a deletion is recorded by nobody, but the
		// stack's table goes (or stays) with its own policy.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

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
	// function's role: SendMessage on that queue only (CDK's SqsDestination
	// would also grant GetQueueAttributes and GetQueueUrl, which Lambda does
	// not call).
	failures := newFailureQueue(construct, "ScheduledRunFailureQueue", settings)
	scheduledRunRole := scheduledRun.function.Role().(awsiam.Role)
	scheduledRunRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(*failures.QueueArn()),
	}))
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
		stateMachine:    stateMachine,
		logGroup:        logGroup,
		scheduleGroup:   scheduleGroup,
		schedulerRole:   schedulerRole,
		startCheckRule:  startCheckRule,
		scheduledRunARN: *scheduledRun.function.FunctionArn(),

		scheduleDLQ:          scheduleDLQ,
		scheduledRunFailures: failures,
		scheduledRunAsync:    async,
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
	for _, spec := range routes.Functions() {
		fn := functions[spec.Name]
		grants, err := engine.serviceGrantsFor(spec)
		if err != nil {
			return nil, err
		}
		addGrants(fn.function.Role().(awsiam.Role), grants)
		engine.suppressWildcards(fn, grants, settings)
		for name, value := range engine.envFor(spec) {
			fn.function.AddEnvironment(jsii.String(name), jsii.String(value), nil)
		}
	}
	suppressRunEngineFindings(engine, startCheck, scheduledRun)
	return engine, nil
}

// serviceGrantsFor returns fn's ServiceActions, each on the one resource it
// is for: starting on the state machine; stopping and describing on its
// executions (arn:...:execution:<state machine>:*, since each run has its
// own); the schedule actions on the group's schedules; passing the
// scheduler's role only to Scheduler. An action with no resource here is an
// error, so a new one cannot be granted on everything by mistake.
func (e *runEngine) serviceGrantsFor(fn routes.Function) ([]grant, error) {
	byResource := map[string]*grant{}
	var order []string
	add := func(service, action, resource string, conditions map[string]any) {
		if byResource[resource] == nil {
			byResource[resource] = &grant{service: service, resources: []string{resource}, conditions: conditions}
			order = append(order, resource)
		}
		byResource[resource].actions = append(byResource[resource].actions, action)
	}
	for _, action := range fn.ServiceActions {
		switch action {
		case routes.ActionStartExecution:
			add("states", action, *e.stateMachine.StateMachineArn(), nil)
		case routes.ActionStopExecution, routes.ActionDescribeExecution:
			add("states", action, e.executionsARN, nil)
		case routes.ActionCreateSchedule, routes.ActionUpdateSchedule, routes.ActionDeleteSchedule, routes.ActionGetSchedule:
			add("scheduler", action, e.schedulesARN, nil)
		case routes.ActionPassRole:
			add("iam", action, *e.schedulerRole.RoleArn(), map[string]any{
				"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"},
			})
		default:
			return nil, fmt.Errorf("stack: function %q: the stack knows no resource for %q", fn.Name, action)
		}
	}
	var out []grant
	for _, resource := range order {
		g := byResource[resource]
		slices.Sort(g.actions)
		if err := exactActions(fn.Name, g.service, g.actions); err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, nil
}

// envFor is the variables that name the run engine's resources, for the
// functions that call them: STATE_MACHINE_ARN with any states: action,
// SCHEDULE_GROUP_NAME with any scheduler: action, and the scheduler's role
// target and dead-letter queue with the actions that write a schedule's
// target (create, update). Nothing else, so a function cannot even name what it may not use.
func (e *runEngine) envFor(fn routes.Function) map[string]string {
	env := map[string]string{}
	for _, action := range fn.ServiceActions {
		switch {
		case strings.HasPrefix(action, "states:"):
			env[envStateMachineARN] = *e.stateMachine.StateMachineArn()
		case strings.HasPrefix(action, "scheduler:"):
			// The group's Ref (its name), so CloudFormation makes the group
			// before a function that uses it.
			env[envScheduleGroupName] = *e.scheduleGroup.Ref()
		}
		if action == routes.ActionCreateSchedule || action == routes.ActionUpdateSchedule {
			env[envSchedulerRoleARN] = *e.schedulerRole.RoleArn()
			env[envScheduledRunFunctionARN] = e.scheduledRunARN
			env[envScheduleDLQARN] = *e.scheduleDLQ.QueueArn()
		}
	}
	return env
}

// suppressRunEngineFindings records what cdk-nag finds in the run engine
// and the stack accepts, each with its reason.
func suppressRunEngineFindings(e *runEngine, startCheck, scheduledRun *apiFunction) {
	// CDK's own statements for the state machine's logs and traces: the
	// CloudWatch Logs delivery actions and X-Ray's take no resource.
	suppress(e.stateMachine.Role(), true, nagWildcardPermission, reasonLogDeliveryHasNoResources, "Resource::*")
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
		switch g.resources[0] {
		case e.executionsARN:
			suppress(fn.function.Role(), true, nagWildcardPermission, reasonOneExecutionPerRun, executionsFinding(settings))
		case e.schedulesARN:
			suppress(fn.function.Role(), true, nagWildcardPermission, reasonOneSchedulePerWorkflow, schedulesFinding(settings))
		}
	}
}
