package openapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/engine"
	"github.com/workflowsapi/workflows/internal/openapi/contract"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// everyConnection is a ConnectionExists that knows every id: the examples
// name none, and this test is about the document, not connections.
func everyConnection(string) (bool, error) { return true, nil }

// The create-workflow examples are definitions the API accepts, and the
// document allows them as requests.
func TestTheCreateWorkflowExamplesAreValidDefinitions(t *testing.T) {
	doc := loadDocument(t)
	op := operations(doc)["POST /api/v1/workflows"]
	media := op.RequestBody.Value.Content.Get("application/json")
	if media == nil || len(media.Examples) == 0 {
		t.Fatal("create-workflow has no request examples")
	}
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	withConcurrency, withNotify := 0, 0
	for name, ex := range media.Examples {
		body, err := json.Marshal(ex.Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		d, err := definition.Parse(body, everyConnection)
		if err != nil {
			t.Errorf("%s: the API refuses the example: %v", name, err)
			continue
		}
		if d.Concurrency != nil {
			withConcurrency++
		}
		if d.Notify != nil {
			withNotify++
		}
		if got := outcome(createWorkflow(body).check(t, v)); got != within {
			t.Errorf("%s: the example is %s", name, got)
		}
	}
	if withConcurrency == 0 {
		t.Error("no create-workflow example has a concurrency limit")
	}
	if withNotify == 0 {
		t.Error("no create-workflow example has a notify")
	}
}

// createWorkflow is POST /workflows with body, answered 400 (so that only
// the request decides whether the exchange is within the contract).
func createWorkflow(body []byte) exchange {
	return exchange{
		method: "POST", path: "/api/v1/workflows", reqHeader: jsonBody(), reqBody: string(body), status: 400,
		respHeader: limited(),
		respBody: `{"success":false,"error":{"code":"VALIDATION_ERROR","message":"steps: is required",` +
			`"details":[{"field":"steps","message":"is required"}]}}`,
	}
}

// The document and validation agree on a workflow's concurrency: what one
// accepts the other does, and each refusal names the field.
func TestTheContractDescribesAWorkflowsConcurrency(t *testing.T) {
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	withConcurrency := func(concurrency string) []byte {
		return []byte(`{"name":"c","trigger":{"type":"manual"},"concurrency":` + concurrency +
			`,"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`)
	}
	accepted := []string{`{"limit":1}`, `{"limit":1000}`, `{"limit":2,"key":".input.customerId"}`}
	for _, c := range accepted {
		t.Run(c+" is accepted by both", func(t *testing.T) {
			d, err := definition.Parse(withConcurrency(c), everyConnection)
			if err != nil {
				t.Fatalf("validation refuses it: %v", err)
			}
			if d.Concurrency == nil || d.Concurrency.Limit < 1 {
				t.Fatalf("parsed as %+v", d.Concurrency)
			}
			if got := outcome(createWorkflow(withConcurrency(c)).check(t, v)); got != within {
				t.Errorf("the contract: %s", got)
			}
		})
	}
	refused := []struct{ concurrency, field string }{
		{`{"limit":0}`, "concurrency.limit"},
		{`{"limit":1001}`, "concurrency.limit"},
		{`{"limit":2.5}`, "concurrency.limit"},
		{`{"key":".input.a"}`, "concurrency.limit"},
		{`{"limit":2,"key":""}`, "concurrency.key"},
		{`{"limit":2,"queue":"fifo"}`, "concurrency.queue"},
		{`2`, "concurrency"},
		{`null`, "concurrency"},
	}
	for _, tt := range refused {
		t.Run(tt.concurrency+" is refused by both", func(t *testing.T) {
			_, err := definition.Parse(withConcurrency(tt.concurrency), everyConnection)
			if got := refusedFields(err); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("validation: %v naming %q, want a VALIDATION_ERROR naming %s", err, got, tt.field)
			}
			if got := outcome(createWorkflow(withConcurrency(tt.concurrency)).check(t, v)); got != badRequest {
				t.Errorf("the contract: %s, want %s", got, badRequest)
			}
		})
	}
	// A key that does not compile is one the document cannot tell: only
	// validation refuses it.
	t.Run("a key that does not compile is refused by validation", func(t *testing.T) {
		_, err := definition.Parse(withConcurrency(`{"limit":2,"key":".input |"}`), everyConnection)
		if got := refusedFields(err); !slices.Equal(got, []string{"concurrency.key"}) {
			t.Errorf("validation: %v naming %q, want a VALIDATION_ERROR naming concurrency.key", err, got)
		}
	})

	const workflow = `{"id":"wf_01m8faf8h74r4czqj1rqt4bf1e","name":"c","description":"","enabled":true,` +
		`"trigger":{"type":"manual"},%s"steps":[{"id":"a","type":"transform","with":{"jq":"."}}],` +
		`"version":1,"createdAt":"2026-11-27T18:17:12.231Z","updatedAt":"2026-11-27T18:17:12.231Z"}`
	read := func(concurrency string) exchange {
		member := ""
		if concurrency != "" {
			member = `"concurrency":` + concurrency + `,`
		}
		return exchange{
			method: "GET", path: "/api/v1/workflows/wf_01m8faf8h74r4czqj1rqt4bf1e", status: 200,
			respHeader: limited("ETag", `"1"`),
			respBody:   `{"success":true,"data":` + fmt.Sprintf(workflow, member) + `}`,
		}
	}
	for _, tt := range []struct{ concurrency, want string }{
		{"", within},
		{`{"limit":2}`, within},
		{`{"limit":1,"key":".input.customerId"}`, within},
		{`{"limit":0}`, badAnswer},
		{`{"limit":2,"key":""}`, badAnswer},
		{`{"limit":2,"slots":1}`, badAnswer},
	} {
		t.Run("a workflow read with concurrency "+tt.concurrency+" is "+tt.want, func(t *testing.T) {
			if got := outcome(read(tt.concurrency).check(t, v)); got != tt.want {
				t.Errorf("got %s", got)
			}
		})
	}
}

// refusedFields are the fields a VALIDATION_ERROR names (nil for any
// other error, or none).
func refusedFields(err error) []string {
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != domain.CodeValidation {
		return nil
	}
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Field)
	}
	return out
}

// A run failed by its concurrency key has a code the document lists.
func TestTheRunErrorCodesHoldTheConcurrencyKeyCode(t *testing.T) {
	doc := loadDocument(t)
	code := doc.Components.Schemas["RunError"].Value.Properties["code"].Value
	if !slices.Contains(code.Examples, any(engine.CodeConcurrencyKey)) {
		t.Errorf("RunError.code lists %v, without %s", code.Examples, engine.CodeConcurrencyKey)
	}
}
