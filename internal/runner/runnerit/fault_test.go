package runnerit

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
)

// gatewayProcess is the real local gateway binary on a dynalite table.
type gatewayProcess struct {
	bin, table, dataDir, port string
	cmd                       *exec.Cmd
	exited                    chan struct{} // closed once cmd has been waited for
}

// lockedBuffer is a process's output, read while the process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func buildGateway(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "local-gateway")
	build := exec.Command("go", "build", "-o", bin, "./cmd/local-gateway")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
}

func (g *gatewayProcess) start(t testing.TB) {
	t.Helper()
	g.cmd = exec.Command(g.bin)
	g.cmd.Env = append(os.Environ(), "TABLE_NAME="+g.table, "DATA_DIR="+g.dataDir, "PORT="+g.port, "HOST=127.0.0.1",
		"HTTP_STEP_TARGETS=loopback", "LOG_LEVEL=error")
	// What it says if it cannot start (a port taken, a bad setting) is
	// the failure's explanation.
	output := &lockedBuffer{}
	g.cmd.Stdout, g.cmd.Stderr = output, output
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, exited := g.cmd, make(chan struct{})
	g.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	// A loaded machine (the whole suite on two cores) may take seconds to
	// start it: up to a minute, unless it exits first.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("the local gateway exited before it answered:\n%s", output.String())
		default:
		}
		res, err := http.Get("http://127.0.0.1:" + g.port + "/api/v1/openapi.json")
		if err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the local gateway never answered in a minute:\n%s", output.String())
}

// kill9 ends the process the way a crash does: no shutdown, no cleanup.
func (g *gatewayProcess) kill9(t testing.TB) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.exited
}

// TestKilledMidRunLosesNothing kills the local gateway with SIGKILL while
// runs are in an http step (a target that hangs) and in a delay, restarts
// it, and checks that every run finishes, that no step whose completion was
// recorded ran again (hits per step on the target), and that nothing is
// lost.
func TestKilledMidRunLosesNothing(t *testing.T) {
	const slowRuns, delayRuns = 4, 4
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_fault").Plaintext

	// The target hangs on the first call of each run's slow step (until the
	// test ends) and answers every other call at once.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	slowSeen := map[string]bool{}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			mu.Lock()
			first := !slowSeen[r.URL.Path]
			slowSeen[r.URL.Path] = true
			mu.Unlock()
			if first {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	})

	g.start(t)
	call := g.caller(t, key)
	slowWF := call("POST", "/workflows", `{"name": "slow", "trigger": {"type": "manual"}, "steps": [
	  {"id": "before", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/before/{{ .run.id }}"}},
	  {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow/{{ .run.id }}"}, "timeoutSeconds": 8, "retry": {"maxAttempts": 3}},
	  {"id": "after", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/after/{{ .run.id }}"}}
	]}`)["id"].(string)
	delayWF := call("POST", "/workflows", `{"name": "delay", "trigger": {"type": "manual"}, "steps": [
	  {"id": "before", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/dbefore/{{ .run.id }}"}},
	  {"id": "wait", "type": "delay", "with": {"seconds": 3}},
	  {"id": "after", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/dafter/{{ .run.id }}"}}
	]}`)["id"].(string)
	var slowIDs, delayIDs []string
	for range slowRuns {
		slowIDs = append(slowIDs, call("POST", "/workflows/"+slowWF+"/run", `{"input": {}}`)["id"].(string))
	}
	for range delayRuns {
		delayIDs = append(delayIDs, call("POST", "/workflows/"+delayWF+"/run", `{"input": {}}`)["id"].(string))
	}
	// Kill when every slow run hangs in its slow step and every delay run
	// waits in its delay. The slow step's timeout (8 s) must outlast that
	// wait even on a loaded machine: an attempt timed out before the kill
	// would be retried, answered, and recorded succeeded (seen with 2 s);
	// after the restart, the cut-off attempt is retried once its lease ends.
	waitFor(t, func() bool {
		for _, id := range slowIDs {
			if tg.count("/slow/"+id) == 0 {
				return false
			}
		}
		for _, id := range delayIDs {
			if call("GET", "/runs/"+id, "")["status"] != "waiting" {
				return false
			}
		}
		return true
	})
	recorded := map[string]string{} // run/step → status recorded at the kill
	g.kill9(t)
	for _, id := range append(append([]string{}, slowIDs...), delayIDs...) {
		steps, err := stepsInTable(table, id)
		if err != nil {
			t.Fatal(err)
		}
		for step, status := range steps {
			recorded[id+"/"+step] = status
		}
	}
	for _, id := range slowIDs {
		if recorded[id+"/before"] != "succeeded" || recorded[id+"/slow"] != "running" {
			t.Fatalf("at the kill, run %s: before %s, slow %s", id, recorded[id+"/before"], recorded[id+"/slow"])
		}
	}

	g.start(t) // resumes every unfinished run
	for _, id := range append(append([]string{}, slowIDs...), delayIDs...) {
		var run map[string]any
		waitFor(t, func() bool {
			run = call("GET", "/runs/"+id, "")
			switch run["status"] {
			case "queued", "running", "waiting", "cancelling":
				return false
			}
			return true
		})
		if run["status"] != "succeeded" {
			t.Errorf("run %s ended %s: %s", id, run["status"], jsonOf(run))
		}
	}
	for _, id := range slowIDs {
		// before was recorded: never again. slow was cut off mid-call: sent
		// again (at least once, with the same Idempotency-Key). after: once.
		if n := tg.count("/before/" + id); n != 1 {
			t.Errorf("run %s: the recorded step before ran %d times", id, n)
		}
		if n := tg.count("/slow/" + id); n != 2 {
			t.Errorf("run %s: the cut-off step slow was called %d times, want 2", id, n)
		}
		if n := tg.count("/after/" + id); n != 1 {
			t.Errorf("run %s: after ran %d times", id, n)
		}
	}
	for _, id := range delayIDs {
		if n := tg.count("/dbefore/" + id); n != 1 {
			t.Errorf("run %s: the recorded step before ran %d times", id, n)
		}
		if n := tg.count("/dafter/" + id); n != 1 {
			t.Errorf("run %s: after ran %d times", id, n)
		}
	}
	// Nothing lost: every run is listed and finished, and no run is left
	// unfinished in the table.
	list := callURL(t, "GET", "http://127.0.0.1:"+g.port+"/api/v1/runs?limit=100", key, "")
	if got := len(list.JSON(t)["data"].([]any)); got != slowRuns+delayRuns {
		t.Errorf("%d runs listed, want %d", got, slowRuns+delayRuns)
	}
	if n, err := unfinishedInTable(table); err != nil || n != 0 {
		t.Errorf("%d runs left unfinished (%v)", n, err)
	}
}

// caller calls the gateway process's API with key, and answers the data of
// a success (any other answer fails the test).
func (g *gatewayProcess) caller(t *testing.T, key string) func(method, path, body string) map[string]any {
	return func(method, path, body string) map[string]any {
		t.Helper()
		r := callURL(t, method, "http://127.0.0.1:"+g.port+"/api/v1"+path, key, body)
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		return r.Data(t)
	}
}

func callURL(t testing.TB, method, url, key, body string) gatewaytest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return gatewaytest.Call(t, method, url, key, "application/json", b)
}

// stepsInTable reads a run's step records straight from the table: what
// was recorded at the moment of the kill.
func stepsInTable(table dynamotest.Table, runID string) (map[string]string, error) {
	steps, err := runsdb.New(table.Client, table.Name).Steps(context.Background(), runID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range steps {
		out[s.StepID] = string(s.Status)
	}
	return out, nil
}

// itemsInTable is, per index, the status of each fan-out item of a run's
// step as DynamoDB holds it.
func itemsInTable(table dynamotest.Table, runID, stepID string) (map[int]string, error) {
	items, err := runsdb.New(table.Client, table.Name).Items(context.Background(), runID, stepID)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, it := range items {
		out[it.Index] = string(it.Status)
	}
	return out, nil
}

// finishedVia polls GET /runs/{id} through call until the run has ended.
func finishedVia(t *testing.T, call func(method, path, body string) map[string]any, runID string) map[string]any {
	t.Helper()
	var run map[string]any
	waitFor(t, func() bool {
		run = call("GET", "/runs/"+runID, "")
		switch run["status"] {
		case "succeeded", "failed", "cancelled", "timed_out":
			return true
		}
		return false
	})
	return run
}

func unfinishedInTable(table dynamotest.Table) (int, error) {
	refs, err := runsdb.New(table.Client, table.Name).Unfinished(context.Background())
	return len(refs), err
}

// TestAKilledRunKeepsItsComputedSteps: a transform step is written once,
// with its result, and no running record first (runner.pureAttempt's path
// in attempt). A SIGKILL after it leaves that record as it was: after the
// restart the step is not computed again (its output, a time, is the one
// recorded, and its item was written once), and the steps after it see
// that output.
func TestAKilledRunKeepsItsComputedSteps(t *testing.T) {
	table := dynamotest.MustTable(t)
	g := &gatewayProcess{bin: buildGateway(t), table: table.Name, dataDir: t.TempDir(), port: freePort(t)}
	key := keystest.MustIssue(t, keysdb.New(table.Client, table.Name), "acct_fault_pure").Plaintext
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	seen := map[string]bool{}
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if first {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	})

	g.start(t)
	call := g.caller(t, key)
	wf := call("POST", "/workflows", `{"name": "computed", "trigger": {"type": "manual"}, "steps": [
	  {"id": "stamp", "type": "transform", "with": {"jq": "{at: now, n: .input.n}"}},
	  {"id": "slow", "type": "http", "with": {"method": "GET", "url": "`+tg.URL+`/slow/{{ .run.id }}"}, "timeoutSeconds": 8, "retry": {"maxAttempts": 3}},
	  {"id": "echo", "type": "transform", "with": {"jq": ".steps.stamp.output"}}
	]}`)["id"].(string)
	id := call("POST", "/workflows/"+wf+"/run", `{"input": {"n": 7}}`)["id"].(string)
	waitFor(t, func() bool { return tg.count("/slow/"+id) > 0 })
	g.kill9(t)

	store := runsdb.New(table.Client, table.Name)
	stepOf := func(stepID string) runs.Step {
		t.Helper()
		steps, err := store.Steps(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.StepID == stepID {
				return s
			}
		}
		t.Fatalf("run %s has no record of step %s", id, stepID)
		return runs.Step{}
	}
	atKill := stepOf("stamp")
	if atKill.Status != runs.StepSucceeded || atKill.Revision != 1 || atKill.Attempts != 1 {
		t.Fatalf("at the kill the transform is %s, revision %d, %d attempts: want succeeded, written once", atKill.Status, atKill.Revision, atKill.Attempts)
	}

	g.start(t)
	run := finishedVia(t, call, id)
	if run["status"] != "succeeded" {
		t.Fatalf("run %s ended %s: %s", id, run["status"], jsonOf(run))
	}
	after := stepOf("stamp")
	if string(after.Output) != string(atKill.Output) || after.Revision != 1 || after.Attempts != 1 {
		t.Errorf("the recorded transform was computed again: output %s (was %s), revision %d, %d attempts", after.Output, atKill.Output, after.Revision, after.Attempts)
	}
	if echo := stepOf("echo"); string(echo.Output) != string(atKill.Output) || echo.Revision != 1 {
		t.Errorf("the step after sees %s (revision %d), want the recorded %s written once", echo.Output, echo.Revision, atKill.Output)
	}
}
