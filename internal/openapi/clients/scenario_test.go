package clients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/openapi/clients/goclient"
)

// TestTheREADMEScenarioThroughTheGeneratedGoClient drives the README's
// scenario against the local gateway through the generated client only: a
// connection, a workflow with http, transform and condition steps, an
// If-Match update, an idempotent run polled to success and a step read,
// cancel and retry, cursor paging and a webhook secret roll. Every typed
// answer must marshal back to the JSON the API sent (timestamps compared as
// instants), which is what the allOf-narrowed envelopes lost: a 400's
// message and details, a list's items.
func TestTheREADMEScenarioThroughTheGeneratedGoClient(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true})
	key, _ := env.MustKey(t, "acct_goclient")
	ctx := context.Background()

	// The shop the http step calls, on loopback as every test's targets.
	var shopMu sync.Mutex
	var shopAuth []string
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		shopMu.Lock()
		shopAuth = append(shopAuth, r.Header.Get("Authorization"))
		shopMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id": %q, "total": 250}`, strings.TrimPrefix(r.URL.Path, "/orders/"))
	}))
	t.Cleanup(shop.Close)

	c, err := goclient.NewClientWithResponses(env.URL+"/api/v1", goclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("x-api-key", key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	// A connection.
	var conn goclient.ConnectionRequest
	if err := conn.FromBearerConnectionRequest(goclient.BearerConnectionRequest{
		Name: "Shop", Type: goclient.BearerConnectionRequestTypeBearer,
		Credentials: struct {
			Token goclient.CredentialString `json:"token"`
		}{Token: "shop-token"},
	}); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateConnectionWithResponse(ctx, conn)
	mustStatus(t, "create connection", created, err, http.StatusCreated)
	holdsEveryField(t, "create connection", created.JSON201, created.Body)
	connectionID := created.JSON201.Data.Id

	// A workflow: an http step with the connection, a condition and a transform.
	definition := orderWorkflow(t, "Notify big orders", shop.URL, connectionID, 100)
	made, err := c.CreateWorkflowWithResponse(ctx, definition)
	mustStatus(t, "create workflow", made, err, http.StatusCreated)
	holdsEveryField(t, "create workflow", made.JSON201, made.Body)
	workflowID := made.JSON201.Data.Id
	if n := len(made.JSON201.Data.Steps); n != 3 {
		t.Fatalf("the workflow has %d steps, want 3", n)
	}
	if kind, err := made.JSON201.Data.Steps[0].Discriminator(); err != nil || kind != "http" {
		t.Fatalf("step 0's type is %q (%v), want http", kind, err)
	}
	first, err := made.JSON201.Data.Steps[0].AsWorkflowHttpStep()
	if err != nil || first.With.Connection == nil || *first.With.Connection != connectionID {
		t.Fatalf("step 0 read back as %+v (%v)", first, err)
	}

	// A 400 decodes with its message and details.
	invalid := orderWorkflow(t, "", shop.URL, connectionID, 100)
	refused, err := c.CreateWorkflowWithResponse(ctx, invalid)
	mustStatus(t, "create an invalid workflow", refused, err, http.StatusBadRequest)
	holdsEveryField(t, "the 400", refused.JSON400, refused.Body)
	if e := refused.JSON400.Error; e.Message == "" || e.Details == nil || len(*e.Details) == 0 || (*e.Details)[0].Field != "name" {
		t.Fatalf("the 400 decoded as %+v", e)
	}

	// An If-Match update: a stale version is 412, the current one 200.
	update := orderWorkflow(t, "Notify big orders", shop.URL, connectionID, 200)
	stale := `"7"`
	refusedUpdate, err := c.UpdateWorkflowWithResponse(ctx, workflowID, &goclient.UpdateWorkflowParams{IfMatch: &stale}, update)
	mustStatus(t, "update with a stale If-Match", refusedUpdate, err, http.StatusPreconditionFailed)
	holdsEveryField(t, "the 412", refusedUpdate.JSON412, refusedUpdate.Body)
	current := `"1"`
	updated, err := c.UpdateWorkflowWithResponse(ctx, workflowID, &goclient.UpdateWorkflowParams{IfMatch: &current}, update)
	mustStatus(t, "update with If-Match", updated, err, http.StatusOK)
	holdsEveryField(t, "update", updated.JSON200, updated.Body)
	if v := updated.JSON200.Data.Version; v != 2 {
		t.Fatalf("version %d after the update, want 2", v)
	}
	one := 1
	old, err := c.GetWorkflowWithResponse(ctx, workflowID, &goclient.GetWorkflowParams{Version: &one})
	mustStatus(t, "get version 1", old, err, http.StatusOK)
	holdsEveryField(t, "get version 1", old.JSON200, old.Body)

	// An idempotent run, polled to success, and a step read.
	idem := "order-1042"
	input := goclient.RunRequest{Input: map[string]any{"orderId": "1042"}}
	started, err := c.RunWorkflowWithResponse(ctx, workflowID, &goclient.RunWorkflowParams{IdempotencyKey: &idem}, input)
	mustStatus(t, "run", started, err, http.StatusAccepted)
	holdsEveryField(t, "run", started.JSON202, started.Body)
	again, err := c.RunWorkflowWithResponse(ctx, workflowID, &goclient.RunWorkflowParams{IdempotencyKey: &idem}, input)
	if err != nil || again.JSON202 == nil || again.JSON202.Data.Id != started.JSON202.Data.Id {
		t.Fatalf("the same Idempotency-Key started another run: %v %s", err, again.Body)
	}
	run := pollRun(t, c, started.JSON202.Data.Id, goclient.RunStatusSucceeded)
	if run.Data.WorkflowVersion != 2 || len(run.Data.Steps) != 3 {
		t.Fatalf("the run is %+v", run.Data)
	}
	output, _ := json.Marshal(run.Data.Output)
	if string(output) != `{"id":"1042","total":250}` {
		t.Fatalf("the run's output is %s", output)
	}
	shopMu.Lock()
	calls := slicesClone(shopAuth)
	shopMu.Unlock()
	if len(calls) != 1 || calls[0] != "Bearer shop-token" {
		t.Fatalf("the shop saw %q, want one call with the connection's token", calls)
	}
	step, err := c.GetRunStepWithResponse(ctx, run.Data.Id, "order")
	mustStatus(t, "get a step", step, err, http.StatusOK)
	holdsEveryField(t, "get a step", step.JSON200, step.Body)
	if step.JSON200.Data.Status != "succeeded" || len(step.JSON200.Data.AttemptHistory) != 1 {
		t.Fatalf("the step is %+v", step.JSON200.Data)
	}

	// Cancel a waiting run, then retry it.
	waitID := createWaitingWorkflow(t, c)
	waiting, err := c.RunWorkflowWithResponse(ctx, waitID, nil, goclient.RunRequest{})
	mustStatus(t, "run the waiting workflow", waiting, err, http.StatusAccepted)
	pollRun(t, c, waiting.JSON202.Data.Id, goclient.RunStatusWaiting)
	cancelled, err := c.CancelRunWithResponse(ctx, waiting.JSON202.Data.Id, goclient.CancelRunJSONRequestBody{})
	mustStatus(t, "cancel", cancelled, err, http.StatusOK)
	holdsEveryField(t, "cancel", cancelled.JSON200, cancelled.Body)
	pollRun(t, c, waiting.JSON202.Data.Id, goclient.RunStatusCancelled)
	retried, err := c.RetryRunWithResponse(ctx, waiting.JSON202.Data.Id, nil, goclient.RetryRunJSONRequestBody{})
	mustStatus(t, "retry", retried, err, http.StatusAccepted)
	holdsEveryField(t, "retry", retried.JSON202, retried.Body)
	if r := retried.JSON202.Data; r.RetryOf == nil || *r.RetryOf != waiting.JSON202.Data.Id || r.Trigger != "retry" {
		t.Fatalf("the retry is %+v", r)
	}
	pollRun(t, c, retried.JSON202.Data.Id, goclient.RunStatusWaiting)
	stopped, err := c.CancelRunWithResponse(ctx, retried.JSON202.Data.Id, goclient.CancelRunJSONRequestBody{})
	mustStatus(t, "cancel the retry", stopped, err, http.StatusOK)

	// Cursor paging over every run, one a page.
	wantRuns := map[string]bool{run.Data.Id: true, waiting.JSON202.Data.Id: true, retried.JSON202.Data.Id: true}
	seen := map[string]bool{}
	limit := 1
	var cursor *string
	for pages := 0; ; pages++ {
		if pages > len(wantRuns) {
			t.Fatalf("more pages than runs: %v", seen)
		}
		page, err := c.ListRunsWithResponse(ctx, &goclient.ListRunsParams{Limit: &limit, Cursor: cursor})
		mustStatus(t, "list runs", page, err, http.StatusOK)
		holdsEveryField(t, "list runs", page.JSON200, page.Body)
		if len(page.JSON200.Data) != 1 {
			t.Fatalf("a page of %d runs, want 1 (no page is empty)", len(page.JSON200.Data))
		}
		seen[page.JSON200.Data[0].Id] = true
		if cursor = page.JSON200.Meta.NextCursor; cursor == nil {
			break
		}
	}
	if !reflect.DeepEqual(seen, wantRuns) {
		t.Fatalf("the pages listed %v, want %v", seen, wantRuns)
	}
	workflows, err := c.ListWorkflowsWithResponse(ctx, nil)
	mustStatus(t, "list workflows", workflows, err, http.StatusOK)
	holdsEveryField(t, "list workflows", workflows.JSON200, workflows.Body)
	connections, err := c.ListConnectionsWithResponse(ctx, nil)
	mustStatus(t, "list connections", connections, err, http.StatusOK)
	holdsEveryField(t, "list connections", connections.JSON200, connections.Body)
	keys, err := c.ListApiKeysWithResponse(ctx, nil)
	mustStatus(t, "list keys", keys, err, http.StatusOK)
	holdsEveryField(t, "list keys", keys.JSON200, keys.Body)

	// A webhook workflow's secret, rolled.
	var trigger goclient.WorkflowTrigger
	if err := trigger.FromWorkflowEventTrigger(goclient.WorkflowEventTrigger{Type: goclient.WorkflowEventTriggerTypeWebhook}); err != nil {
		t.Fatal(err)
	}
	hook := goclient.WorkflowDefinition{Name: "Orders in", Trigger: trigger, Steps: []goclient.WorkflowStep{transformStep(t, "echo", ".input")}}
	hooked, err := c.CreateWorkflowWithResponse(ctx, hook)
	mustStatus(t, "create a webhook workflow", hooked, err, http.StatusCreated)
	holdsEveryField(t, "create a webhook workflow", hooked.JSON201, hooked.Body)
	if w := hooked.JSON201.Data.Webhook; w == nil || w.Secret == nil || *w.Secret == "" {
		t.Fatalf("the webhook workflow came back without its secret: %+v", w)
	}
	grace := 60
	rolled, err := c.RollWebhookSecretWithResponse(ctx, hooked.JSON201.Data.Id, goclient.RollWebhookSecretJSONRequestBody{GracePeriodSeconds: &grace})
	mustStatus(t, "roll the webhook secret", rolled, err, http.StatusCreated)
	holdsEveryField(t, "roll the webhook secret", rolled.JSON201, rolled.Body)
	if s := rolled.JSON201.Data; s.Secret == *hooked.JSON201.Data.Webhook.Secret || s.PreviousSecretExpiresAt == nil {
		t.Fatalf("the roll gave %+v", s)
	}

	// A 404 in the envelope, typed too.
	missing, err := c.GetRunWithResponse(ctx, "run_00000000000000000000000000")
	mustStatus(t, "get a missing run", missing, err, http.StatusNotFound)
	holdsEveryField(t, "the 404", missing.JSON404, missing.Body)
}

// orderWorkflow is the README's workflow: the shop's order with the
// connection, a condition that ends the run for orders under minTotal, and
// the summary.
func orderWorkflow(t *testing.T, name, shopURL, connectionID string, minTotal int) goclient.WorkflowDefinition {
	t.Helper()
	var trigger goclient.WorkflowTrigger
	if err := trigger.FromWorkflowEventTrigger(goclient.WorkflowEventTrigger{Type: goclient.WorkflowEventTriggerTypeManual}); err != nil {
		t.Fatal(err)
	}
	var order, big goclient.WorkflowStep
	if err := order.FromWorkflowHttpStep(goclient.WorkflowHttpStep{
		Id: "order", Type: goclient.WorkflowHttpStepTypeHttp,
		With: goclient.WorkflowHttpWith{Method: "GET", Url: shopURL + "/orders/{{ .input.orderId }}", Connection: &connectionID},
	}); err != nil {
		t.Fatal(err)
	}
	condition := goclient.WorkflowConditionStep{Id: "big", Type: "condition", Else: "end"}
	condition.With.Jq = fmt.Sprintf(".steps.order.output.body.total >= %d", minTotal)
	if err := big.FromWorkflowConditionStep(condition); err != nil {
		t.Fatal(err)
	}
	return goclient.WorkflowDefinition{Name: name, Trigger: trigger,
		Steps: []goclient.WorkflowStep{order, big, transformStep(t, "summary", ".steps.order.output.body | {id, total}")}}
}

func transformStep(t *testing.T, id, jq string) goclient.WorkflowStep {
	t.Helper()
	var step goclient.WorkflowStep
	if err := step.FromWorkflowTransformStep(goclient.WorkflowTransformStep{Id: id, Type: goclient.WorkflowTransformStepTypeTransform, With: goclient.WorkflowTransformWith{Jq: jq}}); err != nil {
		t.Fatal(err)
	}
	return step
}

// createWaitingWorkflow makes a workflow whose run waits an hour in a
// delay, long enough to be cancelled.
func createWaitingWorkflow(t *testing.T, c *goclient.ClientWithResponses) string {
	t.Helper()
	var trigger goclient.WorkflowTrigger
	if err := trigger.FromWorkflowEventTrigger(goclient.WorkflowEventTrigger{Type: goclient.WorkflowEventTriggerTypeManual}); err != nil {
		t.Fatal(err)
	}
	delay := goclient.WorkflowDelayStep{Id: "later", Type: "delay"}
	delay.With.Seconds = 3600
	var step goclient.WorkflowStep
	if err := step.FromWorkflowDelayStep(delay); err != nil {
		t.Fatal(err)
	}
	made, err := c.CreateWorkflowWithResponse(context.Background(), goclient.WorkflowDefinition{Name: "Wait", Trigger: trigger, Steps: []goclient.WorkflowStep{step}})
	mustStatus(t, "create the waiting workflow", made, err, http.StatusCreated)
	return made.JSON201.Data.Id
}

func pollRun(t *testing.T, c *goclient.ClientWithResponses, id string, want goclient.RunStatus) *goclient.RunWithStepsEnvelope {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := c.GetRunWithResponse(context.Background(), id)
		mustStatus(t, "get run", got, err, http.StatusOK)
		holdsEveryField(t, "get run", got.JSON200, got.Body)
		if got.JSON200.Data.Status == want {
			return got.JSON200
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s after 30 s, want %s", id, got.JSON200.Data.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answer is what every generated response type has.
type answer interface{ StatusCode() int }

func mustStatus(t *testing.T, what string, r answer, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := r.StatusCode(); got != want {
		body := reflect.ValueOf(r).Elem().FieldByName("Body").Bytes()
		t.Fatalf("%s: %d %s, want %d", what, got, body, want)
	}
}

// holdsEveryField fails unless typed, the generated client's decoding of
// body, marshals back to the same JSON: no member dropped, none added.
func holdsEveryField(t *testing.T, what string, typed any, body []byte) {
	t.Helper()
	if reflect.ValueOf(typed).IsNil() {
		t.Fatalf("%s: the client decoded nothing from %s", what, body)
	}
	again, err := json.Marshal(typed)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var sent, kept any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal(again, &kept); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if sent, kept = instants(sent), instants(kept); !reflect.DeepEqual(sent, kept) {
		t.Fatalf("%s: the typed answer does not hold what the API sent\nsent: %s\nkept: %s", what, body, again)
	}
}

var timestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// instants rewrites every timestamp as its instant in one spelling: the API
// writes milliseconds always (.120Z), Go's time.Time as few digits as need
// be (.12Z).
func instants(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = instants(e)
		}
	case []any:
		for i, e := range v {
			v[i] = instants(e)
		}
	case string:
		if timestamp.MatchString(v) {
			if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return at.UTC().Format(time.RFC3339Nano)
			}
		}
	}
	return v
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
