package openapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/openapi/contract"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// The document and validation agree on a workflow's notify: what one
// accepts the other does, each refusal the document can tell names the
// field, and the rest (which a schema cannot state) validation refuses.
func TestTheContractDescribesAWorkflowsNotify(t *testing.T) {
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	withNotify := func(notify string) []byte {
		return []byte(`{"name":"n","trigger":{"type":"manual"},"notify":` + notify +
			`,"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`)
	}
	for _, n := range []string{
		`{"url":"https://hooks.example/runs","events":["run.failed"]}`,
		`{"url":"https://hooks.example/runs?team=a","events":["run.succeeded","run.failed","run.timed_out","run.cancelled","run.waiting"]}`,
		`{"url":"http://127.0.0.1:8080/hooks","events":["run.waiting"]}`,
		`{"url":"http://localhost/hooks","events":["run.cancelled"]}`,
	} {
		t.Run(n+" is accepted by both", func(t *testing.T) {
			d, err := definition.Parse(withNotify(n), everyConnection)
			if err != nil {
				t.Fatalf("validation refuses it: %v", err)
			}
			if d.Notify == nil || d.Notify.URL == "" {
				t.Fatalf("parsed as %+v", d.Notify)
			}
			if got := outcome(createWorkflow(withNotify(n)).check(t, v)); got != within {
				t.Errorf("the contract: %s", got)
			}
		})
	}
	for _, tt := range []struct{ notify, field string }{
		{`{"events":["run.failed"]}`, "notify.url"},
		{`{"url":"file:///etc/passwd","events":["run.failed"]}`, "notify.url"},
		{`{"url":"https://hooks.example/` + strings.Repeat("a", 2048) + `","events":["run.failed"]}`, "notify.url"},
		{`{"url":"https://hooks.example/runs"}`, "notify.events"},
		{`{"url":"https://hooks.example/runs","events":[]}`, "notify.events"},
		{`{"url":"https://hooks.example/runs","events":["run.failed","run.started"]}`, "notify.events[1]"},
		{`{"url":"https://hooks.example/runs","events":["run.failed","run.failed"]}`, "notify.events[1]"},
		{`{"url":"https://hooks.example/runs","events":["run.failed"],"secret":"x"}`, "notify.secret"},
		{`"https://hooks.example/runs"`, "notify"},
		{`null`, "notify"},
	} {
		t.Run(tt.notify+" is refused by both", func(t *testing.T) {
			_, err := definition.Parse(withNotify(tt.notify), everyConnection)
			if got := refusedFields(err); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("validation: %v naming %q, want a VALIDATION_ERROR naming %s", err, got, tt.field)
			}
			if got := outcome(createWorkflow(withNotify(tt.notify)).check(t, v)); got != badRequest {
				t.Errorf("the contract: %s, want %s", got, badRequest)
			}
		})
	}
	// What a schema cannot state (which hosts may have plain http, no
	// templates, no user name in the URL) the document says in words, and
	// validation refuses.
	for _, n := range []string{
		`{"url":"http://hooks.example/runs","events":["run.failed"]}`,
		`{"url":"https://hooks.example/{{ .input.a }}","events":["run.failed"]}`,
		`{"url":"https://u:p@hooks.example/runs","events":["run.failed"]}`,
	} {
		t.Run(n+" is refused by validation", func(t *testing.T) {
			_, err := definition.Parse(withNotify(n), everyConnection)
			if got := refusedFields(err); !slices.Equal(got, []string{"notify.url"}) {
				t.Errorf("validation: %v naming %q, want a VALIDATION_ERROR naming notify.url", err, got)
			}
		})
	}
}

// The document lists exactly the events a workflow's notify may name, in
// the same order.
func TestTheRunEventTypesAreTheNotifyEvents(t *testing.T) {
	doc := loadDocument(t)
	var listed []string
	for _, e := range doc.Components.Schemas["RunEventType"].Value.Enum {
		listed = append(listed, fmt.Sprint(e))
	}
	var want []string
	for _, e := range workflows.NotifyEvents {
		want = append(want, string(e))
	}
	if !slices.Equal(listed, want) {
		t.Errorf("RunEventType lists %v, workflows.NotifyEvents %v", listed, want)
	}
}

// A workflow answer may carry notify and, once, notifySecret; a run answer
// its notifications. The document holds their shapes.
func TestTheContractHoldsNotifyAnswers(t *testing.T) {
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	const workflowID = "wf_01m8faf8h74r4czqj1rqt4bf1e"
	const workflow = `{"id":"` + workflowID + `","name":"n","description":"","enabled":true,` +
		`"trigger":{"type":"manual"},%s"steps":[{"id":"a","type":"transform","with":{"jq":"."}}],` +
		`"version":1,"createdAt":"2026-11-27T18:17:12.231Z","updatedAt":"2026-11-27T18:17:12.231Z"}`
	const notify = `"notify":{"url":"https://hooks.example/runs","events":["run.failed"]},`
	const secret = "nsec_Vb8kQm2xT0pYc7Lr5NwZ3aHd9FjE1uGs6oKi4yXqRtA"
	created := func(members string) exchange {
		return exchange{
			method: "POST", path: "/api/v1/workflows", reqHeader: jsonBody(),
			reqBody: `{"name":"n","trigger":{"type":"manual"},` + notify + `"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`,
			status:  201, respHeader: limited("ETag", `"1"`, "Location", "/api/v1/workflows/"+workflowID),
			respBody: `{"success":true,"data":` + fmt.Sprintf(workflow, members) + `}`,
		}
	}
	for _, tt := range []struct{ name, members, want string }{
		{"with notify and its secret", notify + `"notifySecret":"` + secret + `",`, within},
		{"with notify, its secret not shown", notify, within},
		{"with a secret that is not a notification secret", notify + `"notifySecret":"whsec_q3Jb0oZ5m2vTq0y6cX1kYwq7m0l9x3fV8bJ2nH4sD6E",`, badAnswer},
		{"with an event no run sends", `"notify":{"url":"https://hooks.example/runs","events":["run.started"]},`, badAnswer},
	} {
		t.Run("a created workflow "+tt.name+" is "+tt.want, func(t *testing.T) {
			if got := outcome(created(tt.members).check(t, v)); got != tt.want {
				t.Errorf("got %s", got)
			}
		})
	}

	rolled := func(body string) exchange {
		return exchange{
			method: "POST", path: "/api/v1/workflows/" + workflowID + "/notify/roll", reqHeader: jsonBody(),
			reqBody: `{"gracePeriodSeconds":3600}`, status: 201, respHeader: limited(),
			respBody: `{"success":true,"data":` + body + `}`,
		}
	}
	for _, tt := range []struct{ name, body, want string }{
		{"a roll with a grace period", `{"workflowId":"` + workflowID + `","secret":"` + secret + `","previousSecretExpiresAt":"2026-11-28T17:17:12.231Z"}`, within},
		{"a roll without one", `{"workflowId":"` + workflowID + `","secret":"` + secret + `","previousSecretExpiresAt":null}`, within},
		{"a roll answering a webhook secret", `{"workflowId":"` + workflowID + `","secret":"whsec_q3Jb0oZ5m2vTq0y6cX1kYwq7m0l9x3fV8bJ2nH4sD6E","previousSecretExpiresAt":null}`, badAnswer},
		{"a roll answering a url", `{"workflowId":"` + workflowID + `","secret":"` + secret + `","url":"https://x.example/","previousSecretExpiresAt":null}`, badAnswer},
	} {
		t.Run(tt.name+" is "+tt.want, func(t *testing.T) {
			if got := outcome(rolled(tt.body).check(t, v)); got != tt.want {
				t.Errorf("got %s", got)
			}
		})
	}

	const runID = "run_01m8faf8h74r4czqj1rqt4bf1e"
	const run = `{"id":"` + runID + `","workflowId":"` + workflowID + `","workflowVersion":1,"status":"failed",` +
		`"trigger":"manual","retryOf":null,"parentRunId":null,"input":{},"output":null,` +
		`"error":{"code":"HTTP_STATUS","message":"500","step":"a"},"createdAt":"2026-11-27T18:17:12.231Z",` +
		`"startedAt":"2026-11-27T18:17:12.300Z","finishedAt":"2026-11-27T18:17:13.000Z","steps":[]%s}`
	got := func(notifications string) exchange {
		return exchange{
			method: "GET", path: "/api/v1/runs/" + runID, status: 200, respHeader: limited(),
			respBody: `{"success":true,"data":` + fmt.Sprintf(run, notifications) + `}`,
		}
	}
	const pending = `{"id":"evt_01m8faf8h74r4czqj1rqt4bf1e","type":"run.failed","createdAt":"2026-11-27T18:17:13.000Z",` +
		`"status":"pending","attempts":1,"lastAttemptAt":"2026-11-27T18:17:13.100Z","nextAttemptAt":"2026-11-27T18:17:15.100Z",` +
		`"lastResponseStatus":503,"lastError":{"code":"HTTP_STATUS","message":"the receiver answered 503"}}`
	const delivered = `{"id":"evt_01m8faf8h74r4czqj1rqt4bf1f","type":"run.waiting","createdAt":"2026-11-27T18:17:12.500Z",` +
		`"status":"delivered","attempts":1,"lastAttemptAt":"2026-11-27T18:17:12.600Z","deliveredAt":"2026-11-27T18:17:12.700Z","lastResponseStatus":204}`
	for _, tt := range []struct{ name, notifications, want string }{
		{"without notifications", "", within},
		{"with a delivered and a pending notification", `,"notifications":[` + delivered + `,` + pending + `]`, within},
		{"with a notification of no status the document lists", `,"notifications":[` + strings.Replace(delivered, `"delivered"`, `"sent"`, 1) + `]`, badAnswer},
		{"with an event id of another kind", `,"notifications":[` + strings.Replace(delivered, "evt_", "run_", 1) + `]`, badAnswer},
		{"with a status code out of range", `,"notifications":[` + strings.Replace(delivered, "204", "99", 1) + `]`, badAnswer},
		{"with a notification lacking its attempts", `,"notifications":[` + strings.Replace(delivered, `"attempts":1,`, "", 1) + `]`, badAnswer},
	} {
		t.Run("a run read "+tt.name+" is "+tt.want, func(t *testing.T) {
			if got := outcome(got(tt.notifications).check(t, v)); got != tt.want {
				t.Errorf("got %s", got)
			}
		})
	}
}
