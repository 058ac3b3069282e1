package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
)

// Each function writes JSON logs in Lambda's JSON format at the stage's log
// level, which the process reads from LOG_LEVEL too.
func TestFunctionsLogJSONAtTheConfiguredLevel(t *testing.T) {
	for _, tc := range []struct {
		asked, want string
	}{
		{"", stack.DefaultLogLevel},
		{"debug", "DEBUG"},
	} {
		tpl := MustSynthesizeWith(t, stack.Props{Stage: devStage, LogLevel: tc.asked})
		for id, name := range tpl.functionNames(t, devStage) {
			p := tpl.Resources[id].Properties
			logging, _ := p["LoggingConfig"].(map[string]any)
			if logging["LogFormat"] != "JSON" || logging["ApplicationLogLevel"] != tc.want {
				t.Errorf("%s (asked %q): logging %v, want JSON at %s", name, tc.asked, logging, tc.want)
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			if env["LOG_LEVEL"] != tc.want {
				t.Errorf("%s (asked %q): LOG_LEVEL %v, want %s", name, tc.asked, env["LOG_LEVEL"], tc.want)
			}
		}
	}
}

func TestTheStageLogsErrorsButNeverRequestData(t *testing.T) {
	for _, stage := range []string{devStage, "prod"} {
		t.Run(stage, func(t *testing.T) {
			tpl := MustSynthesize(t, stage)
			m := tpl.stageMethodSettings(t)
			if m["LoggingLevel"] != "ERROR" || m["DataTraceEnabled"] != false {
				t.Errorf("execution logging %v, data trace %v; want ERROR without data trace (INFO would log the key)", m["LoggingLevel"], m["DataTraceEnabled"])
			}
			// API Gateway writes execution logs to a group of its own name;
			// made by the stack, it has a retention and a deletion policy.
			var found bool
			for id, group := range tpl.resourcesOfType("AWS::Logs::LogGroup") {
				name := mustJSON(t, group.Properties["LogGroupName"])
				if !strings.Contains(name, "API-Gateway-Execution-Logs_") {
					continue
				}
				found = true
				if !strings.Contains(name, "/"+stage+`"`) {
					t.Errorf("execution log group %s is named %s, not after the %s stage", id, name, stage)
				}
				stageID := onlyKey(tpl.resourcesOfType("AWS::ApiGateway::Stage"))
				if !slices.Contains(tpl.Resources[stageID].DependsOn, id) {
					t.Errorf("the stage does not wait for its execution log group %s: API Gateway could make it first, without retention", id)
				}
			}
			if !found {
				t.Error("no execution log group: API Gateway would make one that keeps its logs forever")
			}
		})
	}
}

// API Gateway's account-wide logging role holds its actions itself, without
// the AWS managed policy CDK would attach.
func TestTheGatewaysLoggingRoleHasNoManagedPolicy(t *testing.T) {
	tpl := MustSynthesize(t, "prod")
	accounts := tpl.resourcesOfType("AWS::ApiGateway::Account")
	if len(accounts) != 1 {
		t.Fatalf("%d API Gateway account settings, want 1", len(accounts))
	}
	role := getAttOf(accounts[onlyKey(accounts)].Properties["CloudWatchRoleArn"], "Arn")
	r := tpl.Resources[role]
	if r.Properties["ManagedPolicyArns"] != nil {
		t.Errorf("the logging role %s has managed policies %v", role, r.Properties["ManagedPolicyArns"])
	}
	if r.DeletionPolicy != "Retain" || accounts[onlyKey(accounts)].DeletionPolicy != "Retain" {
		t.Error("the account's logging role and setting must outlive the stack: other APIs of the account log through them")
	}
	b := mustJSON(t, r.Properties["Policies"])
	for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		if !strings.Contains(b, action) {
			t.Errorf("the logging role may not %s: %s", action, b)
		}
	}
}

func TestTheAlarmTopicRefusesPublishingWithoutTLS(t *testing.T) {
	tpl := MustSynthesize(t, "prod")
	topic := onlyKey(tpl.resourcesOfType("AWS::SNS::Topic"))
	var denies, allowsAlarms bool
	for _, p := range tpl.resourcesOfType("AWS::SNS::TopicPolicy") {
		if refTo(p.Properties["Topics"].([]any)[0]) != topic {
			continue
		}
		for _, s := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			b := mustJSON(t, s)
			switch {
			case s["Effect"] == "Deny" && strings.Contains(b, `"aws:SecureTransport":"false"`) && strings.Contains(b, "sns:Publish"):
				denies = true
			case s["Effect"] == "Allow" && strings.Contains(b, "cloudwatch.amazonaws.com") && strings.Contains(b, "aws:SourceAccount"):
				allowsAlarms = true
			}
		}
	}
	if !denies {
		t.Error("no topic policy denies sns:Publish without aws:SecureTransport")
	}
	if !allowsAlarms {
		t.Error("the topic policy does not let this account's alarms publish")
	}
}

func TestAlarmsWatchP99LatencyAndTableThrottles(t *testing.T) {
	tpl := MustSynthesize(t, "prod")
	topic := onlyKey(tpl.resourcesOfType("AWS::SNS::Topic"))
	table := onlyKey(tpl.resourcesOfType("AWS::DynamoDB::Table"))
	var latency, throttles int
	for id, alarm := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		metrics, _ := alarm.Properties["Metrics"].([]any)
		var p99, reads, writes bool
		for _, m := range metrics {
			stat, ok := m.(map[string]any)["MetricStat"].(map[string]any)
			if !ok {
				continue
			}
			metric := stat["Metric"].(map[string]any)
			switch metric["MetricName"] {
			case "Latency":
				p99 = stat["Stat"] == "p99" && metric["Namespace"] == "AWS/ApiGateway"
			case "ReadThrottleEvents", "WriteThrottleEvents":
				onTable := strings.Contains(mustJSON(t, metric["Dimensions"]), `"Ref":"`+table+`"`)
				reads = reads || metric["MetricName"] == "ReadThrottleEvents" && onTable
				writes = writes || metric["MetricName"] == "WriteThrottleEvents" && onTable
			}
		}
		if !p99 && !(reads && writes) {
			continue
		}
		if actions := alarm.Properties["AlarmActions"].([]any); len(actions) != 1 || refTo(actions[0]) != topic {
			t.Errorf("alarm %s notifies %v, want the alarm topic", id, actions)
		}
		if p99 {
			latency++
		} else {
			throttles++
		}
	}
	if latency != 1 {
		t.Errorf("%d alarms on the stage's p99 latency, want 1", latency)
	}
	if throttles != 1 {
		t.Errorf("%d alarms on the table's read and write throttles, want 1", throttles)
	}
}
