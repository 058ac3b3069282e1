package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Alarm thresholds. An alarm looks at five-minute windows and fires on the
// first bad one: these are signals for a person, not for autoscaling.
const (
	alarmPeriodMinutes = 5
	// serverErrorRateThreshold is the share of requests answered 5xx.
	serverErrorRateThreshold = 0.05
	// serverErrorMinRequests keeps a single failed request at night from
	// paging anyone: below it the rate counts as 0.
	serverErrorMinRequests = 20
	// metricsPerAlarm is CloudWatch's hard limit of metrics in one metric
	// math alarm.
	metricsPerAlarm = 10
	// latencyP99ThresholdMs is the stage's p99 latency (from the request's
	// arrival to the answer, the authorizer included) that pages someone.
	// A warm authenticated request takes tens of milliseconds and a cold
	// start of both Lambdas a few hundred; the route functions give up
	// after 8 s. Below serverErrorMinRequests requests the p99 is a single
	// request's latency, and counts as 0.
	latencyP99ThresholdMs = 2000
	// tableThrottleThreshold is how many throttled reads and writes of the
	// table in five minutes page someone. The limiter answers a key whose
	// counter DynamoDB throttles with 429, so a throttle is seen by a
	// caller: either one key hammers its counter, or the table is short of
	// capacity.
	tableThrottleThreshold = 1
)

// CustomMetricNamespace holds the metrics the stack derives from logs.
const CustomMetricNamespace = "WorkflowsAPI"

// authorizerFailureResponseTypes are the gateway response types API Gateway
// gives when the authorizer itself failed (its Lambda errored or timed out,
// so authentication failed closed), as opposed to refusing a key.
var authorizerFailureResponseTypes = []string{"AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"}

// monitoring owns the alarms and the topic they notify.
type monitoring struct {
	scope    constructs.Construct
	settings stageSettings
	topic    awssns.Topic
}

func newMonitoring(scope constructs.Construct, settings stageSettings) *monitoring {
	topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Workflows API " + settings.name + " alarms"),
		// The topic's policy refuses publishing without TLS.
		EnforceSSL: jsii.Bool(true),
	})
	// With a policy of its own the topic no longer has SNS's default one,
	// which let the account's alarms publish: say so explicitly, for this
	// account's alarms only.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsOfThisAccountPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	return &monitoring{scope: scope, settings: settings, topic: topic}
}

func (m *monitoring) alarm(id, description string, metric awscloudwatch.IMetric, threshold float64, comparison awscloudwatch.ComparisonOperator) {
	alarm := awscloudwatch.NewAlarm(m.scope, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		ComparisonOperator: comparison,
		EvaluationPeriods:  jsii.Number(1),
		// No traffic is healthy traffic.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(m.topic))
}

func period() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(alarmPeriodMinutes)) }

// watchAPI alarms on the stage's 5xx rate and on authorizer failures. The
// authorizer's own Errors metric would not do: it counts every refused key,
// which any caller can produce; the access log says which requests API
// Gateway failed because the authorizer did.
func (m *monitoring) watchAPI(a *api) {
	stage := a.restAPI.DeploymentStage()
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period()}
	rate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, errors / requests, 0)", serverErrorMinRequests)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"errors":   stage.MetricServerError(sum),
			"requests": stage.MetricCount(sum),
		},
		Label:  jsii.String("5xx rate"),
		Period: period(),
	})
	m.alarm("ApiServerErrorRateAlarm",
		fmt.Sprintf("More than %.0f%% of requests to the %s stage answered 5xx", serverErrorRateThreshold*100, m.settings.name),
		rate, serverErrorRateThreshold, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)

	patterns := make([]awslogs.JsonPattern, 0, len(authorizerFailureResponseTypes))
	for _, t := range authorizerFailureResponseTypes {
		patterns = append(patterns, awslogs.FilterPattern_StringValue(jsii.String("$.responseType"), jsii.String("="), jsii.String(t)))
	}
	awslogs.NewMetricFilter(m.scope, jsii.String("AuthorizerFailureFilter"), &awslogs.MetricFilterProps{
		LogGroup:        a.accessLogs,
		FilterPattern:   awslogs.FilterPattern_Any(patterns...),
		MetricNamespace: jsii.String(CustomMetricNamespace),
		MetricName:      jsii.String("AuthorizerFailures"),
		MetricValue:     jsii.String("1"),
		Dimensions:      &map[string]*string{"Stage": jsii.String("$.stage")},
	})
	failures := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(CustomMetricNamespace),
		MetricName:    jsii.String("AuthorizerFailures"),
		DimensionsMap: &map[string]*string{"Stage": jsii.String(m.settings.name)},
		Statistic:     jsii.String("Sum"),
		Period:        period(),
	})
	latency := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, p99, 0)", serverErrorMinRequests)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"p99":      stage.MetricLatency(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: period()}),
			"requests": stage.MetricCount(sum),
		},
		Label:  jsii.String("p99 latency (ms)"),
		Period: period(),
	})
	m.alarm("ApiLatencyP99Alarm",
		fmt.Sprintf("The %s stage's p99 latency is over %d ms", m.settings.name, latencyP99ThresholdMs),
		latency, latencyP99ThresholdMs, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)

	m.alarm("AuthorizerFailureAlarm",
		"The key authorizer failed (requests answered "+strings.Join(authorizerFailureResponseTypes, " or ")+")",
		failures, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
}

// watchTable alarms when DynamoDB throttles reads or writes of the table.
func (m *monitoring) watchTable(table awsdynamodb.Table) {
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period()}
	throttled := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(reads, 0) + FILL(writes, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"reads":  table.Metric(jsii.String("ReadThrottleEvents"), sum),
			"writes": table.Metric(jsii.String("WriteThrottleEvents"), sum),
		},
		Label:  jsii.String("Throttled reads and writes"),
		Period: period(),
	})
	m.alarm("TableThrottleAlarm",
		"DynamoDB throttled reads or writes of the "+m.settings.name+" table",
		throttled, tableThrottleThreshold, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
}

// watchThrottles alarms when Lambda throttles any of the functions. A math
// alarm may sum at most ten metrics, so the functions are watched in groups
// of ten, in the order given.
func (m *monitoring) watchThrottles(functions []*apiFunction) {
	for start := 0; start < len(functions); start += metricsPerAlarm {
		group := functions[start:min(start+metricsPerAlarm, len(functions))]
		metrics := map[string]awscloudwatch.IMetric{}
		terms := make([]string, 0, len(group))
		names := make([]string, 0, len(group))
		for i, fn := range group {
			id := fmt.Sprintf("throttles%d", i)
			metrics[id] = fn.function.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period()})
			terms = append(terms, id)
			names = append(names, fn.name)
		}
		total := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(strings.Join(terms, " + ")),
			UsingMetrics: &metrics,
			Label:        jsii.String("Throttled invocations"),
			Period:       period(),
		})
		m.alarm(fmt.Sprintf("FunctionThrottleAlarm%d", start/metricsPerAlarm+1),
			"Lambda throttled one of: "+strings.Join(names, ", "),
			total, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	}
}

// watchRunEngine alarms on what would otherwise end runs or lose scheduled
// firings without anyone hearing of it:
//   - executions that failed (the runner's failure was caught and recorded,
//     or recording it failed too), timed out, or were aborted by anything
//     but the cancel route (StopExecution by hand, in the console); of the
//     Express machine too, failed or timed out (its five minutes are up),
//     which nothing but its log group would otherwise show (no StopExecution
//     applies to its executions, so there are no aborts to tell apart);
//   - errors of the runner (each one fails a run or its recording), of the
//     start check and of scheduled-run;
//   - any message in the schedules' dead-letter queue or in scheduled-run's
//     failure queue: each is a firing that started no run.
//
// A run whose own step fails ends its execution in Succeed (the runner
// recorded the run failed and answered done), so a failed execution is the
// engine's trouble, never a workflow's.
func (m *monitoring) watchRunEngine(e *runEngine, runner, startCheck, scheduledRun, cancelRun *apiFunction) {
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period()}
	sm := e.stateMachine
	m.alarm("RunExecutionsFailedAlarm",
		"Executions of the "+m.settings.name+" run state machine failed: a runner failure was caught (the run is recorded failed) or could not even be recorded",
		sm.MetricFailed(sum), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	m.alarm("RunExecutionsTimedOutAlarm",
		"Executions of the "+m.settings.name+" run state machine timed out",
		sm.MetricTimedOut(sum), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	express := e.expressStateMachine
	m.alarm("ExpressRunExecutionsFailedAlarm",
		"Executions of the "+m.settings.name+" Express run state machine failed: a runner failure was caught (the run is recorded failed) or could not even be recorded",
		express.MetricFailed(sum), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	m.alarm("ExpressRunExecutionsTimedOutAlarm",
		"Executions of the "+m.settings.name+" Express run state machine timed out (an Express execution lives five minutes); the start check starts their runs again",
		express.MetricTimedOut(sum), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	// Every cancel of a running run aborts its execution (StopExecution),
	// so aborts alone would page on users' cancels. Only cancel-run stops
	// executions, once per invocation at most: aborts beyond its
	// invocations in the same window were stopped by something else.
	unexplained := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(aborted, 0) - FILL(cancels, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"aborted": sm.MetricAborted(sum),
			"cancels": cancelRun.function.MetricInvocations(sum),
		},
		Label:  jsii.String("Executions aborted beyond the cancel route's invocations"),
		Period: period(),
	})
	m.alarm("RunExecutionsAbortedAlarm",
		"Executions of the "+m.settings.name+" run state machine were aborted by something other than the cancel route (StopExecution by hand); the start check records their runs' end",
		unexplained, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)

	for _, w := range []struct {
		id, what string
		fn       *apiFunction
	}{
		{"RunnerErrorAlarm", "the runner failed an Advance (the run is caught and recorded failed, or retried on a timeout)", runner},
		{"StartCheckErrorAlarm", "the start check failed (the next one, in a few minutes, does the same work)", startCheck},
		{"ScheduledRunErrorAlarm", "scheduled-run failed to start a scheduled run (Lambda retries it, then sends it to the failure queue)", scheduledRun},
	} {
		m.alarm(w.id, "On the "+m.settings.name+" stage, "+w.what,
			w.fn.function.MetricErrors(sum), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	}

	most := &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period()}
	m.alarm("ScheduleDeadLetterAlarm",
		"Scheduler could not deliver a scheduled firing to scheduled-run on the "+m.settings.name+" stage: it is in the schedules' dead-letter queue and started no run",
		e.scheduleDLQ.MetricApproximateNumberOfMessagesVisible(most), 0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	m.alarm("ScheduledRunFailureAlarm",
		"scheduled-run failed on a firing after Lambda's retries on the "+m.settings.name+" stage: it is in the failure queue and started no run",
		e.scheduledRunFailures.MetricApproximateNumberOfMessagesVisible(most), 0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
}
