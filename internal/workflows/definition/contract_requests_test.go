package definition_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/workflowsapi/workflows/internal/openapi/contract"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// The contract and validation agree on the fan-outs and the workflow step:
// what validation accepts is a request within openapi.yaml, and each rule
// of theirs the document can say (a bound, a member a step may not have, a
// type an inner step may not be, an id's form) it says too, so that a client checking its body against
// the document is not told otherwise by the API.
func TestTheContractAgreesOnTheFanOuts(t *testing.T) {
	v, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	// withinContract reports whether body, sent to create a workflow, is a
	// request the document allows: answered 400, the exchange is outside
	// the contract only by its request.
	withinContract := func(t *testing.T, body []byte) bool {
		t.Helper()
		req := httptest.NewRequest("POST", "http://localhost:3000/api/v1/workflows", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		header := http.Header{
			"X-Request-Id": {"r-1"}, "X-Ratelimit-Limit": {"1000"}, "X-Ratelimit-Remaining": {"999"},
			"X-Ratelimit-Reset": {"1795800060"}, "Content-Type": {"application/json"},
		}
		answer := []byte(`{"success":false,"error":{"code":"VALIDATION_ERROR","message":"steps: is required","details":[{"field":"steps","message":"is required"}]}}`)
		err := v.Check(req, body, &http.Response{StatusCode: http.StatusBadRequest, Header: header}, answer)
		var reqErr *contract.RequestError
		if err != nil && !errors.As(err, &reqErr) {
			t.Fatalf("the exchange itself is outside the contract: %v", err)
		}
		return err == nil
	}
	accepted := [][]byte{
		fanOut(t, func(map[string]any) {}),
		fanOut(t, func(d map[string]any) { delete(with(d, 5), "concurrency") }),
		fanOut(t, func(d map[string]any) {
			with(d, 5)["concurrency"] = 20
			with(d, 5)["step"] = map[string]any{"type": "transform", "with": map[string]any{"jq": ".item"}}
			step(d, 5)["onError"] = "continue"
		}),
		fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(10) }),
		subWorkflow(t, func(map[string]any) {}),
		subWorkflow(t, func(d map[string]any) { step(d, 5)["with"] = map[string]any{"workflowId": childWorkflow} }),
		subWorkflow(t, func(d map[string]any) {
			with(d, 5)["version"] = workflows.MaxWorkflowStepVersion
			step(d, 5)["onError"] = "fail"
			step(d, 2)["else"] = "child"
		}),
	}
	for i, body := range accepted {
		if _, err := definition.Parse(body, exists); err != nil {
			t.Fatalf("accepted[%d] is refused: %v", i, err)
		}
		if !withinContract(t, body) {
			t.Errorf("accepted[%d] is outside the contract:\n%s", i, body)
		}
	}
	refused := []struct {
		name string
		body []byte
	}{
		{"empty items", fanOut(t, func(d map[string]any) { with(d, 5)["items"] = "" })},
		{"a concurrency of 0", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 0 })},
		{"a concurrency over 20", fanOut(t, func(d map[string]any) { with(d, 5)["concurrency"] = 21 })},
		{"a foreach without a step", fanOut(t, func(d map[string]any) { delete(with(d, 5), "step") })},
		{"an id on a foreach's step", fanOut(t, func(d map[string]any) { eachStep(d)["id"] = "line" })},
		{"a retry on a foreach's step", fanOut(t, func(d map[string]any) { eachStep(d)["retry"] = map[string]any{"maxAttempts": 2} })},
		{"a timeout on a foreach's step", fanOut(t, func(d map[string]any) { eachStep(d)["timeoutSeconds"] = 5 })},
		{"onError on a foreach's step", fanOut(t, func(d map[string]any) { eachStep(d)["onError"] = "continue" })},
		{"a foreach of a condition", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "condition", "with": map[string]any{"jq": "."}, "else": "end"}
		})},
		{"a parallel without steps", fanOut(t, func(d map[string]any) { delete(with(d, 6), "steps") })},
		{"a parallel of one step", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(1) })},
		{"a parallel of 11 steps", fanOut(t, func(d map[string]any) { with(d, 6)["steps"] = transformSteps(11) })},
		{"a retry on a parallel", fanOut(t, func(d map[string]any) { step(d, 6)["retry"] = map[string]any{"maxAttempts": 2} })},
		{"a timeout on a parallel", fanOut(t, func(d map[string]any) { step(d, 6)["timeoutSeconds"] = 5 })},
		{"a parallel holding a delay", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "wait", "type": "delay", "with": map[string]any{"seconds": 5}}
		})},
		{"a parallel holding a parallel", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "inner", "type": "parallel", "with": map[string]any{"steps": transformSteps(2)}}
		})},
		{"an inner step without an id", fanOut(t, func(d map[string]any) { delete(branch(d, 0), "id") })},
		{"onError on an inner step", fanOut(t, func(d map[string]any) { branch(d, 0)["onError"] = "continue" })},
		{"else on an inner step", fanOut(t, func(d map[string]any) { branch(d, 1)["else"] = "end" })},
		{"a workflow step without a workflowId", subWorkflow(t, func(d map[string]any) { delete(with(d, 5), "workflowId") })},
		{"a workflowId of another resource", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = knownConnection })},
		{"a workflowId in capitals", subWorkflow(t, func(d map[string]any) { with(d, 5)["workflowId"] = "wf_01M8FAF8H74R4CZQJ1RQT4BF1E" })},
		{"an empty input", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = "" })},
		{"an input that is not a string", subWorkflow(t, func(d map[string]any) { with(d, 5)["input"] = map[string]any{} })},
		{"a version of 0", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 0 })},
		{"a version over the largest int32", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 2_147_483_648 })},
		{"a fractional version", subWorkflow(t, func(d map[string]any) { with(d, 5)["version"] = 1.5 })},
		{"a retry on a workflow step", subWorkflow(t, func(d map[string]any) { step(d, 5)["retry"] = map[string]any{"maxAttempts": 2} })},
		{"a timeout on a workflow step", subWorkflow(t, func(d map[string]any) { step(d, 5)["timeoutSeconds"] = 5 })},
		{"else on a workflow step", subWorkflow(t, func(d map[string]any) { step(d, 5)["else"] = "end" })},
		{"jq in a workflow step's with", subWorkflow(t, func(d map[string]any) { with(d, 5)["jq"] = "." })},
		{"a workflowId on an http step", edit(t, func(d map[string]any) { with(d, 0)["workflowId"] = childWorkflow })},
		{"a foreach of a workflow step", fanOut(t, func(d map[string]any) {
			with(d, 5)["step"] = map[string]any{"type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		})},
		{"a parallel holding a workflow step", fanOut(t, func(d map[string]any) {
			with(d, 6)["steps"].([]any)[1] = map[string]any{"id": "child", "type": "workflow", "with": map[string]any{"workflowId": childWorkflow}}
		})},
	}
	for _, tt := range refused {
		t.Run(tt.name+" is refused by both", func(t *testing.T) {
			if _, err := definition.Parse(tt.body, exists); err == nil {
				t.Error("validation accepts it")
			}
			if withinContract(t, tt.body) {
				t.Error("the contract allows it")
			}
		})
	}
}
