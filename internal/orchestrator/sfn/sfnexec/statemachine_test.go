//go:build samlocal

// These tests need what scripts/test-state-machine.sh starts: dynalite,
// moto's server (its Step Functions interpreter calls Lambda at
// localhost:$MOTO_PORT, which is the shim below), `sam local start-lambda`
// serving the runner binary, and forwarders from the Docker bridge. Run
// them with that script.
package sfnexec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/orchestrator"
	"github.com/workflowsapi/workflows/internal/orchestrator/local"
	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
	"github.com/workflowsapi/workflows/internal/workflows/inputschema"
)

const (
	account = "acct_sfnexec"
	// The functions of the script's template: both are the runner
	// binary (functions/runner), built as `make lambdas` builds it.
	fnRunner = "RunnerFunction" // template.yaml's runner, its timeout (900 s)
	// Timeout 5 s: its budget (the deadline less the runner's 5 s margin)
	// is spent as soon as it starts. Its DynamoDB is behind the stall proxy.
	fnBrief = "RunnerBriefFunction"
)

// timeouts are the functions' Lambda timeouts, which the local driver's
// Advances get as their context's deadline, as Lambda gives the runner's.
var timeouts = map[string]time.Duration{fnRunner: 900 * time.Second, fnBrief: 5 * time.Second}

func functionARN(name string) string {
	return "arn:aws:lambda:us-east-1:123456789012:function:" + name
}

type setup struct {
	motoURL, samURL, shimAddr, stallAddr, dynamoURL, table, report string
}

func fromEnv(t *testing.T) setup {
	s := setup{
		motoURL: os.Getenv("SFNEXEC_MOTO"), samURL: os.Getenv("SFNEXEC_SAM"), shimAddr: os.Getenv("SFNEXEC_SHIM_LISTEN"),
		stallAddr: os.Getenv("SFNEXEC_STALL_LISTEN"), dynamoURL: os.Getenv("DYNAMODB_ENDPOINT"), table: os.Getenv("TABLE_NAME"),
		report: os.Getenv("SFNEXEC_REPORT"),
	}
	if s.motoURL == "" || s.samURL == "" || s.shimAddr == "" || s.stallAddr == "" || s.dynamoURL == "" || s.table == "" {
		t.Fatal("run these tests with scripts/test-state-machine.sh (SFNEXEC_MOTO, SFNEXEC_SAM, SFNEXEC_SHIM_LISTEN, SFNEXEC_STALL_LISTEN, DYNAMODB_ENDPOINT and TABLE_NAME unset)")
	}
	return s
}

// stall slows down the DynamoDB requests that name a run it is told to
// hang: each waits stallDelay (within the store's 2 s an attempt) before it
// goes on to dynalite, or is dropped if its caller has gone. The runner of
// such a run reads the run, its workflow version and its steps (three
// requests, 5.4 s) before its first write, so it runs out of its 5 s with
// nothing written. Everything else goes on to dynalite at once.
type stall struct {
	mu     sync.Mutex
	hung   map[string]bool
	target string
	held   int
}

func (s *stall) set(runID string, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hung[runID] = hang
}

func (s *stall) hangs(body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, on := range s.hung {
		if on && bytes.Contains(body, []byte(id)) {
			s.held++
			return true
		}
	}
	return false
}

func (s *stall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if s.hangs(body) {
		select {
		case <-r.Context().Done(): // the invocation was ended: nothing reaches dynalite
			return
		case <-time.After(stallDelay):
		}
	}
	forward(w, r, s.target, body, nil)
}

// forward sends r (with body) to target and writes the answer, after edit.
func forward(w http.ResponseWriter, r *http.Request, target string, body []byte, edit func(*http.Response, []byte) []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if edit != nil {
		out = edit(resp, out)
	}
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// timedOutBody is what the Runtime Interface Emulator under `sam local`
// answers for an invocation that ran out of time: status 200, this text,
// and no X-Amz-Function-Error, so Step Functions would take it for the
// runner's answer. Lambda itself answers an error of type Sandbox.Timedout.
var timedOutBody = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

const stallDelay = 1800 * time.Millisecond

type invocation struct {
	function string
	runID    string
	record   bool // RecordFailure's invocation (the task carries a failure)
	elapsed  time.Duration
	cold     bool // the function's first invocation: SAM creates its container
	timedOut bool
}

// shim is what moto's interpreter calls as Lambda (localhost:$MOTO_PORT):
// it passes every Invoke on to `sam local start-lambda`, times it, tells the
// stall proxy which invocations of the timeout run hang (its Advances, not
// its RecordFailure), and turns the emulator's answer for a timed-out
// invocation into Lambda's (FunctionError Unhandled, errorType
// Sandbox.Timedout). It changes nothing else.
type shim struct {
	sam   string
	stall *stall

	mu       sync.Mutex
	hangRuns map[string]bool
	seen     map[string]bool
	calls    []invocation
}

func (s *shim) hang(runID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangRuns[runID] = true
}

func (s *shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var task runner.Task
	_ = json.Unmarshal(body, &task)
	function := r.URL.Path
	if parts := strings.Split(strings.TrimSuffix(r.URL.Path, "/invocations"), "/"); len(parts) > 0 {
		function, _ = url.PathUnescape(parts[len(parts)-1])
		function = function[strings.LastIndex(function, ":")+1:]
	}
	s.mu.Lock()
	if s.hangRuns[task.RunID] {
		s.stall.set(task.RunID, task.Failure == nil)
	}
	cold := !s.seen[function]
	s.seen[function] = true
	s.mu.Unlock()

	call := invocation{function: function, runID: task.RunID, record: task.Failure != nil, cold: cold}
	start := time.Now()
	forward(w, r, s.sam, body, func(resp *http.Response, out []byte) []byte {
		call.elapsed = time.Since(start)
		if resp.Header.Get("X-Amz-Function-Error") != "" || !timedOutBody.Match(bytes.TrimSpace(out)) {
			return out
		}
		call.timedOut = true
		resp.Header.Set("X-Amz-Function-Error", "Unhandled")
		msg, _ := json.Marshal(map[string]string{"errorType": "Sandbox.Timedout", "errorMessage": "Error: " + string(bytes.TrimSpace(out))})
		return msg
	})
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

func serve(t *testing.T, addr string, h http.Handler) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// runKind is one kind of run, taken through both drivers.
type runKind struct {
	name       string
	function   string
	definition string
	input      string
	cancel     bool // cancel the run once it waits
	hang       bool // its runner hangs on DynamoDB until its timeout
	// express: runs are created for the Express machine where they may
	// be (runs.MachineFor), and this one must be.
	express bool
	// wantPath is the ASL states entered, with the errors of the Task
	// attempts that failed (!Error), and the execution's status; a regular
	// expression if wantPathRE.
	wantPath   string
	wantPathRE bool
	wantStatus runs.Status
	check      func(t *testing.T, v view)
}

// straightThrough is a run of a transform, a condition that jumps over a
// step, and a transform, named name, on machine express or not.
func straightThrough(name string, express bool) runKind {
	return runKind{
		name: name, function: fnRunner, input: `{"n": 21}`, express: express,
		definition: `{"name": "` + name + `", "trigger": {"type": "manual"}, "steps": [
		  {"id": "double", "type": "transform", "with": {"jq": ".input.n * 2"}},
		  {"id": "big", "type": "condition", "with": {"jq": ".steps.double.output > 100"}, "else": "summary"},
		  {"id": "skipped", "type": "transform", "with": {"jq": "1"}},
		  {"id": "summary", "type": "transform", "with": {"jq": "{d: .steps.double.output, wf: .workflow.name}"}}]}`,
		wantPath:   "Advance > Decide > Done | SUCCEEDED",
		wantStatus: runs.StatusSucceeded,
		check: func(t *testing.T, v view) {
			if v.Output != `{"d":42,"wf":"`+name+`"}` || v.Steps[2].Status != runs.StepSkipped {
				t.Errorf("output %s, steps %+v", v.Output, v.Steps)
			}
		},
	}
}

var kinds = []runKind{
	straightThrough("straight", false),
	// The same run on the Express machine (sfn.ExpressDefinition): one
	// Advance, and the execution succeeds.
	straightThrough("express", true),
	{
		name: "delay", function: fnRunner, input: `{}`,
		definition: `{"name": "delay", "trigger": {"type": "manual"}, "steps": [
		  {"id": "before", "type": "transform", "with": {"jq": "\"before\""}},
		  {"id": "pause", "type": "delay", "with": {"seconds": 2}},
		  {"id": "after", "type": "transform", "with": {"jq": "[.steps.before.output, .steps.pause.status]"}}]}`,
		wantPath:   "Advance > Decide > Wait > Advance > Decide > Done | SUCCEEDED",
		wantStatus: runs.StatusSucceeded,
		check: func(t *testing.T, v view) {
			if v.Output != `["before","succeeded"]` {
				t.Errorf("output %s", v.Output)
			}
		},
	},
	{
		// The http step reaches 127.0.0.1 only (HTTP_STEP_TARGETS=loopback),
		// which in the runner's container is the container: nothing listens
		// on port 1, every attempt is refused (retryable), and each back-off
		// goes through the Wait state, as RunnerBriefFunction's budget is
		// spent as soon as it starts.
		name: "retry", function: fnBrief, input: `{}`,
		definition: `{"name": "retry", "trigger": {"type": "manual"}, "steps": [
		  {"id": "call", "type": "http", "with": {"method": "GET", "url": "http://127.0.0.1:1/"}, "retry": {"maxAttempts": 3}}]}`,
		wantPath:   "Advance > Decide > Wait > Advance > Decide > Wait > Advance > Decide > Done | SUCCEEDED",
		wantStatus: runs.StatusFailed,
		check: func(t *testing.T, v view) {
			if v.Steps[0].Attempts != 3 || v.Error == nil || v.Error.Code != engine.CodeConnectionError || v.Error.Step != "call" {
				t.Errorf("error %+v, steps %+v", v.Error, v.Steps)
			}
		},
	},
	{
		name: "step-failure", function: fnRunner, input: `{}`,
		definition: `{"name": "step-failure", "trigger": {"type": "manual"}, "steps": [
		  {"id": "fine", "type": "transform", "with": {"jq": "1"}},
		  {"id": "broken", "type": "transform", "with": {"jq": "error(\"no such order\")"}},
		  {"id": "never", "type": "transform", "with": {"jq": "2"}}]}`,
		wantPath:   "Advance > Decide > Done | SUCCEEDED",
		wantStatus: runs.StatusFailed,
		check: func(t *testing.T, v view) {
			if v.Error == nil || v.Error.Step != "broken" || len(v.Steps) != 2 || v.Steps[1].Status != runs.StepFailed {
				t.Errorf("error %+v, steps %+v", v.Error, v.Steps)
			}
		},
	},
	{
		name: "cancel", function: fnRunner, input: `{}`, cancel: true,
		definition: `{"name": "cancel", "trigger": {"type": "manual"}, "steps": [
		  {"id": "first", "type": "transform", "with": {"jq": "1"}},
		  {"id": "pause", "type": "delay", "with": {"seconds": 600}},
		  {"id": "never", "type": "transform", "with": {"jq": "2"}}]}`,
		wantPath:   "Advance > Decide > Wait | ABORTED",
		wantStatus: runs.StatusCancelled,
		check: func(t *testing.T, v view) {
			if len(v.Steps) != 2 || v.Steps[1].Status != runs.StepCancelled {
				t.Errorf("steps %+v", v.Steps)
			}
		},
	},
	{
		// The runner's DynamoDB calls are slowed down until it runs out of
		// its 5 s: Lambda ends it (Sandbox.Timedout), Advance retries that
		// twice, then the catch has RecordFailure (not slowed) record the
		// run failed.
		name: "timeout", function: fnBrief, input: `{}`, hang: true,
		definition: `{"name": "timeout", "trigger": {"type": "manual"}, "steps": [
		  {"id": "only", "type": "transform", "with": {"jq": "1"}}]}`,
		// RecordFailure may time out too, and is retried (twice at most):
		// the emulator counts the start of the runtime it reset (seconds of
		// an arm64 binary under QEMU) in the next invocation's timeout,
		// where Lambda gives a new sandbox's start an init phase of its own.
		wantPath:   `^Advance( !Sandbox\.Timedout){3} > RecordFailure( !Sandbox\.Timedout){0,2} > Failed \| FAILED$`,
		wantPathRE: true,
		wantStatus: runs.StatusFailed,
		check: func(t *testing.T, v view) {
			if v.Error == nil || v.Error.Code != runner.CodeEngineError || len(v.Steps) != 0 {
				t.Errorf("error %+v, steps %+v", v.Error, v.Steps)
			}
		},
	},
}

// view is a run as both drivers must leave it: no ids, no times.
type view struct {
	Status runs.Status
	Error  *runs.Error
	Output string
	Steps  []stepView
}

type stepView struct {
	ID       string
	Status   runs.StepStatus
	Attempts int
	Output   string
	Error    *runs.Error
}

func viewOf(run runs.Run, steps []runs.Step) view {
	v := view{Status: run.Status, Error: run.Error, Output: string(run.Output)}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Index < steps[j].Index })
	for _, s := range steps {
		v.Steps = append(v.Steps, stepView{ID: s.StepID, Status: s.Status, Attempts: s.Attempts, Output: string(s.Output), Error: s.Error})
	}
	return v
}

func (v view) String() string {
	b, _ := json.Marshal(v)
	return string(b)
}

type fixture struct {
	setup
	db        *dynamodb.Client
	stallDB   *dynamodb.Client
	runsStore *runsdb.Store
	wfStore   *workflowsdb.Store
	wfService *workflows.Service
	sfnClient *awssfn.Client
	machines  map[string]*sfn.Orchestrator // by function
	// expressARNs are the Express machines, by function.
	expressARNs map[string]string
	shim        *shim
	stall       *stall
	runner      *runner.Runner // on dynalite
	briefRun    *runner.Runner // on the stall proxy, as RunnerBriefFunction
}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	s := fromEnv(t)
	t.Setenv("HTTP_STEP_TARGETS", "loopback")
	f := &fixture{setup: s, machines: map[string]*sfn.Orchestrator{}, expressARNs: map[string]string{}}

	f.stall = &stall{hung: map[string]bool{}, target: s.dynamoURL}
	serve(t, s.stallAddr, f.stall)
	f.shim = &shim{sam: s.samURL, stall: f.stall, hangRuns: map[string]bool{}, seen: map[string]bool{}}
	serve(t, s.shimAddr, f.shim)

	var err error
	if f.db, err = store.NewClient(ctx, store.Config{Endpoint: s.dynamoURL, TableName: s.table}); err != nil {
		t.Fatal(err)
	}
	if f.stallDB, err = store.NewClient(ctx, store.Config{Endpoint: "http://" + s.stallAddr, TableName: s.table}); err != nil {
		t.Fatal(err)
	}
	f.runsStore, f.wfStore = runsdb.New(f.db, s.table), workflowsdb.New(f.db, s.table)
	f.wfService = workflows.NewService(f.wfStore, nil, nil, nil).WithRules(definition.Rules{})
	policy, err := engine.PolicyFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{Policy: policy})
	// functions/runner's configuration, in process.
	f.runner = runner.New(runner.Config{Store: f.runsStore, Workflows: f.wfStore, Engine: eng, Budget: 15 * time.Minute})
	f.briefRun = runner.New(runner.Config{Store: runsdb.New(f.stallDB, s.table), Workflows: workflowsdb.New(f.stallDB, s.table), Engine: eng, Budget: 15 * time.Minute})

	// moto runs the states only when asked to.
	resp, err := http.Post(s.motoURL+"/moto-api/config", "application/json", strings.NewReader(`{"stepfunctions": {"execute_state_machine": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if f.sfnClient, err = sfn.NewClient(ctx, s.motoURL); err != nil {
		t.Fatal(err)
	}
	// The names the script gave the functions (STATE_MACHINE_ARN): the
	// runner starts children and completes task tokens on its own.
	suffix := os.Getenv("SFNEXEC_MACHINE_SUFFIX")
	if suffix == "" {
		suffix = time.Now().Format("150405.000")
	}
	for _, fn := range []string{fnRunner, fnBrief} {
		out, err := f.sfnClient.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
			Name:       aws.String(strings.ReplaceAll("runs-"+fn+"-"+suffix, ".", "-")),
			Definition: aws.String(sfn.Definition(functionARN(fn))),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/workflows-state-machine"),
			Type:       types.StateMachineTypeStandard,
		})
		if err != nil {
			t.Fatal(err)
		}
		express, err := f.sfnClient.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
			Name:       aws.String(strings.ReplaceAll("runs-express-"+fn+"-"+suffix, ".", "-")),
			Definition: aws.String(sfn.ExpressDefinition(functionARN(fn))),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/workflows-state-machine"),
			Type:       types.StateMachineTypeExpress,
		})
		if err != nil {
			t.Fatal(err)
		}
		f.machines[fn] = sfn.New(f.sfnClient, *out.StateMachineArn, sfn.WithExpress(*express.StateMachineArn))
		f.expressARNs[fn] = *express.StateMachineArn
	}
	// One invocation of each function first (a run that does not exist:
	// the runner answers NOT_FOUND), so that SAM's container creation and
	// the runtime's first start, which the emulator counts in an
	// invocation's timeout, fall outside the runs: these are the cold starts.
	for _, fn := range []string{fnRunner, fnBrief} {
		resp, err := http.Post("http://"+s.shimAddr+"/2015-03-31/functions/"+url.PathEscape(functionARN(fn))+"/invocations",
			"application/json", strings.NewReader(`{"accountId": "`+account+`", "runId": "run_warmup"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte("NOT_FOUND")) {
			t.Fatalf("%s's first invocation answered %d %s", fn, resp.StatusCode, body)
		}
	}
	return f
}

// advance is the local driver's callback for a run of function: the
// runner in process, under the function's timeout as its deadline.
func (f *fixture) advance(function string, hang bool) orchestrator.AdvanceFunc {
	r := f.runner
	if function == fnBrief {
		r = f.briefRun
	}
	return func(ctx context.Context, accountID, runID string, failure error) (orchestrator.Outcome, error) {
		f.stall.set(runID, hang && failure == nil)
		ctx, cancel := context.WithTimeout(ctx, timeouts[function])
		defer cancel()
		return r.Drive(ctx, accountID, runID, failure)
	}
}

func (f *fixture) start(t *testing.T, k runKind, o runs.Orchestrator) (*runs.Service, runs.Run) {
	ctx := context.Background()
	w, err := f.wfService.Create(ctx, workflows.Caller{AccountID: account}, []byte(k.definition))
	if err != nil {
		t.Fatalf("%s: create the workflow: %v", k.name, err)
	}
	svc := runs.NewService(f.runsStore, f.wfStore, o, runs.Options{CheckInput: inputschema.Check, Express: k.express})
	run, err := svc.Start(ctx, runs.StartRequest{AccountID: account, WorkflowID: w.Workflow.ID, Input: []byte(k.input), Trigger: runs.TriggerManual})
	if err != nil {
		t.Fatalf("%s: start: %v", k.name, err)
	}
	if want := map[bool]orchestrator.Machine{true: orchestrator.Express, false: orchestrator.Standard}[k.express]; run.Machine != want {
		t.Fatalf("%s: the run was created for machine %q, want %q", k.name, run.Machine, want)
	}
	return svc, run
}

// until polls the run until done says it is so.
func (f *fixture) until(t *testing.T, runID string, limit time.Duration, done func(runs.Run) bool) (runs.Run, []runs.Step) {
	ctx := context.Background()
	for end := time.Now().Add(limit); ; {
		run, err := f.runsStore.Get(ctx, account, runID)
		if err != nil {
			t.Fatal(err)
		}
		if done(run) {
			steps, err := f.runsStore.Steps(ctx, runID)
			if err != nil {
				t.Fatal(err)
			}
			return run, steps
		}
		if time.Now().After(end) {
			t.Fatalf("run %s still %s after %s", runID, run.Status, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func finished(r runs.Run) bool { return r.Status.Finished() }
func waiting(r runs.Run) bool  { return r.Status == runs.StatusWaiting }

// result is one run through one driver.
type result struct {
	view     view
	advances int    // runner invocations: Tasks scheduled, or the local driver's Advances
	path     string // the ASL path (Step Functions only)
	// recordRetries are RecordFailure's invocations that timed out (Step
	// Functions only; see the timeout kind).
	recordRetries int
}

func (f *fixture) viaStateMachine(t *testing.T, k runKind) result {
	ctx := context.Background()
	machine := f.machines[k.function]
	svc, run := f.start(t, k, shimHang{f, k.hang, machine})
	if k.cancel {
		f.until(t, run.ID, 90*time.Second, waiting)
		waitForState(t, f.sfnClient, machine.ExecutionARN(run.ID), sfn.StateWait)
		if _, err := svc.Cancel(ctx, account, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	execution := machine.ExecutionARN(run.ID)
	if k.express {
		// moto names an Express execution as a Standard one, after its
		// own machine (AWS gives Express executions ARNs of their own
		// form; nothing here builds one).
		execution = strings.Replace(f.expressARNs[k.function], ":stateMachine:", ":execution:", 1) + ":" + run.ID
	}
	status := waitForExecution(t, f.sfnClient, execution)
	path, tasks := historyOf(t, f.sfnClient, execution)
	got, steps := f.until(t, run.ID, 10*time.Second, finished)
	_, record, _ := strings.Cut(path, sfn.StateRecordFailure)
	return result{view: viewOf(got, steps), advances: tasks, path: path + " | " + string(status),
		recordRetries: strings.Count(record, "!")}
}

// shimHang starts the timeout run's execution after telling the shim its
// Advances hang.
type shimHang struct {
	f    *fixture
	hang bool
	*sfn.Orchestrator
}

func (s shimHang) Start(ctx context.Context, accountID, runID string, machine orchestrator.Machine) error {
	if s.hang {
		s.f.shim.hang(runID)
	}
	return s.Orchestrator.Start(ctx, accountID, runID, machine)
}

func (f *fixture) viaLocalDriver(t *testing.T, k runKind) result {
	ctx := context.Background()
	d := local.New(f.advance(k.function, k.hang), local.Options{ErrorBackoff: 100 * time.Millisecond, MaxErrors: sfn.TimeoutMaxAttempts + 1})
	defer func() { _ = d.Shutdown(ctx) }()
	svc, run := f.start(t, k, d)
	if k.cancel {
		f.until(t, run.ID, 60*time.Second, waiting)
		if _, err := svc.Cancel(ctx, account, run.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, steps := f.until(t, run.ID, 60*time.Second, finished)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if total, _ := d.Driven(); total == 0 || time.Now().After(end) {
			break
		}
	}
	return result{view: viewOf(got, steps), advances: int(d.Advances())}
}

func waitForExecution(t *testing.T, c *awssfn.Client, arn string) types.ExecutionStatus {
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		out, err := c.DescribeExecution(context.Background(), &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out.Status
		}
		if time.Now().After(end) {
			t.Fatalf("execution %s still running", arn)
		}
	}
}

// waitForState waits until the execution has entered state (as its latest).
func waitForState(t *testing.T, c *awssfn.Client, arn, state string) {
	for end := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		path, _ := historyOf(t, c, arn)
		if strings.HasSuffix(path, "> "+state) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("execution %s never entered %s: %s", arn, state, path)
		}
	}
}

// historyOf reads the execution's history: the states entered, in order,
// each followed by the errors of its Task attempts that failed, and the
// number of Tasks scheduled (runner invocations).
func historyOf(t *testing.T, c *awssfn.Client, arn string) (string, int) {
	var parts []string
	tasks := 0
	pages := awssfn.NewGetExecutionHistoryPaginator(c, &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			switch {
			case e.StateEnteredEventDetails != nil:
				parts = append(parts, aws.ToString(e.StateEnteredEventDetails.Name))
			case e.Type == types.HistoryEventTypeTaskFailed && e.TaskFailedEventDetails != nil && len(parts) > 0:
				parts[len(parts)-1] += " !" + aws.ToString(e.TaskFailedEventDetails.Error)
			case e.Type == types.HistoryEventTypeTaskScheduled:
				tasks++
			}
		}
	}
	return strings.Join(parts, " > "), tasks
}

func TestStateMachineRunsEachKindOfRun(t *testing.T) {
	f := newFixture(t)
	var report []string
	// The run whose signal never comes waits its step's 60 s (the least a
	// wait_for_signal takes) while the other runs go through: it is
	// checked once they are done.
	unsignalled := f.startUnsignalled(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			local := f.viaLocalDriver(t, k)
			start := time.Now()
			got := f.viaStateMachine(t, k)
			elapsed := time.Since(start)
			report = append(report, fmt.Sprintf("%-13s %-16s %-100s run %-9s invocations sfn=%d local=%d (%.1fs)",
				k.name, k.function, got.path, got.view.Status, got.advances, local.advances, elapsed.Seconds()))
			t.Logf("ASL path: %s", got.path)
			if k.wantPathRE && !regexp.MustCompile(k.wantPath).MatchString(got.path) || !k.wantPathRE && got.path != k.wantPath {
				t.Errorf("ASL path\n got %s\nwant %s", got.path, k.wantPath)
			}
			if got.view.Status != k.wantStatus {
				t.Errorf("run %s, want %s: %s", got.view.Status, k.wantStatus, got.view)
			}
			k.check(t, got.view)
			if got.view.String() != local.view.String() {
				t.Errorf("the state machine and the local driver left the run differently:\n sfn   %s\n local %s", got.view, local.view)
			}
			if got.advances-got.recordRetries != local.advances {
				t.Errorf("runner invocations: state machine %d (%d of them RecordFailure's retries), local driver %d", got.advances, got.recordRetries, local.advances)
			}
		})
	}
	// One fixture (its state machines, named for the runner's
	// STATE_MACHINE_ARN) for every run: the parent and child too.
	t.Run("child resumes its parent", f.childResumesItsParent)
	t.Run("a signal resumes its run", func(t *testing.T) { report = append(report, f.signalResumesItsRun(t)) })
	t.Run("a signal that never comes fails its step", func(t *testing.T) { report = append(report, unsignalled(t)) })
	report = append(report, f.timings()...)
	for _, line := range report {
		t.Log(line)
	}
	if f.report != "" {
		if err := os.WriteFile(f.report, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// timings sums up the invocations the shim saw: each function's first
// (cold: SAM creates its container) and the others (warm), the timed-out
// ones apart.
func (f *fixture) timings() []string {
	f.shim.mu.Lock()
	defer f.shim.mu.Unlock()
	byFn := map[string][]invocation{}
	for _, c := range f.shim.calls {
		byFn[c.function] = append(byFn[c.function], c)
	}
	var lines []string
	for _, fn := range []string{fnRunner, fnBrief} {
		var warm []time.Duration
		var cold, timedOut []string
		for _, c := range byFn[fn] {
			switch {
			case c.timedOut:
				timedOut = append(timedOut, ms(c.elapsed))
			case c.cold:
				cold = append(cold, ms(c.elapsed))
			default:
				warm = append(warm, c.elapsed)
			}
		}
		slices.Sort(warm)
		line := fmt.Sprintf("invocations %-20s %d: cold %s", fn, len(byFn[fn]), strings.Join(cold, ","))
		if len(warm) > 0 {
			line += fmt.Sprintf("; warm %d: min %s median %s max %s", len(warm), ms(warm[0]), ms(warm[len(warm)/2]), ms(warm[len(warm)-1]))
		}
		if len(timedOut) > 0 {
			line += "; timed out " + strings.Join(timedOut, ",")
		}
		lines = append(lines, line)
	}
	return lines
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// childResumesItsParent: a workflow step's child
// run, started by the runner in its container on the state machine, ends
// and completes the task token its parent's execution waits on in
// WaitForEvent (the runner kept it with the step): the parent goes on with
// the child's output. Nothing polls: the parent's history is one park.
func (f *fixture) childResumesItsParent(t *testing.T) {
	ctx := context.Background()
	child, err := f.wfService.Create(ctx, workflows.Caller{AccountID: account}, []byte(`{"name": "child", "trigger": {"type": "manual"}, "steps": [
	  {"id": "pause", "type": "delay", "with": {"seconds": 2}},
	  {"id": "triple", "type": "transform", "with": {"jq": "{tripled: (.input.n * 3)}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	k := runKind{name: "parent", function: fnRunner, input: `{"n": 5}`, definition: `{"name": "parent", "trigger": {"type": "manual"}, "steps": [
	  {"id": "kid", "type": "workflow", "with": {"workflowId": "` + child.Workflow.ID + `", "input": "{n: .input.n}"}},
	  {"id": "after", "type": "transform", "with": {"jq": ".steps.kid.output.tripled + 1"}}]}`}
	machine := f.machines[fnRunner]
	_, run := f.start(t, k, machine)
	status := waitForExecution(t, f.sfnClient, machine.ExecutionARN(run.ID))
	path, _ := historyOf(t, f.sfnClient, machine.ExecutionARN(run.ID))
	t.Logf("the parent's ASL path: %s | %s", path, status)
	got, steps := f.until(t, run.ID, 10*time.Second, finished)
	if status != types.ExecutionStatusSucceeded || got.Status != runs.StatusSucceeded || string(got.Output) != "16" {
		t.Fatalf("parent %s (execution %s), output %s; path %s", got.Status, status, got.Output, path)
	}
	if want := "Advance > Decide > WaitForEvent > Advance > Decide > Done"; path != want {
		t.Errorf("the parent's path\n got %s\nwant %s", path, want)
	}
	childID := steps[0].ChildRunID
	if childID == "" || steps[0].TaskToken != "" {
		t.Fatalf("the workflow step %+v: want its child's id, and its token gone once it ended", steps[0])
	}
	kid, err := f.runsStore.Get(ctx, account, childID)
	if err != nil || kid.Status != runs.StatusSucceeded || kid.ParentRunID != run.ID || kid.Trigger != runs.TriggerWorkflow {
		t.Fatalf("child %+v, %v", kid, err)
	}
	childPath, _ := historyOf(t, f.sfnClient, machine.ExecutionARN(childID))
	if !strings.Contains(childPath, sfn.StateWait) {
		t.Errorf("the child's path %s: want its delay's Wait", childPath)
	}
	t.Logf("the child's ASL path: %s", childPath)
}

// The workflow of the wait_for_signal runs: the step waits 60 s at most
// (workflows.MinSignalTimeoutSeconds), and the transform after it reads
// the signal's data as the step's output.
const signalDefinition = `{"name": "signal", "trigger": {"type": "manual"}, "steps": [
  {"id": "approve", "type": "wait_for_signal", "with": {"timeoutSeconds": 60}},
  {"id": "after", "type": "transform", "with": {"jq": "{by: .steps.approve.output.by, ok: .steps.approve.output.approved, order: .input.order}"}}]}`

// signals records signals as functions/signal-run does: on the runs' store,
// waking the run through the task token its step holds, on this state
// machine.
func (f *fixture) signals(machine *sfn.Orchestrator) *runs.Signals {
	return runs.NewSignals(f.runsStore, f.runsStore, runs.TokenWaker(f.runsStore, machine), runs.Options{})
}

// signalResumesItsRun: a wait_for_signal step parks its run in
// WaitForEvent, and the WaitForEvent's task (the runner, in its container)
// keeps the state's task token on the step record, which waits. The
// signal, recorded as signal-run records it, completes that token: the
// execution goes on at once, and the transform after the step reads the
// signal's data. A second signal is refused (409) and changes nothing.
func (f *fixture) signalResumesItsRun(t *testing.T) string {
	ctx := context.Background()
	k := runKind{name: "signal", function: fnRunner, input: `{"order": "o-7"}`, definition: signalDefinition}
	machine := f.machines[fnRunner]
	start := time.Now()
	_, run := f.start(t, k, machine)
	arn := machine.ExecutionARN(run.ID)
	f.until(t, run.ID, 90*time.Second, waiting)
	waitForState(t, f.sfnClient, arn, sfn.StateWaitForEvent)

	// The step item in DynamoDB, as the runner left it: waiting, with the
	// token of the WaitForEvent task the execution scheduled.
	item := f.stepItemUntil(t, run.ID, "approve", 30*time.Second, func(item map[string]ddbtypes.AttributeValue) bool {
		return stringAttr(item, "taskToken") != ""
	})
	if status := stringAttr(item, "status"); status != string(runs.StepWaiting) {
		t.Fatalf("the parked step's status is %q, want waiting: %v", status, item)
	}
	if stringAttr(item, "signalHash") == "" || stringAttr(item, "signalNonce") == "" {
		t.Errorf("the parked step has no signal token (signalHash, signalNonce): %v", item)
	}
	if want := scheduledToken(t, f.sfnClient, arn); want == "" {
		t.Error("the execution's history shows no WaitForEvent task with a token")
	} else if stringAttr(item, "taskToken") != want {
		t.Errorf("the step keeps the task token %q, the WaitForEvent task was given %q", stringAttr(item, "taskToken"), want)
	}

	signals := f.signals(machine)
	data := jsontext.Value(`{"approved":true,"by":"ana"}`)
	signalled, steps, err := signals.Signal(ctx, account, run.ID, "approve", data)
	if err != nil {
		t.Fatalf("signal: %v", err)
	}
	if signalled.ID != run.ID || len(steps) != 1 || steps[0].Status != runs.StepSucceeded || string(steps[0].Output) != string(data) || steps[0].SignalledAt.IsZero() {
		t.Fatalf("the signal answered run %s, steps %+v", signalled.ID, steps)
	}
	if _, _, err := signals.Signal(ctx, account, run.ID, "approve", jsontext.Value(`{"approved":false}`)); !isConflict(err) {
		t.Errorf("a second signal: %v, want a conflict", err)
	}

	status := waitForExecution(t, f.sfnClient, arn)
	path, tasks := historyOf(t, f.sfnClient, arn)
	t.Logf("the signalled run's ASL path: %s | %s", path, status)
	got, steps := f.until(t, run.ID, 10*time.Second, finished)
	if status != types.ExecutionStatusSucceeded || got.Status != runs.StatusSucceeded || string(got.Output) != `{"by":"ana","ok":true,"order":"o-7"}` {
		t.Fatalf("run %s (execution %s), output %s; path %s", got.Status, status, got.Output, path)
	}
	if want := "Advance > Decide > WaitForEvent > Advance > Decide > Done"; path != want {
		t.Errorf("the signalled run's path\n got %s\nwant %s", path, want)
	}
	if len(steps) != 2 || steps[0].Status != runs.StepSucceeded || string(steps[0].Output) != string(data) {
		t.Errorf("steps %+v: want the signal's data kept, not the second signal's", steps)
	}
	return fmt.Sprintf("%-13s %-16s %-100s run %-9s invocations sfn=%d (%.1fs)",
		k.name, k.function, path+" | "+string(status), got.Status, tasks, time.Since(start).Seconds())
}

// startUnsignalled starts a run of the signal workflow that nobody
// signals, and answers the check of its end: the WaitForEvent's timeout
// (the step's expiry) sends the execution back to Advance, which fails the
// step with SIGNAL_TIMEOUT, and a signal after that is refused.
func (f *fixture) startUnsignalled(t *testing.T) func(t *testing.T) string {
	k := runKind{name: "signal-none", function: fnRunner, input: `{"order": "o-8"}`, definition: signalDefinition}
	machine := f.machines[fnRunner]
	start := time.Now()
	_, run := f.start(t, k, machine)
	return func(t *testing.T) string {
		arn := machine.ExecutionARN(run.ID)
		// Its 60 s run from its start, mostly spent by the other runs.
		status := waitForExecution(t, f.sfnClient, arn)
		path, tasks := historyOf(t, f.sfnClient, arn)
		t.Logf("the unsignalled run's ASL path: %s | %s (%.1fs)", path, status, time.Since(start).Seconds())
		got, steps := f.until(t, run.ID, 10*time.Second, finished)
		if status != types.ExecutionStatusSucceeded || got.Status != runs.StatusFailed || got.Error == nil ||
			got.Error.Code != runner.CodeSignalTimeout || got.Error.Step != "approve" {
			t.Fatalf("run %s (execution %s), error %+v; path %s", got.Status, status, got.Error, path)
		}
		if want := "Advance > Decide > WaitForEvent > Advance > Decide > Done"; path != want {
			t.Errorf("the unsignalled run's path\n got %s\nwant %s", path, want)
		}
		if len(steps) != 1 || steps[0].Status != runs.StepFailed || steps[0].Error == nil || steps[0].Error.Code != runner.CodeSignalTimeout {
			t.Errorf("steps %+v: want the wait_for_signal step failed SIGNAL_TIMEOUT, and nothing after it", steps)
		}
		if elapsed := time.Since(start); elapsed < 60*time.Second {
			t.Errorf("the run ended %s after it started, before its step's 60 s", elapsed.Round(time.Millisecond))
		}
		if _, _, err := f.signals(machine).Signal(context.Background(), account, run.ID, "approve", jsontext.Value(`true`)); !isConflict(err) {
			t.Errorf("a signal after the timeout: %v, want a conflict", err)
		}
		return fmt.Sprintf("%-13s %-16s %-100s run %-9s invocations sfn=%d (%.1fs)",
			k.name, k.function, path+" | "+string(status), got.Status, tasks, time.Since(start).Seconds())
	}
}

func isConflict(err error) bool {
	var derr *domain.Error
	return errors.As(err, &derr) && derr.Code == domain.CodeConflict
}

// stepItemUntil reads a step's item from DynamoDB (strongly consistent)
// until ok says it is so.
func (f *fixture) stepItemUntil(t *testing.T, runID, stepID string, limit time.Duration, ok func(map[string]ddbtypes.AttributeValue) bool) map[string]ddbtypes.AttributeValue {
	for end := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName:      aws.String(f.table),
			Key:            store.ItemKey(store.RunStepsPK(runID), store.StepSK(stepID)),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item != nil && ok(out.Item) {
			return out.Item
		}
		if time.Now().After(end) {
			t.Fatalf("the item of step %s of %s after %s: %v", stepID, runID, limit, out.Item)
		}
	}
}

func stringAttr(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// scheduledToken is the task token of the execution's last WaitForEvent
// task, as its TaskScheduled event shows the payload ("" if there is
// none).
func scheduledToken(t *testing.T, c *awssfn.Client, arn string) string {
	token := ""
	pages := awssfn.NewGetExecutionHistoryPaginator(c, &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			d := e.TaskScheduledEventDetails
			if d == nil || !strings.HasSuffix(aws.ToString(d.Resource), ".waitForTaskToken") {
				continue
			}
			var p struct {
				Payload struct {
					Park struct {
						Token string `json:"token"`
					} `json:"park"`
				} `json:"Payload"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err == nil {
				token = p.Payload.Park.Token
			}
		}
	}
	return token
}
