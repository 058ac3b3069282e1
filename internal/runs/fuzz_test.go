package runs

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
)

func requireValidation(t *testing.T, input string, err error, fields ...string) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) == 0 {
		t.Fatalf("refused %q with %#v, want a VALIDATION_ERROR with details", input, err)
	}
	for _, d := range e.Details {
		if len(fields) > 0 && !slices.Contains(fields, d.Field) && d.Field != "body" {
			t.Fatalf("refused %q naming %q, want one of %v", input, d.Field, fields)
		}
	}
}

// onlyWhitespace reports whether body has bytes and all of them are JSON's
// whitespace: not JSON, so refused, unlike no body at all (issue 19).
func onlyWhitespace(body []byte) bool { return len(body) > 0 && len(bytes.Trim(body, " \t\n\r")) == 0 }

// FuzzStartBody holds a start's body to its rule: no panic; a refusal is a
// VALIDATION_ERROR; an accepted body's input is valid JSON (or absent).
func FuzzStartBody(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"input":{"orderId":"o"}}`, `{"input":null}`, `{"input":[1,2]}`, `{"input":"s"}`,
		`{"input":{},"input":{}}`, `{"inputs":{}}`, `[]`, `null`, `{"input":{"a":` + "\xff" + `}}`, `{"input":1e999}`,
		"  \n", " ", `{"input":{"n":60.0,"m":1e1}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/workflows/wf_x/run", bytes.NewReader(body))
		req, err := ParseStartBody(r, body)
		if err != nil {
			requireValidation(t, string(body), err)
			return
		}
		if onlyWhitespace(body) {
			t.Fatalf("accepted %q, a body of only whitespace", body)
		}
		if req.Input != nil && !jsontext.Value(req.Input).IsValid() {
			t.Fatalf("accepted %q with an input that is not JSON: %q", body, req.Input)
		}
		if len(bytes.TrimSpace(body)) == 0 && req.Input != nil {
			t.Fatalf("an empty body gave input %q", req.Input)
		}
	})
}

// FuzzListFilter holds ?workflowId= and ?status= to their rules: a refusal
// is a VALIDATION_ERROR on one of them; an accepted filter holds a
// well-formed workflow id (or none), a known status (or none) and a
// well-formed lowercase run id as parentRunId (or none), each given once.
func FuzzListFilter(f *testing.F) {
	for _, seed := range []string{"", "status=queued", "status=done", "workflowId=wf_01m8faf8h74r4czqj1rqt4bf1e", "workflowId=run_x",
		"status=queued&status=failed", "workflowId=", "status=%zz", "status=timed_out&workflowId=wf_01m8faf8h74r4czqj1rqt4bf1e",
		"parentRunId=run_01m8faf8h74r4czqj1rqt4bf1e", "parentRunId=RUN_01M8FAF8H74R4CZQJ1RQT4BF1E", "parentRunId=run_x", "parentRunId=&status=queued",
		"parentRunId=run_01m8faf8h74r4czqj1rqt4bf1e&parentRunId=run_01m8faf8h74r4czqj1rqt4bf1e"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/api/v1/runs", nil)
		r.URL.RawQuery = rawQuery
		filter, err := ParseFilter(r)
		if err != nil {
			requireValidation(t, rawQuery, err, "workflowId", "status", "parentRunId")
			return
		}
		q := r.URL.Query()
		if filter.WorkflowID != "" && (!ids.Valid(ids.PrefixWorkflow, filter.WorkflowID) || len(q["workflowId"]) != 1) {
			t.Fatalf("accepted workflowId %q from %q", filter.WorkflowID, rawQuery)
		}
		if filter.Status != "" && (!slices.Contains(Statuses, filter.Status) || len(q["status"]) != 1) {
			t.Fatalf("accepted status %q from %q", filter.Status, rawQuery)
		}
		if filter.ParentRunID != "" && (!ids.Valid(ids.PrefixRun, filter.ParentRunID) || strings.ToLower(filter.ParentRunID) != filter.ParentRunID || len(q["parentRunId"]) != 1) {
			t.Fatalf("accepted parentRunId %q from %q", filter.ParentRunID, rawQuery)
		}
		if (filter.WorkflowID == "") != (q.Get("workflowId") == "") || (filter.Status == "") != (q.Get("status") == "") || (filter.ParentRunID == "") != (q.Get("parentRunId") == "") {
			t.Fatalf("%q read as %+v", rawQuery, filter)
		}
	})
}

// FuzzRetryBody holds a retry's body to its rule: none, {} or
// {"from":"failed_step"}; anything else is a VALIDATION_ERROR.
func FuzzRetryBody(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"from":"failed_step"}`, `{"from":"start"}`, `{"from":""}`, `{"from":null}`, `{"from":1}`, `{"x":1}`, `[]`, `{"from":"failed_step","from":"failed_step"}`,
		"  \n", "\t", `{"from":60.0}`, `{"from":1e1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/runs/run_x/retry", bytes.NewReader(body))
		fromFailed, err := ParseRetryBody(r)
		if err != nil {
			requireValidation(t, string(body), err)
			return
		}
		if onlyWhitespace(body) {
			t.Fatalf("accepted %q, a body of only whitespace", body)
		}
		if fromFailed != bytes.Contains(body, []byte("failed_step")) && fromFailed {
			t.Fatalf("%q read as from failed step", body)
		}
		// Accepted as a plain retry: no body, or an object with no member.
		var members map[string]any
		if !fromFailed && len(bytes.TrimSpace(body)) > 0 && (json.Unmarshal(body, &members) != nil || len(members) != 0) {
			t.Fatalf("%q accepted as a plain retry", body)
		}
	})
}

// FuzzSignalBody holds a signal's body (both signal routes) to its rule: no
// panic; a refusal is a VALIDATION_ERROR; accepted data is valid JSON of at
// most MaxStepOutputBytes (or absent: the step's output is then null).
func FuzzSignalBody(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"data":{"approved":true}}`, `{"data":null}`, `{"data":[1,"x"]}`, `{"data":"yes"}`,
		`{"data":1,"extra":2}`, `{"data":{},"data":{}}`, `[]`, `null`, `{"data":{"a":` + "\xff" + `}}`, `{"data":1e999}`, "\x0b",
		"  \n", "\r\n", `{"data":60.0}`, `{"data":[1e1]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/signals/x", bytes.NewReader(body))
		data, err := ParseSignalBody(r)
		if err != nil {
			requireValidation(t, string(body), err)
			return
		}
		if onlyWhitespace(body) {
			t.Fatalf("accepted %q, a body of only whitespace", body)
		}
		if data != nil && (!data.IsValid() || len(data) > MaxStepOutputBytes) {
			t.Fatalf("accepted %q with data %q: not JSON, or too big for a step's output", body, data)
		}
		if len(bytes.TrimSpace(body)) == 0 && data != nil {
			t.Fatalf("an empty body gave data %q", data)
		}
	})
}
