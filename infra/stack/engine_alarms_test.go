package stack_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/routes"
)

// alarmMetrics is an alarm's metrics as "namespace/name@dimension-ref"
// (a math alarm's every metric, a plain alarm's one), with its expression.
func (t *cfnTemplate) alarmMetrics(tb testing.TB, alarm resource) (metrics map[string]string, expression string) {
	tb.Helper()
	metrics = map[string]string{}
	describe := func(namespace, name any, dimensions any) string {
		var ref string
		for _, d := range asList(dimensions) {
			ref = refTo(d.(map[string]any)["Value"])
			if ref == "" {
				ref = getAttOf(d.(map[string]any)["Value"], "QueueName")
			}
		}
		return namespace.(string) + "/" + name.(string) + "@" + ref
	}
	p := alarm.Properties
	if name, ok := p["MetricName"]; ok {
		metrics["m"] = describe(p["Namespace"], name, p["Dimensions"])
		return metrics, ""
	}
	for _, m := range asList(p["Metrics"]) {
		m := m.(map[string]any)
		if e, ok := m["Expression"].(string); ok {
			expression = e
			continue
		}
		stat := m["MetricStat"].(map[string]any)
		metric := stat["Metric"].(map[string]any)
		metrics[m["Id"].(string)] = describe(metric["Namespace"], metric["MetricName"], metric["Dimensions"])
	}
	return metrics, expression
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// The run engine's alarms, each to the alarm topic: failed, timed-out and
// unexplained aborted executions; failed and timed-out Express ones (no
// StopExecution applies to them); errors of the runner, the start check and
// scheduled-run; any message in either queue of lost firings.
func TestAlarmsWatchTheRunEngine(t *testing.T) {
	tpl := MustSynthesize(t, "prod")
	topic := onlyKey(tpl.resourcesOfType("AWS::SNS::Topic"))
	stateMachine, express := tpl.stateMachines(t)
	dlq, failures := tpl.failureQueues(t)
	fn := func(name string) string {
		for id, n := range tpl.functionNames(t, "prod") {
			if n == name {
				return id
			}
		}
		t.Fatalf("no function %s", name)
		return ""
	}
	want := map[string]bool{
		"AWS/States/ExecutionsFailed@" + stateMachine:                           false,
		"AWS/States/ExecutionsTimedOut@" + stateMachine:                         false,
		"AWS/States/ExecutionsAborted@" + stateMachine:                          false,
		"AWS/States/ExecutionsFailed@" + express:                                false,
		"AWS/States/ExecutionsTimedOut@" + express:                              false,
		"AWS/Lambda/Errors@" + fn(routes.RunnerFunction):                        false,
		"AWS/Lambda/Errors@" + fn(routes.StartCheckFunction):                    false,
		"AWS/Lambda/Errors@" + fn(routes.ScheduledRunFunction):                  false,
		"AWS/SQS/ApproximateNumberOfMessagesVisible@" + dlq:                     false,
		"AWS/SQS/ApproximateNumberOfMessagesVisible@" + failures:                false,
		"AWS/Lambda/Invocations@" + fn(routes.CancelRun.Function) + " (aborts)": false,
	}
	for id, alarm := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		metrics, expression := tpl.alarmMetrics(t, alarm)
		for _, m := range metrics {
			if _, watched := want[m]; !watched {
				continue
			}
			want[m] = true
			if actions := asList(alarm.Properties["AlarmActions"]); len(actions) != 1 || refTo(actions[0]) != topic {
				t.Errorf("alarm %s on %s notifies %v, want the alarm topic", id, m, actions)
			}
			p := alarm.Properties
			switch {
			case strings.HasPrefix(m, "AWS/SQS/"):
				// Any one message: a firing that started no run.
				if p["ComparisonOperator"] != "GreaterThanThreshold" || p["Threshold"] != 0.0 || p["Statistic"] != "Maximum" {
					t.Errorf("alarm %s on %s: %v %v of %v; want the maximum above 0", id, m, p["ComparisonOperator"], p["Threshold"], p["Statistic"])
				}
			case strings.HasPrefix(m, "AWS/States/ExecutionsAborted"):
				// Cancels abort executions: only aborts beyond the cancel
				// route's invocations page anyone.
				var cancels string
				for mid, other := range metrics {
					if other == "AWS/Lambda/Invocations@"+fn(routes.CancelRun.Function) {
						cancels = mid
					}
				}
				if cancels == "" || !strings.Contains(expression, "- FILL("+cancels+", 0)") {
					t.Errorf("alarm %s counts aborts as %q with %v; want them less the cancel route's invocations", id, expression, metrics)
				} else {
					want["AWS/Lambda/Invocations@"+fn(routes.CancelRun.Function)+" (aborts)"] = true
				}
				fallthrough
			default:
				if p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["Threshold"] != 1.0 {
					t.Errorf("alarm %s on %s: %v %v; want one or more", id, m, p["ComparisonOperator"], p["Threshold"])
				}
			}
		}
	}
	for m, found := range want {
		if !found {
			t.Errorf("no alarm on %s", m)
		}
	}
}

// The runner's reserved concurrency: none on throwaway stages unless asked
// (a new account has too little to reserve any), the default on the others,
// 0 always none (never Lambda's 0, which would stop every run), and no other
// function ever reserves any.
func TestTheRunnerReservesConcurrencyFromContext(t *testing.T) {
	n := func(i int) *int { return &i }
	for _, tc := range []struct {
		stage string
		asked *int
		want  any
	}{
		{devStage, nil, nil},
		{"dev-alice", nil, nil},
		{"prod", nil, float64(stack.DefaultRunnerReservedConcurrency)},
		{"prod", n(0), nil},
		{devStage, n(25), 25.0},
	} {
		tpl := MustSynthesizeWith(t, stack.Props{Stage: tc.stage, RunnerReservedConcurrency: tc.asked})
		for id, name := range tpl.functionNames(t, tc.stage) {
			got := tpl.Resources[id].Properties["ReservedConcurrentExecutions"]
			want := tc.want
			if name != routes.RunnerFunction {
				want = nil
			}
			if got != want {
				t.Errorf("%s on %s (asked %v): reserved concurrency %v, want %v", name, tc.stage, tc.asked, got, want)
			}
		}
	}
	app := func(v string) func(string) any {
		return func(key string) any {
			if key == stack.RunnerReservedConcurrencyContext {
				return v
			}
			return nil
		}
	}
	if props, err := stack.PropsFromContext(app("0")); err != nil || props.RunnerReservedConcurrency == nil || *props.RunnerReservedConcurrency != 0 {
		t.Errorf("-c %s=0 reads as %v, %v; want an explicit 0 (none), not the default", stack.RunnerReservedConcurrencyContext, props.RunnerReservedConcurrency, err)
	}
	if props, err := stack.PropsFromContext(app("")); err != nil || props.RunnerReservedConcurrency != nil {
		t.Errorf("no -c %s reads as %v, %v; want the stage's default", stack.RunnerReservedConcurrencyContext, props.RunnerReservedConcurrency, err)
	}
	if _, err := stack.PropsFromContext(app("ten")); err == nil {
		t.Error("-c runnerReservedConcurrency=ten was accepted")
	}
	if _, err := stack.NewWorkflowsStack(nil, "x", &stack.Props{Stage: devStage, RunnerReservedConcurrency: n(-1)}); err == nil || !strings.Contains(err.Error(), stack.RunnerReservedConcurrencyContext) {
		t.Errorf("a negative reservation: %v, want an error naming %s", err, stack.RunnerReservedConcurrencyContext)
	}
}

// `cdk synth` and `cdk deploy` build the binaries first (cdk.json's build
// command, which CDK runs before the app), so a deploy never ships stale
// ones; `make lambdas` relinks only what changed, so the second build in
// `make synth` costs a fraction of a second.
func TestCdkBuildsTheLambdasBeforeEverySynth(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct{ App, Build string }
	if err := json.Unmarshal(raw, &cdk); err != nil {
		t.Fatal(err)
	}
	if cdk.Build != "make -C .. lambdas" {
		t.Errorf("cdk.json's build is %q, want `make -C .. lambdas` (the repository root's target, from infra/)", cdk.Build)
	}
	mk, err := os.ReadFile(filepath.Join("..", "infra.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "\nlambdas:\n") {
		t.Error("infra.mk has no lambdas target for cdk.json's build to run")
	}
}
