package runnerit

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

// BenchmarkTransformRuns: runs per second through the local gateway for a
// 5-step transform-only workflow (POST /workflows/{id}/run, then the local
// driver runs it on dynalite), with the DynamoDB calls per run (the route's
// and the runner's, counted by dynamotest) and the Step Functions state
// transitions the same run would take (Task and Choice per Advance, and
// Succeed).
//
//	go test -run '^$' -bench TransformRuns -benchtime 200x ./internal/runner/runnerit/
func BenchmarkTransformRuns(b *testing.B) {
	b.Setenv("HTTP_STEP_TARGETS", "loopback")
	env := gatewaytest.MustStart(b, gatewaytest.Options{DriveRuns: true})
	key, _ := env.MustKey(b, "acct_bench")
	post := func(path, body string) gatewaytest.Response {
		return gatewaytest.Call(b, "POST", env.URL+"/api/v1"+path, key, "application/json", []byte(body))
	}
	r := post("/workflows", `{"name": "five transforms", "trigger": {"type": "manual"}, "steps": [
	  {"id": "s1", "type": "transform", "with": {"jq": ".input.n + 1"}},
	  {"id": "s2", "type": "transform", "with": {"jq": ".steps.s1.output * 2"}},
	  {"id": "s3", "type": "transform", "with": {"jq": "{v: .steps.s2.output}"}},
	  {"id": "s4", "type": "transform", "with": {"jq": ".steps.s3.output.v | tostring"}},
	  {"id": "s5", "type": "transform", "with": {"jq": "{result: .steps.s4.output, run: .run.id}"}}
	]}`)
	if r.Status != 201 {
		b.Fatalf("%d %s", r.Status, r.Body)
	}
	wf := r.Data(b)["id"].(string)

	const clients = 8
	env.Table.Calls.Reset()
	advances := env.Driver.Advances()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	for range clients {
		wg.Go(func() {
			for range next {
				if r := post("/workflows/"+wf+"/run", `{"input": {"n": 1}}`); r.Status != 202 {
					b.Errorf("%d %s", r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()
	for {
		if total, _ := env.Driver.Driven(); total == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()

	runs := float64(b.N)
	calls := env.Table.Calls.Snapshot()
	adv := float64(env.Driver.Advances() - advances)
	b.ReportMetric(runs/elapsed.Seconds(), "runs/s")
	b.ReportMetric(float64(env.Table.Calls.Total())/runs, "dynamodb-calls/run")
	b.ReportMetric(adv/runs, "advances/run")
	b.ReportMetric((2*adv+runs)/runs, "transitions/run")
	ops := make([]string, 0, len(calls))
	for op := range calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var line string
	for _, op := range ops {
		line += fmt.Sprintf(" %s=%.2f", op, float64(calls[op])/runs)
	}
	b.Logf("per run:%s", line)
}
