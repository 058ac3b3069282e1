package main

// wfctl runs start and wfctl runs watch: the API's runs from a terminal,
// with an API key (not the operator's AWS credentials, unlike the rest of
// wfctl), as `gh run watch` does for GitHub Actions.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaultAPIURL is the local gateway of `make dev`.
const defaultAPIURL = "http://localhost:3000"

// Polling GET /runs/{id}: every firstPoll while something changes, backing
// off by half again each quiet poll to at most maxPoll, so that a run in a
// long delay costs a request every few seconds, not two a second.
const (
	firstPoll = 500 * time.Millisecond
	maxPoll   = 5 * time.Second
	// maxFailedPolls is how many polls in a row may fail (the network, a
	// 5xx, a 429) before watch gives up.
	maxFailedPolls = 5
)

// sleep waits between polls; the tests replace it to record the waits.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// apiClient talks to the Workflows API with a key.
type apiClient struct {
	base string // ends in /api/v1
	key  string
	http *http.Client
}

// apiFromEnv reads WORKFLOWS_API_URL (default the local gateway; /api/v1 is
// added unless given) and WORKFLOWS_API_KEY.
func apiFromEnv() (*apiClient, error) {
	key := os.Getenv("WORKFLOWS_API_KEY")
	if key == "" {
		return nil, errors.New("WORKFLOWS_API_KEY is not set: runs commands call the API with a key (wfctl keys create makes one)")
	}
	base := strings.TrimRight(os.Getenv("WORKFLOWS_API_URL"), "/")
	if base == "" {
		base = defaultAPIURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("WORKFLOWS_API_URL must be an http or https URL, not %q", base)
	}
	if !strings.HasSuffix(base, "/api/v1") {
		base += "/api/v1"
	}
	return &apiClient{base: base, key: key, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status     int
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter time.Duration
	Details    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d): %s", e.Code, e.Status, printable(e.Message))
	for _, d := range e.Details {
		fmt.Fprintf(&b, "\n  %s: %s", printable(d.Field), printable(d.Message))
	}
	return b.String()
}

// transient reports whether asking again later may go better.
func (e *apiError) transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// call sends one request and decodes the envelope's data into data.
func (c *apiClient) call(ctx context.Context, method, path string, body []byte, header http.Header, data any) error {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return err
	}
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	var envelope struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *apiError       `json:"error"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil || (!envelope.Success && envelope.Error == nil) {
		return &apiError{Status: resp.StatusCode, Code: "UNEXPECTED_ANSWER", Message: "the API answered " + resp.Status + " without its usual body"}
	}
	if !envelope.Success {
		envelope.Error.Status = resp.StatusCode
		if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && seconds > 0 {
			envelope.Error.RetryAfter = time.Duration(seconds) * time.Second
		}
		return envelope.Error
	}
	return json.Unmarshal(envelope.Data, data)
}

// runView is what wfctl reads of a run (GET /runs/{id}).
type runView struct {
	ID         string     `json:"id"`
	WorkflowID string     `json:"workflowId"`
	Status     string     `json:"status"`
	Error      *runError  `json:"error"`
	CreatedAt  string     `json:"createdAt"`
	StartedAt  *string    `json:"startedAt"`
	FinishedAt *string    `json:"finishedAt"`
	Steps      []stepView `json:"steps"`
}

type stepView struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	StartedAt  *string   `json:"startedAt"`
	FinishedAt *string   `json:"finishedAt"`
	Error      *runError `json:"error"`
	Reused     bool      `json:"reused"`
}

type runError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Step    string `json:"step"`
}

func (e *runError) String() string {
	s := printable(e.Code) + ": " + printable(e.Message)
	if e.Step != "" {
		s = "step " + printable(e.Step) + ": " + s
	}
	return s
}

// finished reports whether a run in this status has ended for good.
func finished(status string) bool {
	switch status {
	case "succeeded", "failed", "cancelled", "timed_out":
		return true
	}
	return false
}

// errRunDidNotSucceed makes wfctl exit non-zero for a run that ended
// otherwise than succeeded; watch has printed how it ended.
var errRunDidNotSucceed = errors.New("the run did not succeed")

// splitPositional takes the one positional argument of a command wherever
// it is given, before or after the flags (Go's flag package stops at the
// first argument that is not a flag).
func splitPositional(fs *flag.FlagSet, args []string, what string) (string, error) {
	var positional string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%s: %w", fs.Name(), err)
	}
	rest := fs.Args()
	if positional == "" && len(rest) > 0 {
		positional, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	if positional == "" {
		return "", fmt.Errorf("%s: %s is required", fs.Name(), what)
	}
	return positional, nil
}

// startRun is `wfctl runs start WORKFLOW_ID [--input JSON] [--idempotency-key K] [--watch]`.
func startRun(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("runs start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	input := fs.String("input", "", "the run's input, a JSON object")
	idempotencyKey := fs.String("idempotency-key", "", "repeats within 24 h return the same run")
	watch := fs.Bool("watch", false, "watch the run until it ends")
	workflowID, err := splitPositional(fs, args, "WORKFLOW_ID")
	if err != nil {
		return err
	}
	body := []byte(`{}`)
	if *input != "" {
		var object map[string]json.RawMessage
		if err := json.Unmarshal([]byte(*input), &object); err != nil || object == nil {
			return errors.New("--input must be a JSON object")
		}
		body, _ = json.Marshal(map[string]json.RawMessage{"input": json.RawMessage(*input)})
	}
	api, err := apiFromEnv()
	if err != nil {
		return err
	}
	header := http.Header{}
	if *idempotencyKey != "" {
		header.Set("Idempotency-Key", *idempotencyKey)
	}
	var run runView
	if err := api.call(ctx, http.MethodPost, "/workflows/"+url.PathEscape(workflowID)+"/run", body, header, &run); err != nil {
		return err
	}
	fmt.Fprintf(out, "started run %s (%s)\n", run.ID, run.Status)
	if !*watch {
		return nil
	}
	return watchRun(ctx, api, run.ID, out)
}

// watchRunCommand is `wfctl runs watch RUN_ID`.
func watchRunCommand(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("runs watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runID, err := splitPositional(fs, args, "RUN_ID")
	if err != nil {
		return err
	}
	api, err := apiFromEnv()
	if err != nil {
		return err
	}
	return watchRun(ctx, api, runID, out)
}

// watchRun polls the run and prints a line whenever the run's status or a
// step's status or attempts change, then how the run ended. It returns nil
// only for a run that succeeded.
func watchRun(ctx context.Context, api *apiClient, runID string, out io.Writer) error {
	type stepState struct {
		status   string
		attempts int
	}
	shown := map[string]stepState{}
	lastStatus := ""
	wait := firstPoll
	failures := 0
	for {
		var run runView
		err := api.call(ctx, http.MethodGet, "/runs/"+url.PathEscape(runID), nil, nil, &run)
		if err != nil {
			var apiErr *apiError
			isAPI := errors.As(err, &apiErr)
			if (isAPI && !apiErr.transient()) || ctx.Err() != nil {
				return err
			}
			if failures++; failures >= maxFailedPolls {
				return fmt.Errorf("gave up after %d failed polls: %w", failures, err)
			}
			wait = min(wait*2, maxPoll)
			if isAPI && apiErr.RetryAfter > wait {
				wait = apiErr.RetryAfter
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		failures = 0
		changed := false
		if run.Status != lastStatus && !finished(run.Status) { // the end has its own line
			fmt.Fprintf(out, "run %s: %s\n", printable(run.ID), printable(run.Status))
			lastStatus, changed = run.Status, true
		}
		for _, step := range run.Steps {
			state := stepState{step.Status, step.Attempts}
			if shown[step.ID] == state {
				continue
			}
			shown[step.ID], changed = state, true
			fmt.Fprintln(out, stepLine(step))
		}
		if finished(run.Status) {
			fmt.Fprintln(out, endLine(run))
			if run.Status != "succeeded" {
				return errRunDidNotSucceed
			}
			return nil
		}
		if changed {
			wait = firstPoll
		} else {
			wait = min(wait*3/2, maxPoll)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// stepLine is one step's line: `  ✓ fetch   succeeded  1 attempt  1.2s`.
func stepLine(step stepView) string {
	attempts := fmt.Sprintf("%d attempts", step.Attempts)
	switch step.Attempts {
	case 0:
		attempts = "" // skipped, or reused from the retried run
	case 1:
		attempts = "1 attempt"
	}
	line := strings.TrimRight(fmt.Sprintf("  %s %-20s %-10s %s", stepMark(step.Status), printable(step.ID), printable(step.Status), attempts), " ")
	if d, ok := duration(step.StartedAt, step.FinishedAt); ok {
		line += "  " + d
	}
	if step.Reused {
		line += "  (reused from the retried run)"
	}
	if step.Error != nil {
		line += "  " + step.Error.String()
	}
	return line
}

func stepMark(status string) string {
	switch status {
	case "succeeded":
		return "✓"
	case "failed":
		return "✗"
	case "skipped":
		return "-"
	case "cancelled":
		return "⊘"
	}
	return "•"
}

// endLine says how the run ended.
func endLine(run runView) string {
	line := fmt.Sprintf("run %s %s", printable(run.ID), printable(run.Status))
	if d, ok := duration(run.StartedAt, run.FinishedAt); ok {
		line += " in " + d
	}
	if run.Error != nil {
		line += ": " + run.Error.String()
	}
	return line
}

// duration is finished - started, rounded for reading, when both are known.
func duration(started, finished *string) (string, bool) {
	if started == nil || finished == nil {
		return "", false
	}
	from, err1 := time.Parse(time.RFC3339Nano, *started)
	to, err2 := time.Parse(time.RFC3339Nano, *finished)
	if err1 != nil || err2 != nil || to.Before(from) {
		return "", false
	}
	d := to.Sub(from)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String(), true
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String(), true
	}
	return d.Round(time.Second).String(), true
}
