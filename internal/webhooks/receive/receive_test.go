package receive_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// api is a running API with a key of one account.
type api struct {
	env *gatewaytest.Env
	key string
}

func mustAPI(t *testing.T) api {
	t.Helper()
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_hooks")
	return api{env: env, key: key}
}

// mustWorkflow creates a workflow on trigger through the API and returns
// its id and, for a webhook one, its secret.
func (a api) mustWorkflow(t *testing.T, trigger string, enabled bool) (id, secret string) {
	t.Helper()
	body := `{"name":"hook","enabled":` + map[bool]string{true: "true", false: "false"}[enabled] + `,"trigger":{"type":"` + trigger + `"},"steps":[{"id":"echo","type":"transform","with":{"jq":".input"}}]}`
	r := gatewaytest.Call(t, "POST", a.env.URL+routes.CreateWorkflow.Path, a.key, "application/json", []byte(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	data := r.Data(t)
	if hook, ok := data["webhook"].(map[string]any); ok {
		secret, _ = hook["secret"].(string)
	}
	return data["id"].(string), secret
}

func (a api) deliver(t *testing.T, workflowID, signature string, body []byte) gatewaytest.Response {
	t.Helper()
	header := http.Header{}
	if signature != "" {
		header.Set(webhooks.SignatureHeader, signature)
	}
	return gatewaytest.CallWith(t, "POST", a.env.URL+routes.BasePath+"/webhooks/"+workflowID, "", "application/json", header, body)
}

// run reads a run through the API.
func (a api) run(t *testing.T, runID string) map[string]any {
	t.Helper()
	r := gatewaytest.Call(t, "GET", a.env.URL+routes.BasePath+"/runs/"+runID, a.key, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /runs/%s: %d %s", runID, r.Status, r.Body)
	}
	return r.Data(t)
}

// runCount counts the account's runs through the API.
func (a api) runCount(t *testing.T) int {
	t.Helper()
	r := gatewaytest.Call(t, "GET", a.env.URL+routes.BasePath+"/runs?limit=100", a.key, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /runs: %d %s", r.Status, r.Body)
	}
	runs, _ := r.JSON(t)["data"].([]any)
	return len(runs)
}

func accepted(t *testing.T, r gatewaytest.Response) string {
	t.Helper()
	if r.Status != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", r.Status, r.Body)
	}
	runID, _ := r.Data(t)["runId"].(string)
	if !strings.HasPrefix(runID, "run_") {
		t.Fatalf("runId %q", runID)
	}
	return runID
}

func TestASignedDeliveryStartsARunWithItsBodyAsInputAndAReplayStartsNone(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", true)
	body := []byte(`{"orderId": "ord_1042", "total": 249.9}`)
	signature := webhooks.Sign(secret, time.Now(), body)

	runID := accepted(t, a.deliver(t, id, signature, body))
	run := a.run(t, runID)
	if run["trigger"] != "webhook" || run["workflowId"] != id {
		t.Errorf("run %v: want trigger webhook of %s", run, id)
	}
	input, _ := run["input"].(map[string]any)
	if input["orderId"] != "ord_1042" || input["total"] != 249.9 {
		t.Errorf("input %v, want the delivered body", run["input"])
	}

	// The same delivery again, and with its fields in the other order and
	// spaced: one delivery, one run.
	if again := accepted(t, a.deliver(t, id, signature, body)); again != runID {
		t.Errorf("replay answered %s, want %s", again, runID)
	}
	sig, _ := webhooks.ParseSignatureHeader(signature)
	respelled := "v1=" + sig.String()[strings.Index(sig.String(), "v1=")+3:] + ", t=" + sig.String()[2:strings.Index(sig.String(), ",")]
	if again := accepted(t, a.deliver(t, id, respelled, body)); again != runID {
		t.Errorf("replay spelled %q answered %s, want %s", respelled, again, runID)
	}
	if n := a.runCount(t); n != 1 {
		t.Fatalf("%d runs after a delivery and its replays, want 1", n)
	}

	// Another delivery (another body) is another run.
	other := []byte(`{"orderId":"ord_1043"}`)
	if otherID := accepted(t, a.deliver(t, id, webhooks.Sign(secret, time.Now(), other), other)); otherID == runID {
		t.Error("a second delivery answered the first's run")
	}
	if n := a.runCount(t); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestBadMissingAndStaleSignaturesAre401AndStartNoRun(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", true)
	body := []byte(`{"a":1}`)
	now := time.Now()
	cases := map[string]string{
		"missing":                        "",
		"malformed":                      "sha256=abc",
		"wrong secret":                   webhooks.Sign(webhooks.SecretPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now, body),
		"over another body":              webhooks.Sign(secret, now, []byte(`{"a":2}`)),
		"stale, six minutes old":         webhooks.Sign(secret, now.Add(-6*time.Minute), body),
		"from six minutes in the future": webhooks.Sign(secret, now.Add(6*time.Minute), body),
	}
	for name, signature := range cases {
		t.Run(name, func(t *testing.T) {
			r := a.deliver(t, id, signature, body)
			if r.Status != http.StatusUnauthorized || r.ErrorCode(t) != string(domain.CodeUnauthorized) {
				t.Fatalf("%d %s, want 401 UNAUTHORIZED", r.Status, r.Body)
			}
			if bytes.Contains(r.Body, []byte(secret)) {
				t.Fatal("the answer holds the secret")
			}
		})
	}
	if n := a.runCount(t); n != 0 {
		t.Fatalf("%d runs after refused deliveries, want 0", n)
	}
}

func TestARolledOverSecretWorksDuringItsGracePeriodOnly(t *testing.T) {
	a := mustAPI(t)
	id, old := a.mustWorkflow(t, "webhook", true)
	roll := func(grace int) string {
		r := gatewaytest.Call(t, "POST", a.env.URL+routes.BasePath+"/workflows/"+id+"/webhook/roll", a.key, "application/json", []byte(`{"gracePeriodSeconds":`+map[int]string{0: "0", 3600: "3600"}[grace]+`}`))
		if r.Status != http.StatusCreated {
			t.Fatalf("roll: %d %s", r.Status, r.Body)
		}
		return r.Data(t)["secret"].(string)
	}
	current := roll(3600)
	body := []byte(`{"n":1}`)
	accepted(t, a.deliver(t, id, webhooks.Sign(old, time.Now(), body), body))
	body = []byte(`{"n":2}`)
	accepted(t, a.deliver(t, id, webhooks.Sign(current, time.Now(), body), body))

	// A roll with no grace: the one before stops at once.
	newest := roll(0)
	body = []byte(`{"n":3}`)
	for _, stopped := range []string{old, current} {
		if r := a.deliver(t, id, webhooks.Sign(stopped, time.Now(), body), body); r.Status != http.StatusUnauthorized {
			t.Fatalf("a secret rolled over without grace: %d %s", r.Status, r.Body)
		}
	}
	accepted(t, a.deliver(t, id, webhooks.Sign(newest, time.Now(), body), body))
	if n := a.runCount(t); n != 3 {
		t.Fatalf("%d runs, want 3", n)
	}
}

func TestNoWebhookWorkflowIs404(t *testing.T) {
	a := mustAPI(t)
	manual, _ := a.mustWorkflow(t, "manual", true)
	hook, secret := a.mustWorkflow(t, "webhook", true)
	body := []byte(`{}`)
	signed := webhooks.Sign(secret, time.Now(), body)
	if r := gatewaytest.Call(t, "DELETE", a.env.URL+routes.BasePath+"/workflows/"+hook, a.key, "", nil); r.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for name, id := range map[string]string{
		"a manual workflow":     manual,
		"a deleted webhook one": hook,
		"an id never made":      "wf_01jer3s4n0eybg5ex99q9mx0qt",
		"not an id of ours":     "wf_nope",
		"another type of id":    "conn_01jer3s4n0eybg5ex99q9mx0qt",
	} {
		t.Run(name, func(t *testing.T) {
			if r := a.deliver(t, id, signed, body); r.Status != http.StatusNotFound || r.ErrorCode(t) != string(domain.CodeNotFound) {
				t.Fatalf("%d %s, want 404", r.Status, r.Body)
			}
		})
	}
	if n := a.runCount(t); n != 0 {
		t.Fatalf("%d runs, want 0", n)
	}
}

func TestADisabledWorkflowIs409OnlyToASignedDelivery(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", false)
	body := []byte(`{"a":1}`)
	if r := a.deliver(t, id, webhooks.Sign(webhooks.SecretPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", time.Now(), body), body); r.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d %s, want 401 (nothing said of the workflow)", r.Status, r.Body)
	}
	r := a.deliver(t, id, webhooks.Sign(secret, time.Now(), body), body)
	if r.Status != http.StatusConflict || r.ErrorCode(t) != string(domain.CodeConflict) {
		t.Fatalf("signed: %d %s, want 409", r.Status, r.Body)
	}
	if n := a.runCount(t); n != 0 {
		t.Fatalf("%d runs, want 0", n)
	}
}

func TestASignedBodyThatIsNotJSONIs400AndAnOversizedOne413(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", true)
	notJSON := []byte(`{"a":1`)
	r := a.deliver(t, id, webhooks.Sign(secret, time.Now(), notJSON), notJSON)
	if r.Status != http.StatusBadRequest || r.ErrorCode(t) != string(domain.CodeValidation) {
		t.Fatalf("not JSON: %d %s, want 400", r.Status, r.Body)
	}
	// Unsigned, the same body says nothing about the body.
	if r := a.deliver(t, id, "", notJSON); r.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned not JSON: %d, want 401", r.Status)
	}
	big := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 256<<10)...), '"', '}')
	r = a.deliver(t, id, webhooks.Sign(secret, time.Now(), big), big)
	if r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode(t) != string(domain.CodePayloadTooLarge) {
		t.Fatalf("over 256 KiB: %d %s, want 413", r.Status, r.Body)
	}
	if n := a.runCount(t); n != 0 {
		t.Fatalf("%d runs, want 0", n)
	}
}

func TestTheRouteIsLimitedPerSourceIPWithoutAKey(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", true)
	body := []byte(`{}`)
	r := a.deliver(t, id, webhooks.Sign(secret, time.Now(), body), body)
	accepted(t, r)
	gatewaytest.RequireRateLimitHeaders(t, r, 10000)
}
