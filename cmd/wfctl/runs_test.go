package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "wfk_abcdefghijklmnopqrstuvwxyz012345"

// fakeAPI answers like the API: POST /workflows/{id}/run starts run_1, and
// each GET /runs/run_1 answers the next of polls (the last one repeats).
type fakeAPI struct {
	t     *testing.T
	mu    sync.Mutex
	polls []fakeAnswer
	gets  int
	start []startRequest
}

type fakeAnswer struct {
	status int
	body   string
	header map[string]string
}

type startRequest struct {
	path, body, idempotencyKey, contentType string
}

func ok(data string) fakeAnswer {
	return fakeAnswer{status: 200, body: `{"success": true, "data": ` + data + `}`}
}

func apiFailure(status int, code, message string) fakeAnswer {
	return fakeAnswer{status: status, body: `{"success": false, "error": {"code": "` + code + `", "message": "` + message + `"}}`}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") != testKey {
		f.t.Errorf("%s %s without the key", r.Method, r.URL.Path)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var answer fakeAnswer
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/workflows/"):
		body, _ := io.ReadAll(r.Body)
		f.start = append(f.start, startRequest{r.URL.Path, string(body), r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type")})
		answer = fakeAnswer{status: 202, body: `{"success": true, "data": ` + runJSON("queued", "") + `}`}
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/runs/run_1":
		answer = f.polls[min(f.gets, len(f.polls)-1)]
		f.gets++
	default:
		answer = apiFailure(404, "NOT_FOUND", "The resource was not found")
	}
	for name, value := range answer.header {
		w.Header().Set(name, value)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(answer.status)
	io.WriteString(w, answer.body)
}

// runJSON is a run's JSON with its status and steps (a JSON list's items).
func runJSON(status, steps string, extra ...string) string {
	fields := []string{`"id": "run_1"`, `"workflowId": "wf_1"`, `"status": "` + status + `"`, `"createdAt": "2030-01-01T12:00:00Z"`,
		`"startedAt": "2030-01-01T12:00:00Z"`, `"steps": [` + steps + `]`}
	return "{" + strings.Join(append(fields, extra...), ", ") + "}"
}

func step(id, status string, attempts int, extra ...string) string {
	fields := []string{`"id": "` + id + `"`, `"status": "` + status + `"`, `"attempts": ` + string(rune('0'+attempts)), `"startedAt": "2030-01-01T12:00:00Z"`}
	return "{" + strings.Join(append(fields, extra...), ", ") + "}"
}

// startFake serves f and points wfctl at it; sleeps are recorded, not slept.
func startFake(t *testing.T, polls ...fakeAnswer) (*fakeAPI, *[]time.Duration) {
	t.Helper()
	f := &fakeAPI{t: t, polls: polls}
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	t.Setenv("WORKFLOWS_API_URL", server.URL)
	t.Setenv("WORKFLOWS_API_KEY", testKey)
	var waits []time.Duration
	saved := sleep
	sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	t.Cleanup(func() { sleep = saved })
	return f, &waits
}

func runWfctl(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	return out.String(), err
}

func TestRunsWatchPrintsEachStepAsItProgresses(t *testing.T) {
	f, waits := startFake(t,
		ok(runJSON("queued", "")),
		ok(runJSON("running", step("fetch", "running", 1))),
		ok(runJSON("running", step("fetch", "running", 1))), // nothing new
		ok(runJSON("running", step("fetch", "waiting", 1, `"error": {"code": "HTTP_STATUS", "message": "the target answered 503"}`))),
		ok(runJSON("running", step("fetch", "succeeded", 2, `"finishedAt": "2030-01-01T12:00:01.25Z"`)+","+step("pause", "waiting", 1))),
		ok(runJSON("waiting", step("fetch", "succeeded", 2, `"finishedAt": "2030-01-01T12:00:01.25Z"`)+","+step("pause", "waiting", 1))),
		ok(runJSON("waiting", step("fetch", "succeeded", 2, `"finishedAt": "2030-01-01T12:00:01.25Z"`)+","+step("pause", "waiting", 1))),
		ok(runJSON("waiting", step("fetch", "succeeded", 2, `"finishedAt": "2030-01-01T12:00:01.25Z"`)+","+step("pause", "waiting", 1))),
		ok(runJSON("succeeded", step("fetch", "succeeded", 2, `"finishedAt": "2030-01-01T12:00:01.25Z"`)+","+
			step("pause", "succeeded", 1, `"finishedAt": "2030-01-01T12:01:00Z"`), `"finishedAt": "2030-01-01T12:01:00Z"`)),
	)
	out, err := runWfctl("runs", "watch", "run_1")
	if err != nil {
		t.Fatalf("a run that succeeded: %v", err)
	}
	want := `run run_1: queued
run run_1: running
  • fetch                running    1 attempt
  • fetch                waiting    1 attempt  HTTP_STATUS: the target answered 503
  ✓ fetch                succeeded  2 attempts  1.3s
  • pause                waiting    1 attempt
run run_1: waiting
  ✓ pause                succeeded  1 attempt  1m0s
run run_1 succeeded in 1m0s
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if f.gets != 9 {
		t.Errorf("%d polls, want 9", f.gets)
	}
	// Half a second after a change; half again longer each quiet poll.
	wantWaits := []time.Duration{firstPoll, firstPoll, 750 * time.Millisecond, firstPoll, firstPoll, firstPoll, 750 * time.Millisecond, 1125 * time.Millisecond}
	if len(*waits) != len(wantWaits) {
		t.Fatalf("waits %v, want %v", *waits, wantWaits)
	}
	for i := range wantWaits {
		if (*waits)[i] != wantWaits[i] {
			t.Errorf("waits %v, want %v", *waits, wantWaits)
			break
		}
	}
}

func TestRunsWatchFailsUnlessTheRunSucceeded(t *testing.T) {
	for _, status := range []string{"failed", "cancelled", "timed_out"} {
		t.Run(status, func(t *testing.T) {
			startFake(t, ok(runJSON(status, step("fetch", "failed", 3),
				`"error": {"code": "HTTP_STATUS", "message": "the target answered 500\u001b[2J", "step": "fetch"}`, `"finishedAt": "2030-01-01T12:00:02Z"`)))
			out, err := runWfctl("runs", "watch", "run_1")
			if !errors.Is(err, errRunDidNotSucceed) {
				t.Errorf("got %v, want a failure", err)
			}
			// The message's escape sequence is shown, not sent to the terminal.
			if want := "run run_1 " + status + ` in 2s: step fetch: HTTP_STATUS: "the target answered 500\x1b[2J"`; !strings.Contains(out, want) {
				t.Errorf("output:\n%s\nwant a line %s", out, want)
			}
		})
	}
}

func TestRunsWatchRidesOutPassingTrouble(t *testing.T) {
	limited := apiFailure(429, "RATE_LIMITED", "Rate limit exceeded. Limit: 1000 requests per minute.")
	limited.header = map[string]string{"Retry-After": "7"}
	f, waits := startFake(t,
		apiFailure(503, "SERVICE_UNAVAILABLE", "try again"),
		limited,
		ok(runJSON("succeeded", step("a", "succeeded", 1))),
	)
	if _, err := runWfctl("runs", "watch", "run_1"); err != nil {
		t.Fatal(err)
	}
	if f.gets != 3 || len(*waits) != 2 || (*waits)[1] != 7*time.Second {
		t.Errorf("%d polls, waits %v; want 3 polls and the Retry-After honoured", f.gets, *waits)
	}
}

func TestRunsWatchGivesUp(t *testing.T) {
	f, _ := startFake(t, apiFailure(500, "INTERNAL_ERROR", "broken"))
	if _, err := runWfctl("runs", "watch", "run_1"); err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("got %v", err)
	}
	if f.gets != maxFailedPolls {
		t.Errorf("%d polls, want %d", f.gets, maxFailedPolls)
	}
	// A run that is not there (or another account's) is said at once.
	f, _ = startFake(t, apiFailure(404, "NOT_FOUND", "The resource was not found"))
	if _, err := runWfctl("runs", "watch", "run_1"); err == nil || !strings.Contains(err.Error(), "NOT_FOUND (404)") {
		t.Errorf("got %v", err)
	}
	if f.gets != 1 {
		t.Errorf("%d polls for a 404", f.gets)
	}
}

func TestRunsStart(t *testing.T) {
	f, _ := startFake(t, ok(runJSON("succeeded", step("a", "succeeded", 1))))
	out, err := runWfctl("runs", "start", "wf_1", "--input", `{"orderId": "o-1", "n": 1.50}`, "--idempotency-key", "k-1")
	if err != nil || out != "started run run_1 (queued)\n" {
		t.Fatalf("got %q, %v", out, err)
	}
	if len(f.start) != 1 || f.gets != 0 {
		t.Fatalf("%d starts, %d polls", len(f.start), f.gets)
	}
	got := f.start[0]
	var body map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got.body), &body); err != nil || string(body["input"]["n"]) != "1.50" || got.path != "/api/v1/workflows/wf_1/run" ||
		got.idempotencyKey != "k-1" || got.contentType != "application/json" {
		t.Errorf("request %+v", got)
	}

	// --watch, flags before the id, and an API URL given with /api/v1.
	t.Setenv("WORKFLOWS_API_URL", strings.TrimSuffix(mustEnv(t, "WORKFLOWS_API_URL"), "/")+"/api/v1/")
	out, err = runWfctl("runs", "start", "--watch", "wf_1")
	if err != nil || !strings.HasSuffix(out, "run run_1 succeeded\n") {
		t.Errorf("got %q, %v", out, err)
	}
	if len(f.start) != 2 || f.start[1].body != `{}` || f.gets != 1 {
		t.Errorf("%d starts (%+v), %d polls", len(f.start), f.start, f.gets)
	}
}

func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v, ok := os.LookupEnv(name)
	if !ok {
		t.Fatalf("%s is not set", name)
	}
	return v
}

func TestRunsCommandsRefuseBadArguments(t *testing.T) {
	f, _ := startFake(t)
	for _, args := range [][]string{
		{"runs", "start", "wf_1", "--input", "[1]"},
		{"runs", "start", "wf_1", "--input", "{"},
		{"runs", "start", "wf_1", "--input", "null"},
		{"runs", "start"},
		{"runs", "start", "wf_1", "wf_2"},
		{"runs", "watch"},
		{"runs", "watch", "run_1", "--colour"},
		{"runs", "stop", "run_1"},
	} {
		if _, err := runWfctl(args...); err == nil {
			t.Errorf("wfctl %s: no error", strings.Join(args, " "))
		}
	}
	t.Setenv("WORKFLOWS_API_KEY", "")
	if _, err := runWfctl("runs", "watch", "run_1"); err == nil || !strings.Contains(err.Error(), "WORKFLOWS_API_KEY") {
		t.Errorf("without a key: %v", err)
	}
	if len(f.start) != 0 || f.gets != 0 {
		t.Errorf("bad arguments reached the API: %d starts, %d polls", len(f.start), f.gets)
	}
}
