package sfn_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/orchestrator/sfn"
	"github.com/workflowsapi/workflows/internal/runner"
)

// aslValidator is asl-validator from the repository's pinned npm tools
// (package.json; `scripts/ensure-deps.sh node` installs it).
func aslValidator(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		bin := filepath.Join(dir, "node_modules", ".bin", "asl-validator")
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			t.Fatalf("no %s: run `scripts/ensure-deps.sh node` (npm ci installs asl-validator from package-lock.json)", bin)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no repository root above the working directory")
		}
		dir = parent
	}
}

// validate runs asl-validator on a definition; ok is its verdict, out what
// it said.
func validate(t *testing.T, definition string) (ok bool, out string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "definition.json")
	if err := os.WriteFile(path, []byte(definition), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aslValidator(t), "--json-path", path)
	output, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run asl-validator: %v", err)
	}
	return err == nil, string(output)
}

func TestDefinitionIsValidASL(t *testing.T) {
	ok, out := validate(t, sfn.Definition(testRunnerARN))
	if !ok {
		t.Fatalf("asl-validator refuses the definition:\n%s", out)
	}
	// The validator does judge: a Choice pointing at a state that is not
	// there fails it.
	broken := strings.Replace(sfn.Definition(testRunnerARN), `"Next":"Wait"`, `"Next":"Nowhere"`, 1)
	if broken == sfn.Definition(testRunnerARN) {
		t.Fatal("the definition has no transition to Wait to break")
	}
	if ok, _ := validate(t, broken); ok {
		t.Error("asl-validator accepted a transition to a state that does not exist")
	}
}

// asl is the part of a definition the assertions read.
type asl struct {
	StartAt string
	States  map[string]aslState
}

type aslState struct {
	Type        string
	Resource    string
	Parameters  map[string]any
	OutputPath  string
	ResultPath  any
	SecondsPath string
	// TimeoutSecondsPath bounds a Task (WaitForEvent's park).
	TimeoutSecondsPath string
	Next               string
	Default            string
	End                bool
	Choices            []map[string]any
	Retry              []map[string]any
	Catch              []map[string]any
}

func mustParse(t *testing.T, definition string) asl {
	t.Helper()
	var d asl
	if err := json.Unmarshal([]byte(definition), &d); err != nil {
		t.Fatalf("the definition is not JSON: %v", err)
	}
	return d
}

func TestDefinitionAdvancesWaitsAndRecordsFailures(t *testing.T) {
	d := mustParse(t, sfn.Definition(testRunnerARN))
	if d.StartAt != sfn.StateAdvance {
		t.Errorf("StartAt %s, want %s", d.StartAt, sfn.StateAdvance)
	}
	names := slices.Sorted(maps.Keys(d.States))
	want := []string{sfn.StateAdvance, sfn.StateDecide, sfn.StateDone, sfn.StateFailed, sfn.StateRecordFailure, sfn.StateWait, sfn.StateWaitForEvent}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("states %v, want %v", names, want)
	}

	advance := d.States[sfn.StateAdvance]
	if advance.Type != "Task" || advance.Resource != "arn:aws:states:::lambda:invoke" || advance.Next != sfn.StateDecide || advance.OutputPath != "$.Payload" {
		t.Errorf("Advance is %+v", advance)
	}
	if advance.Parameters["FunctionName"] != testRunnerARN {
		t.Errorf("Advance invokes %v, want the runner", advance.Parameters["FunctionName"])
	}
	// The payload is runner.Task's fields, read from the execution input
	// or from the previous Decision (which carries them).
	payload := advance.Parameters["Payload"].(map[string]any)
	taskFields := jsonFields(t, runner.Task{})
	decisionFields := jsonFields(t, runner.Decision{})
	if got := slices.Sorted(maps.Keys(payload)); !slices.Equal(got, []string{"accountId.$", "runId.$"}) {
		t.Errorf("Advance's payload has %v", got)
	}
	for key, path := range payload {
		field := strings.TrimSuffix(key, ".$")
		if path != "$."+field || !slices.Contains(taskFields, field) || !slices.Contains(decisionFields, field) {
			t.Errorf("payload %s: %v; want a field of runner.Task carried by runner.Decision", key, path)
		}
	}
	assertRetries(t, sfn.StateAdvance, advance.Retry, true)
	if len(advance.Catch) != 1 || !reflect.DeepEqual(advance.Catch[0]["ErrorEquals"], []any{"States.ALL"}) ||
		advance.Catch[0]["Next"] != sfn.StateRecordFailure || advance.Catch[0]["ResultPath"] != "$.failure" {
		t.Errorf("Advance's catch is %v, want States.ALL into $.failure, then RecordFailure", advance.Catch)
	}

	decide := d.States[sfn.StateDecide]
	if decide.Type != "Choice" || decide.Default != sfn.StateAdvance || len(decide.Choices) != 3 {
		t.Fatalf("Decide is %+v", decide)
	}
	done, child, wait := decide.Choices[0], decide.Choices[1], decide.Choices[2]
	// Only a decision that says waitForEvent parks: one from a runner
	// that does not know it (during a deploy) has no such field, and a
	// Choice on a missing field would fail the execution.
	wantChild := map[string]any{"And": []any{
		map[string]any{"Variable": "$.waitForEvent", "IsPresent": true},
		map[string]any{"Variable": "$.waitForEvent", "BooleanEquals": true},
	}, "Next": sfn.StateWaitForEvent}
	if !reflect.DeepEqual(child, wantChild) {
		t.Errorf("Decide's second choice %v, want $.waitForEvent present and true -> WaitForEvent", child)
	}
	park := d.States[sfn.StateWaitForEvent]
	parkPayload, _ := park.Parameters["Payload"].(map[string]any)
	parkWant := map[string]any{"accountId.$": "$.accountId", "runId.$": "$.runId", "park": map[string]any{"token.$": "$$.Task.Token"}}
	if park.Type != "Task" || park.Resource != "arn:aws:states:::lambda:invoke.waitForTaskToken" || park.Next != sfn.StateAdvance ||
		park.Parameters["FunctionName"] != testRunnerARN || !reflect.DeepEqual(parkPayload, parkWant) || park.TimeoutSecondsPath != "$.waitSeconds" {
		t.Errorf("WaitForEvent is %+v", park)
	}
	if !slices.Contains(jsonFields(t, runner.Task{Park: &runner.Park{}}), "park") || !slices.Contains(decisionFields, "waitForEvent") {
		t.Error("runner.Task has no park, or runner.Decision no waitForEvent")
	}
	assertRetries(t, sfn.StateWaitForEvent, park.Retry, true)
	if len(park.Catch) != 2 || !reflect.DeepEqual(park.Catch[0]["ErrorEquals"], []any{"States.Timeout"}) || park.Catch[0]["Next"] != sfn.StateAdvance ||
		park.Catch[0]["ResultPath"] != nil || park.Catch[1]["Next"] != sfn.StateRecordFailure || park.Catch[1]["ResultPath"] != "$.failure" {
		t.Errorf("WaitForEvent's catch is %v, want its timeout back to Advance (the run's deadline), anything else to RecordFailure", park.Catch)
	}
	if done["Variable"] != "$.done" || done["BooleanEquals"] != true || done["Next"] != sfn.StateDone {
		t.Errorf("Decide's first choice %v, want $.done == true -> Done", done)
	}
	if wait["Variable"] != "$.waitSeconds" || wait["NumericGreaterThan"] != 0.0 || wait["Next"] != sfn.StateWait {
		t.Errorf("Decide's second choice %v, want $.waitSeconds > 0 -> Wait", wait)
	}
	for _, field := range []string{"done", "waitSeconds"} {
		if !slices.Contains(decisionFields, field) {
			t.Errorf("Decide reads $.%s, which runner.Decision does not have (%v)", field, decisionFields)
		}
	}
	if w := d.States[sfn.StateWait]; w.Type != "Wait" || w.SecondsPath != "$.waitSeconds" || w.Next != sfn.StateAdvance {
		t.Errorf("Wait is %+v", w)
	}
	if s := d.States[sfn.StateDone]; s.Type != "Succeed" {
		t.Errorf("Done is a %s", s.Type)
	}

	record := d.States[sfn.StateRecordFailure]
	if record.Type != "Task" || record.Resource != "arn:aws:states:::lambda:invoke" || record.Next != sfn.StateFailed || record.Parameters["FunctionName"] != testRunnerARN {
		t.Errorf("RecordFailure is %+v", record)
	}
	assertRetries(t, sfn.StateRecordFailure, record.Retry, false)
	// Its payload is a runner.Task with the caught error as its Failure.
	wantPayload := map[string]any{
		"accountId.$": "$.accountId", "runId.$": "$.runId",
		"failure": map[string]any{"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause"},
	}
	if got := record.Parameters["Payload"]; !reflect.DeepEqual(got, wantPayload) {
		t.Errorf("RecordFailure's payload %v, want %v", got, wantPayload)
	}
	withFailure := jsonFields(t, runner.Task{Failure: &runner.Failure{}})
	if !slices.Contains(withFailure, "failure") || !slices.Equal(jsonFields(t, runner.Failure{}), []string{"Cause", "Error"}) {
		t.Errorf("runner.Task's failure field or runner.Failure's fields are not the payload's: %v, %v", withFailure, jsonFields(t, runner.Failure{}))
	}
	if f := d.States[sfn.StateFailed]; f.Type != "Fail" {
		t.Errorf("Failed is a %s", f.Type)
	}
}

// assertRetries checks a task's retriers: Lambda's service errors, the
// invocation's timeouts and, for the Advance only, the runner's conflicts,
// each in one retrier of its own with a growing, jittered back-off and the
// attempts documented; never States.ALL or a task failure, which are caught.
func assertRetries(t *testing.T, state string, retry []map[string]any, conflicts bool) {
	t.Helper()
	want := []struct {
		errors   []string
		attempts float64
	}{{sfn.LambdaServiceErrors, 6}, {sfn.TimeoutErrors, sfn.TimeoutMaxAttempts}}
	if conflicts {
		want = append(want, struct {
			errors   []string
			attempts float64
		}{[]string{sfn.ConflictError}, sfn.ConflictMaxAttempts})
	}
	if len(retry) != len(want) {
		t.Fatalf("%s has %d retriers, want %d", state, len(retry), len(want))
	}
	seen := map[string]bool{}
	for i, r := range retry {
		var errs []string
		for _, e := range r["ErrorEquals"].([]any) {
			errs = append(errs, e.(string))
			if seen[e.(string)] {
				t.Errorf("%s retries %s twice: only the first retrier naming it counts", state, e)
			}
			seen[e.(string)] = true
		}
		if !slices.Equal(errs, want[i].errors) || slices.Contains(errs, "States.ALL") || slices.Contains(errs, "States.TaskFailed") {
			t.Errorf("%s's retrier %d retries %v, want %v", state, i, errs, want[i].errors)
		}
		if r["JitterStrategy"] != "FULL" || r["BackoffRate"].(float64) <= 1 || r["MaxAttempts"] != want[i].attempts {
			t.Errorf("%s's retry %v: want a growing back-off with full jitter and %v attempts", state, r, want[i].attempts)
		}
	}
	for _, e := range []string{"Sandbox.Timedout", "Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.TooManyRequestsException"} {
		if !seen[e] {
			t.Errorf("%s does not retry %s", state, e)
		}
	}
	if seen[sfn.ConflictError] != conflicts {
		t.Errorf("%s retries %s: %v, want %v", state, sfn.ConflictError, seen[sfn.ConflictError], conflicts)
	}
}

// A run stuck in write conflicts ends well before the execution's history
// limit: the conflict retries, with their worst-case waits, stay within a
// few minutes and a few dozen events.
func TestConflictRetriesAreBoundedFarBelowTheHistoryLimit(t *testing.T) {
	d := mustParse(t, sfn.Definition(testRunnerARN))
	var conflict map[string]any
	for _, r := range d.States[sfn.StateAdvance].Retry {
		if reflect.DeepEqual(r["ErrorEquals"], []any{sfn.ConflictError}) {
			conflict = r
		}
	}
	if conflict == nil {
		t.Fatal("the Advance does not retry conflicts")
	}
	attempts := int(conflict["MaxAttempts"].(float64))
	wait, ceiling := 0.0, conflict["IntervalSeconds"].(float64)
	for range attempts {
		wait += min(ceiling, conflict["MaxDelaySeconds"].(float64))
		ceiling *= conflict["BackoffRate"].(float64)
	}
	// Each retry is TaskScheduled, TaskStarted and TaskFailed.
	if events := 3 * attempts; events > 100 || wait > 300 {
		t.Errorf("conflicts are retried %d times (%d events, up to %.0f s of waiting); want a bound of minutes, far below 25,000 events", attempts, events, wait)
	}
	if wait < 60 {
		t.Errorf("conflict retries wait %.0f s at most; want a back-off that gives the other writer time (a minute or more)", wait)
	}
}

// jsonFields lists the JSON object keys v encodes to, sorted.
func jsonFields(t *testing.T, v any) []string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(m))
}

// The CDK stack embeds the runner's ARN as a token; any ARN text lands in
// FunctionName unchanged, escaped only as JSON requires.
func TestDefinitionNamesTheGivenFunctionInEveryTask(t *testing.T) {
	const token = "${Token[TOKEN.123]}"
	def := sfn.Definition(token)
	if n := strings.Count(def, `"FunctionName":"`+token+`"`); n != 3 {
		t.Errorf("the token appears %d times as FunctionName, want 3 (Advance, WaitForEvent, RecordFailure):\n%s", n, def)
	}
	if def != sfn.Definition(token) {
		t.Error("the definition is not the same text twice")
	}
}

// TestExpressDefinitionIsDefinitionWithoutTaskTokens: the Express machine
// (runs that never wait on an event) is valid ASL, with the Standard
// machine's states but WaitForEvent, each the same, and a Decide that ends,
// waits or advances again: nothing in it waits for a task token, which
// Express does not have.
func TestExpressDefinitionIsDefinitionWithoutTaskTokens(t *testing.T) {
	express := sfn.ExpressDefinition(testRunnerARN)
	if ok, out := validate(t, express); !ok {
		t.Fatalf("asl-validator refuses the Express definition:\n%s", out)
	}
	if strings.Contains(express, "waitForTaskToken") || strings.Contains(express, "$$.Task.Token") {
		t.Errorf("the Express definition waits for a task token:\n%s", express)
	}
	standard, d := mustParse(t, sfn.Definition(testRunnerARN)), mustParse(t, express)
	delete(standard.States, sfn.StateWaitForEvent)
	if got, want := slices.Sorted(maps.Keys(d.States)), slices.Sorted(maps.Keys(standard.States)); !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	for name, state := range standard.States {
		if name == sfn.StateDecide {
			continue
		}
		if a, b := mustJSONText(t, d.States[name]), mustJSONText(t, state); a != b {
			t.Errorf("state %s differs from Standard's:\n%s\n%s", name, a, b)
		}
	}
	decide := d.States[sfn.StateDecide]
	var next []string
	for _, c := range decide.Choices {
		next = append(next, c["Next"].(string))
	}
	if !slices.Equal(next, []string{sfn.StateDone, sfn.StateWait}) || decide.Default != sfn.StateAdvance {
		t.Errorf("Decide goes to %v, else %s; want Done, Wait, else Advance", next, decide.Default)
	}
}

func mustJSONText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
