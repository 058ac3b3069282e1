package runnerit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

// benchAccount is the account of the benchmarks' key.
const benchAccount = "acct_bench"

// benchEnv is the local gateway of one benchmark function call: a fresh
// dynalite table and key, runs driven in-process.
type benchEnv struct {
	env *gatewaytest.Env
	key string
}

func startBench(b *testing.B) benchEnv {
	b.Helper()
	return startBenchWith(b, gatewaytest.Options{DriveRuns: true})
}

func startBenchWith(b *testing.B, opts gatewaytest.Options) benchEnv {
	b.Helper()
	b.Setenv("HTTP_STEP_TARGETS", "loopback")
	env := gatewaytest.MustStart(b, opts)
	key, _ := env.MustKey(b, benchAccount)
	return benchEnv{env: env, key: key}
}

func (e benchEnv) call(b *testing.B, method, path, body string) gatewaytest.Response {
	var raw []byte
	if body != "" {
		raw = []byte(body)
	}
	return gatewaytest.Call(b, method, e.env.URL+"/api/v1"+path, e.key, "application/json", raw)
}

func (e benchEnv) workflow(b *testing.B, definition string) string {
	b.Helper()
	r := e.call(b, "POST", "/workflows", definition)
	if r.Status != 201 {
		b.Fatalf("%d %s", r.Status, r.Body)
	}
	return r.Data(b)["id"].(string)
}

// benchRuns is what runRuns measured.
type benchRuns struct {
	ids      []string
	calls    map[string]int // DynamoDB calls by operation, for all the runs
	advances int64          // the driver's Advances, for all the runs
	elapsed  time.Duration  // from the first start until the driver held no run
	// machines counts the runs by the state machine they were created for
	// (as stored: the runs' own choice, runs.MachineFor).
	machines map[orchestrator.Machine]int
}

// reportTransitions reports transitions/run: the Step Functions state
// transitions of the b.N runs started, counted as one per state entered.
// Each Advance enters the Advance Task and the Decide Choice, each run that
// ended succeeded its Done (Succeed), and each park of a run on its child
// the WaitForEvent Task, which the local driver does not invoke. ended
// counts the runs that ended (b.N, and their children), parks the parks.
func (m benchRuns) reportTransitions(b *testing.B, ended, parks int) {
	b.ReportMetric(float64(2*m.advances+int64(ended+parks))/float64(b.N), "transitions/run")
}

// reportOps reports the DynamoDB calls per run of each operation.
func (m benchRuns) reportOps(b *testing.B) {
	for _, op := range []string{"GetItem", "PutItem", "Query", "UpdateItem", "DeleteItem"} {
		b.ReportMetric(float64(m.calls[op])/float64(b.N), op+"/run")
	}
}

// runRuns starts b.N runs of wf with input from 8 concurrent clients
// (runRunsFrom for another number; the
// timer runs from the first start until the driver holds no run) and
// reports runs/s, dynamodb-calls/run and advances/run (every Advance the
// driver made meanwhile, a child's included). It then checks, off the
// clock and after the calls were counted, that every run succeeded
// (GET /runs/{id}), with check on its data if not nil. The caller reports
// the transitions (reportTransitions), which depend on the runs' shape.
func (e benchEnv) runRuns(b *testing.B, wf, input string, check func(run map[string]any) error) benchRuns {
	b.Helper()
	return e.runRunsFrom(b, 8, wf, input, check)
}

func (e benchEnv) runRunsFrom(b *testing.B, clients int, wf, input string, check func(run map[string]any) error) benchRuns {
	b.Helper()
	env := e.env
	env.Table.Calls.Reset()
	advances := env.Driver.Advances()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	for range clients {
		wg.Go(func() {
			for range next {
				r := e.call(b, "POST", "/workflows/"+wf+"/run", `{"input": `+input+`}`)
				var started struct {
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if r.Status != 202 || json.Unmarshal(r.Body, &started) != nil || started.Data.ID == "" {
					b.Errorf("%d %s", r.Status, r.Body)
					continue
				}
				mu.Lock()
				ids = append(ids, started.Data.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for giveUp := time.Now().Add(5 * time.Minute); ; {
		if total, _ := env.Driver.Driven(); total == 0 {
			break
		}
		if time.Now().After(giveUp) {
			b.Fatalf("the driver still holds runs after 5 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()

	runs := float64(b.N)
	calls := env.Table.Calls.Snapshot()
	advanced := env.Driver.Advances() - advances
	b.ReportMetric(runs/elapsed.Seconds(), "runs/s")
	b.ReportMetric(float64(env.Table.Calls.Total())/runs, "dynamodb-calls/run")
	b.ReportMetric(float64(advanced)/runs, "advances/run")
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

	var took []time.Duration
	machines := map[orchestrator.Machine]int{}
	stored := runsdb.New(env.Table.Client, env.Table.Name)
	for _, id := range ids {
		record, err := stored.Get(context.Background(), benchAccount, id)
		if err != nil {
			b.Fatalf("run %s: %v", id, err)
		}
		machines[record.Machine]++
		r := e.call(b, "GET", "/runs/"+id, "")
		if r.Status != 200 {
			b.Fatalf("GET /runs/%s: %d %.300s", id, r.Status, r.Body)
		}
		run := r.Data(b)
		if run["status"] != "succeeded" {
			b.Fatalf("run %s ended %v, want succeeded: %.500s", id, run["status"], r.Body)
		}
		if check != nil {
			if err := check(run); err != nil {
				b.Fatalf("run %s: %v", id, err)
			}
		}
		startedAt, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(run["startedAt"]))
		finishedAt, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(run["finishedAt"]))
		if err1 == nil && err2 == nil {
			took = append(took, finishedAt.Sub(startedAt))
		}
	}
	if len(took) > 0 {
		slices.Sort(took)
		b.Logf("a run from startedAt to finishedAt (%d runs, at most %d at once): median %v, longest %v", len(took), clients, took[len(took)/2], took[len(took)-1])
	}
	return benchRuns{ids: ids, calls: calls, advances: advanced, elapsed: elapsed, machines: machines}
}

// BenchmarkTransformRuns: runs per second through the local gateway for a
// 5-step transform-only workflow (POST /workflows/{id}/run, then the local
// driver runs it on dynalite), with the DynamoDB calls per run (the route's
// and the runner's, counted by dynamotest) and the Step Functions state
// transitions the same run would take (Task and Choice per Advance, and
// Succeed).
//
//	go test -run '^$' -bench TransformRuns -benchtime 200x ./internal/runner/runnerit/
func BenchmarkTransformRuns(b *testing.B) {
	e := startBench(b)
	wf := e.workflow(b, `{"name": "five transforms", "trigger": {"type": "manual"}, "steps": [
	  {"id": "s1", "type": "transform", "with": {"jq": ".input.n + 1"}},
	  {"id": "s2", "type": "transform", "with": {"jq": ".steps.s1.output * 2"}},
	  {"id": "s3", "type": "transform", "with": {"jq": "{v: .steps.s2.output}"}},
	  {"id": "s4", "type": "transform", "with": {"jq": ".steps.s3.output.v | tostring"}},
	  {"id": "s5", "type": "transform", "with": {"jq": "{result: .steps.s4.output, run: .run.id}"}}
	]}`)
	e.runRuns(b, wf, `{"n": 1}`, nil).reportTransitions(b, b.N, 0)
}

// fiveTransforms is the 5-step transform-only workflow of the run
// benchmarks (issue 17's cost and throughput figures).
const fiveTransforms = `{"name": "five transforms", "trigger": {"type": "manual"}, "steps": [
  {"id": "s1", "type": "transform", "with": {"jq": ".input.n + 1"}},
  {"id": "s2", "type": "transform", "with": {"jq": ".steps.s1.output * 2"}},
  {"id": "s3", "type": "transform", "with": {"jq": "{v: .steps.s2.output}"}},
  {"id": "s4", "type": "transform", "with": {"jq": ".steps.s3.output.v | tostring"}},
  {"id": "s5", "type": "transform", "with": {"jq": "{result: .steps.s4.output, run: .run.id}"}}
]}`

// dynaliteCeiling is how many DynamoDB calls a second the benchmarks'
// dynalite answers at most: 32 clients writing and reading back small
// items (the size of a run's and its steps') as fast as they can, for
// calls calls in all.
func dynaliteCeiling(b *testing.B, table dynamotest.Table, calls int) float64 {
	b.Helper()
	const clients = 32
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for c := range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(calls); i = next.Add(1) {
				key := store.ItemKey("BENCH#"+strconv.Itoa(c), "ITEM#"+strconv.FormatInt(i, 10))
				var err error
				if i%2 == 1 {
					item := maps.Clone(key)
					item["payload"] = &types.AttributeValueMemberS{Value: strings.Repeat("x", 300)}
					_, err = table.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item})
				} else {
					_, err = table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table.Name), Key: key, ConsistentRead: aws.Bool(true)})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(calls) / time.Since(began).Seconds()
}

// The AWS list prices (us-east-1) a run's cost is counted with, as
// docs/performance.md ("Runs: throughput, calls and cost") states them.
const (
	usdPerTransition     = 25.0 / 1e6   // Step Functions Standard
	usdPerExpressRequest = 1.00 / 1e6   // Step Functions Express, per execution
	usdPerExpressGBSec   = 0.00001667   // Express duration, the first 1,000 hours a month
	usdPerWriteUnit      = 0.625 / 1e6  // DynamoDB on-demand
	usdPerReadUnit       = 0.125 / 1e6  // strongly consistent, up to 4 KB
	usdPerLambdaRequest  = 0.20 / 1e6   // arm64
	usdPerLambdaGBSecond = 0.0000133334 // arm64
	usdPerAPIRequest     = 3.50 / 1e6   // API Gateway REST, the start's
	// The Lambda durations are assumed, not counted: 256 MB (0.25 GB)
	// for about 20 ms per route call (authorizer, run-workflow) and
	// 100 ms per Advance. An Express execution is billed its duration
	// (the Advances', rounded up to 100 ms) at 64 MB, the smallest step
	// of memory it is billed by.
	lambdaGBSecondsPer = 0.25
	routeSeconds       = 0.020
	advanceSeconds     = 0.100
	expressGB          = 0.0625
)

// costPerMillion is what a million runs like these cost in AWS on machine,
// from the counts: transitions (Standard) or executions and their duration
// (Express), DynamoDB calls (each item under 1 KB: one unit a write, one a
// read), the Lambda invocations (authorizer, route, each Advance) and the
// API Gateway request that started the run.
func (m benchRuns) costPerMillion(runs int, transitions int64, machine orchestrator.Machine) float64 {
	perRun := func(n float64) float64 { return n / float64(runs) }
	writes := perRun(float64(m.calls["PutItem"] + m.calls["UpdateItem"] + m.calls["DeleteItem"] + m.calls["BatchWriteItem"]))
	reads := perRun(float64(m.calls["GetItem"] + m.calls["Query"] + m.calls["BatchGetItem"]))
	advances := perRun(float64(m.advances))
	engine := perRun(float64(transitions)) * usdPerTransition
	if machine == orchestrator.Express {
		billed := math.Ceil(advances*advanceSeconds*10) / 10
		engine = usdPerExpressRequest + billed*expressGB*usdPerExpressGBSec
	}
	usd := engine + writes*usdPerWriteUnit + reads*usdPerReadUnit +
		(2+advances)*usdPerLambdaRequest + (2*routeSeconds+advances*advanceSeconds)*lambdaGBSecondsPer*usdPerLambdaGBSecond +
		usdPerAPIRequest
	return usd * 1e6
}

// machine is the one machine every run measured was created for (the
// benchmark fails if they differ).
func (m benchRuns) machine(b *testing.B) orchestrator.Machine {
	b.Helper()
	if len(m.machines) != 1 {
		b.Fatalf("the runs were created for several machines: %v", m.machines)
	}
	for machine := range m.machines {
		return machine
	}
	return orchestrator.Standard
}

// reportCost reports the runs' cost per million on the machine they were
// created for (usd/million-runs) and, to compare, on Standard
// (usd/million-on-standard), from the same counts; transitions are what
// the runs would take on Standard.
func (m benchRuns) reportCost(b *testing.B, transitions int64) {
	b.ReportMetric(m.costPerMillion(b.N, transitions, m.machine(b)), "usd/million-runs")
	b.ReportMetric(m.costPerMillion(b.N, transitions, orchestrator.Standard), "usd/million-on-standard")
	writes := m.calls["PutItem"] + m.calls["UpdateItem"] + m.calls["DeleteItem"]
	b.ReportMetric(float64(writes)/float64(b.N), "writes/run")
	b.Logf("machine: %q (\"\" is Standard)", m.machine(b))
}

// BenchmarkRunCost: what one million runs cost in AWS, counted from the
// calls of the two runs of issue 17's goal 3: the 5-step transform run and
// a run of one http step (to a server on 127.0.0.1 answering 200 {}), each
// on the machine it is created for and, from the same counts, on Standard.
//
//	go test -run '^$' -bench RunCost -benchtime 100x ./internal/runner/runnerit/
func BenchmarkRunCost(b *testing.B) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	b.Cleanup(server.Close)
	for _, c := range []struct{ name, definition string }{
		{"fiveTransforms", fiveTransforms},
		{"oneHTTP", `{"name": "one http", "trigger": {"type": "manual"}, "steps": [
		  {"id": "get", "type": "http", "with": {"method": "GET", "url": "` + server.URL + `/order"}}]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := startBench(b)
			wf := e.workflow(b, c.definition)
			measured := e.runRuns(b, wf, `{"n": 1}`, nil)
			measured.reportOps(b)
			measured.reportTransitions(b, b.N, 0)
			measured.reportCost(b, 2*measured.advances+int64(b.N))
		})
	}
}

// BenchmarkRunThroughput: runs per second of the 5-step transform run
// through the local gateway at 1, 8 and 32 concurrent clients, beside
// dynalite's own ceiling measured in the same run: ratio is runs/s ÷
// (ceiling ÷ DynamoDB calls per run), 1 when the API adds nothing to what
// dynalite itself can answer (issue 17, goal 4; docs/performance.md). Each
// also reports the run's cost per million in AWS, from its counted calls
// and transitions (costPerMillion).
//
//	go test -run '^$' -bench RunThroughput -benchtime 200x ./internal/runner/runnerit/
func BenchmarkRunThroughput(b *testing.B) {
	// As make dev serves it: the harness's OpenAPI check of every exchange
	// would take the CPU this measures (the runs are still checked, off the
	// clock, by GET /runs/{id}; every other benchmark keeps the check).
	e := startBenchWith(b, gatewaytest.Options{DriveRuns: true, Unchecked: true})
	wf := e.workflow(b, fiveTransforms)
	// dynalite (Node) answers slowly until its JIT has seen the calls: a
	// ceiling measured first thing came out a third low, which raised
	// c=1's ratio by as much.
	dynaliteCeiling(b, e.env.Table, 4000)
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("c=%d", clients), func(b *testing.B) {
			// A key of its own: the three together start more runs than
			// one key's execute limit allows in a minute.
			e := e
			e.key, _ = e.env.MustKey(b, benchAccount)
			// The ceiling is measured just before and just after the runs
			// and averaged: this machine's speed drifts by a fifth over a
			// minute, and a ceiling taken once, at the start, put that
			// drift into every ratio.
			before := dynaliteCeiling(b, e.env.Table, 4000)
			measured := e.runRunsFrom(b, clients, wf, `{"n": 1}`, nil)
			after := dynaliteCeiling(b, e.env.Table, 4000)
			ceiling := (before + after) / 2
			b.Logf("dynalite's ceiling: %.0f calls/s before the runs, %.0f after (32 clients, PutItem and GetItem of 300-byte items)", before, after)
			perRun := float64(0)
			for _, n := range measured.calls {
				perRun += float64(n)
			}
			perRun /= float64(b.N)
			b.ReportMetric(ceiling, "ceiling-calls/s")
			b.ReportMetric(float64(b.N)/measured.elapsed.Seconds()/(ceiling/perRun), "ratio")
			measured.reportTransitions(b, b.N, 0)
			measured.reportCost(b, 2*measured.advances+int64(b.N))
		})
	}
}

// BenchmarkFanOutRuns: the same measure for a run of one fan-out step of
// http items sent to a local server on 127.0.0.1 that answers 200 {} at
// once: a foreach of 100 items at concurrency 10 (POST), and a parallel of
// three GETs. Besides the totals it reports the DynamoDB calls per run of
// each operation, and http-calls/run, the requests the server received
// (every item once: fewer fails the benchmark). It logs the sizes of what
// the last run left in DynamoDB (attribute names and values, in bytes),
// from which the write units are worked out (docs/performance.md).
//
//	go test -run '^$' -bench FanOutRuns -benchtime 20x ./internal/runner/runnerit/
func BenchmarkFanOutRuns(b *testing.B) {
	cases := []struct {
		name  string
		items int
		steps func(url string) string
	}{
		{"foreach100c10", 100, func(url string) string {
			return `[{"id": "each", "type": "foreach", "with": {"items": "[range(100)]", "concurrency": 10,
			  "step": {"type": "http", "with": {"method": "POST", "url": "` + url + `/items/{{ .item }}", "body": {"n": "{{ .index }}"}}}}}]`
		}},
		{"parallel3", 3, func(url string) string {
			return `[{"id": "all", "type": "parallel", "with": {"steps": [
			  {"id": "a", "type": "http", "with": {"method": "GET", "url": "` + url + `/a"}},
			  {"id": "b", "type": "http", "with": {"method": "GET", "url": "` + url + `/b"}},
			  {"id": "c", "type": "http", "with": {"method": "GET", "url": "` + url + `/c"}}]}}]`
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var hits atomic.Int64
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			}))
			b.Cleanup(server.Close)
			e := startBench(b)
			wf := e.workflow(b, `{"name": "`+c.name+`", "trigger": {"type": "manual"}, "steps": `+c.steps(server.URL)+`}`)
			hits.Store(0)
			measured := e.runRuns(b, wf, `{}`, func(run map[string]any) error {
				var n int
				switch out := run["output"].(type) {
				case []any:
					n = len(out)
				case map[string]any:
					n = len(out)
				}
				if n != c.items {
					return fmt.Errorf("output has %d item outputs, want %d", n, c.items)
				}
				return nil
			})
			measured.reportTransitions(b, b.N, 0)
			measured.reportOps(b)
			runs := float64(b.N)
			sent := hits.Load()
			b.ReportMetric(float64(sent)/runs, "http-calls/run")
			if want := int64(c.items * b.N); sent < want {
				b.Fatalf("the server received %d requests, want %d (every item once)", sent, want)
			} else if sent > want {
				b.Logf("the server received %d requests for %d items: some were sent again", sent, want)
			}
			if len(measured.ids) > 0 {
				b.Log(sizesOf(b, e.env.Table, measured.ids[len(measured.ids)-1]))
			}
		})
	}
}

// BenchmarkChildRuns: the same measure for runs with a workflow step
// (issue 15). parentChild is a parent of two steps: a workflow step whose
// child is a 1-step transform workflow, then a transform of the child's
// output. Every figure is per parent run, its child counted in it: the
// DynamoDB calls of each operation, the driver's Advances (the child's
// too), and the Step Functions state transitions of both executions.
//
// Off the clock it checks that every parent succeeded with the child's
// output (GET /runs/{id}), that it has exactly one child (GET
// /runs?parentRunId=), succeeded with that output (GET /runs/{child}), and
// counts the parks from what the runs wrote: a run's item is written once
// per status it takes, so a parent that parked once has revision 5
// (queued, running, waiting, running, succeeded), one whose child had ended
// before it looked 3, and every child 3. Each park is a WaitForEvent Task
// in Step Functions and one more Advance of the parent; the benchmark logs
// the Advances those records account for beside the driver's count.
//
//	HTTP_STEP_TARGETS=loopback go test -run '^$' -bench ChildRuns/parentChild -benchtime 20x ./internal/runner/runnerit/
func BenchmarkChildRuns(b *testing.B) {
	b.Run("parentChild", func(b *testing.B) {
		e := startBench(b)
		child := e.workflow(b, `{"name": "child", "trigger": {"type": "manual"}, "steps": [
		  {"id": "double", "type": "transform", "with": {"jq": "{doubled: (.input.n * 2)}"}}]}`)
		parent := e.workflow(b, `{"name": "parent", "trigger": {"type": "manual"}, "steps": [
		  {"id": "kid", "type": "workflow", "with": {"workflowId": "`+child+`", "input": "{n: .input.n}"}},
		  {"id": "after", "type": "transform", "with": {"jq": "{fromChild: .steps.kid.output}"}}]}`)
		const childOutput = `{"doubled":42}`
		childOf := map[string]string{} // parent run id → its workflow step's child
		measured := e.runRuns(b, parent, `{"n": 21}`, func(run map[string]any) error {
			kid := stepsOf(run)["kid"]
			id, _ := kid["childRunId"].(string)
			if kid["status"] != "succeeded" || jsonOf(kid["output"]) != childOutput || id == "" {
				return fmt.Errorf("workflow step %s, want succeeded with %s and its child's id", jsonOf(kid), childOutput)
			}
			if got := jsonOf(run["output"]); got != `{"fromChild":`+childOutput+`}` {
				return fmt.Errorf("output %s, want the child's output", got)
			}
			childOf[run["id"].(string)] = id
			return nil
		})
		measured.reportOps(b)

		ctx := context.Background()
		records := runsdb.New(e.env.Table.Client, e.env.Table.Name)
		revision := func(runID string) int64 {
			run, err := records.Get(ctx, benchAccount, runID)
			if err != nil {
				b.Fatalf("read run %s: %v", runID, err)
			}
			return run.Revision
		}
		parks, parked := 0, 0
		for _, id := range measured.ids {
			childID := childOf[id]
			r := e.call(b, "GET", "/runs?parentRunId="+id, "")
			if r.Status != 200 {
				b.Fatalf("GET /runs?parentRunId=%s: %d %.300s", id, r.Status, r.Body)
			}
			list, _ := r.JSON(b)["data"].([]any)
			if len(list) != 1 {
				b.Fatalf("parent %s has %d children, want 1: %.500s", id, len(list), r.Body)
			}
			if c, _ := list[0].(map[string]any); c["id"] != childID || c["parentRunId"] != id || c["status"] != "succeeded" {
				b.Fatalf("parent %s lists %s, want its step's child %s, succeeded", id, jsonOf(c), childID)
			}
			r = e.call(b, "GET", "/runs/"+childID, "")
			if r.Status != 200 {
				b.Fatalf("GET /runs/%s: %d %.300s", childID, r.Status, r.Body)
			}
			if c := r.Data(b); c["status"] != "succeeded" || jsonOf(c["output"]) != childOutput || c["trigger"] != "workflow" || c["parentRunId"] != id {
				b.Fatalf("child %s, want succeeded with %s, trigger workflow, parent %s", jsonOf(c), childOutput, id)
			}
			if rev := revision(childID); rev != 3 {
				b.Fatalf("child %s has revision %d, want 3 (queued, running, succeeded)", childID, rev)
			}
			rev := revision(id)
			if rev < 3 || rev%2 == 0 {
				b.Fatalf("parent %s has revision %d, want 3 and 2 more per park", id, rev)
			}
			if k := int(rev-3) / 2; k > 0 {
				parks, parked = parks+k, parked+1
			}
		}
		b.ReportMetric(float64(parks)/float64(b.N), "parks/run")
		measured.reportTransitions(b, 2*b.N, parks)
		// Each parent advances once and once more per park; each child
		// once.
		b.Logf("%d of %d parents parked (%d parks); the driver made %d Advances, the runs' records account for %d",
			parked, b.N, parks, measured.advances, b.N+parks+b.N)
		if len(measured.ids) > 0 {
			last := measured.ids[len(measured.ids)-1]
			b.Logf("parent %s; child %s", sizesOf(b, e.env.Table, last), sizesOf(b, e.env.Table, childOf[last]))
		}
	})
}

// sizesOf tells the sizes of a finished run's items in DynamoDB: the run,
// its step records, its child records and its fan-out items, each the bytes
// of its attribute names and values (dynamotest.AttributeBytes: about
// DynamoDB's item size, which adds a few bytes for numbers, maps and
// lists).
func sizesOf(b *testing.B, table dynamotest.Table, runID string) string {
	b.Helper()
	ctx := context.Background()
	size := func(item map[string]types.AttributeValue) int {
		n := 0
		for name, av := range item {
			for _, part := range dynamotest.AttributeBytes(name, av) {
				n += len(part)
			}
		}
		return n
	}
	run, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table.Name),
		Key:       store.ItemKey(store.AccountPK(benchAccount), store.RunSK(runID)),
	})
	if err != nil || run.Item == nil {
		b.Fatalf("get run %s: %v", runID, err)
	}
	line := "bytes: run item " + strconv.Itoa(size(run.Item))
	in := &dynamodb.QueryInput{
		TableName:              aws.String(table.Name),
		KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: store.RunStepsPK(runID)},
		},
	}
	var items, itemBytes, itemMax int
	for {
		out, err := table.Client.Query(ctx, in)
		if err != nil {
			b.Fatalf("query the steps of %s: %v", runID, err)
		}
		for _, it := range out.Items {
			sk, _ := it[store.AttrSK].(*types.AttributeValueMemberS)
			switch n := size(it); {
			case sk != nil && strings.HasPrefix(sk.Value, store.PrefixItem):
				items, itemBytes, itemMax = items+1, itemBytes+n, max(itemMax, n)
			case sk != nil && strings.HasPrefix(sk.Value, store.PrefixChild):
				line += fmt.Sprintf(", %s record %d", store.PrefixChild, n)
			case sk != nil:
				line += fmt.Sprintf(", %s %d", sk.Value, n)
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if items > 0 {
		line += fmt.Sprintf(", %d fan-out items of %d on average (largest %d)", items, itemBytes/items, itemMax)
	}
	return line
}
