package runnerit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// startWithReads is start with room for the polling of many runs.
func startWithReads(t *testing.T, account string) api {
	t.Helper()
	t.Setenv("HTTP_STEP_TARGETS", "loopback")
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true, Limits: map[ratelimit.Category]int64{ratelimit.CategoryRead: 100_000}})
	key, _ := env.MustKey(t, account)
	return api{env: env, key: key}
}

// recorder is a test server on 127.0.0.1 that keeps the request URI and
// the Authorization header of every request, as they arrived.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct{ uri, authorization string }

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{uri: r.RequestURI, authorization: r.Header.Get("Authorization")})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) received() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.requests...)
}

func (rec *recorder) port() string { return rec.URL[strings.LastIndex(rec.URL, ":")+1:] }

// httpWorkflow is a one-step workflow calling rawURL with the connection.
func httpWorkflow(trigger, rawURL, connection string) string {
	u, _ := json.Marshal(rawURL)
	return `{"name": "origin", "trigger": {"type": "` + trigger + `"}, "steps": [
	  {"id": "call", "type": "http", "with": {"method": "GET", "url": ` + string(u) + `, "connection": "` + connection + `"}}]}`
}

// plantURL rewrites the url of a workflow's first version in the table, as
// a definition stored before the write-time rule would hold it.
func plantURL(t *testing.T, a api, account, workflowID, from, to string) {
	t.Helper()
	ctx := context.Background()
	key := store.ItemKey(store.AccountPK(account), store.WorkflowVersionSK(workflowID, 1))
	got, err := a.env.Table.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(a.env.Table.Name), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("version item: %v", err)
	}
	definition := got.Item["definition"].(*types.AttributeValueMemberS).Value
	fromJSON, _ := json.Marshal(from)
	toJSON, _ := json.Marshal(to)
	if !strings.Contains(definition, string(fromJSON)) {
		t.Fatalf("the stored definition has no url %s: %s", fromJSON, definition)
	}
	got.Item["definition"] = &types.AttributeValueMemberS{Value: strings.Replace(definition, string(fromJSON), string(toJSON), 1)}
	if _, err := a.env.Table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.env.Table.Name), Item: got.Item}); err != nil {
		t.Fatal(err)
	}
}

// deliver sends a signed webhook delivery and returns the run it started.
func deliver(t *testing.T, a api, workflowID, secret string, body []byte) string {
	t.Helper()
	header := http.Header{webhooks.SignatureHeader: {webhooks.Sign(secret, time.Now(), body)}}
	r := gatewaytest.CallWith(t, "POST", a.env.URL+"/api/v1/webhooks/"+workflowID, "", "application/json", header, body)
	if r.Status != 202 {
		t.Fatalf("delivery: %d %s", r.Status, r.Body)
	}
	return r.Data(t)["runId"].(string)
}

// Issue 13, point 1: a run's input, from a webhook sender or a key that may
// only execute, never chooses where a connection's credentials go. The
// forms that did are refused on write with the field's path, and at run
// time when a definition stored before the rule holds one; the form that is
// allowed keeps hostile input in the path and query of the authored target.
// The attacker's target receives nothing.
func TestARunsInputNeverChoosesWhereCredentialsGo(t *testing.T) {
	const account, token = "acct_origin", "tok-origin-e2e-6f1d2c"
	a := startWithReads(t, account)
	executeOnly, _ := a.env.MustKey(t, account, domain.ScopeWorkflowsExecute)
	own, attacker := newRecorder(t), newRecorder(t)
	p1, p2 := own.port(), attacker.port()
	conn := a.mustData(t, 201, "POST", "/connections", `{"name": "shop", "type": "bearer", "credentials": {"token": "`+token+`"}}`)["id"].(string)

	forms := []struct{ url, input string }{
		{"http://{{ .input.v }}.localhost:" + p1 + "/echo", "127.0.0.1:" + p2 + "/k=stolen?"},
		{"http://127.0.0.1:" + p1 + "{{ .input.v }}", "@localhost:" + p2},
		{"http://{{ .input.v }}/x", "127.0.0.1:" + p2},
		{"http://127.0.0.1:{{ .input.v }}/x", p2},
	}
	t.Run("the issue's forms are a 400 naming the field, on create and on PUT", func(t *testing.T) {
		existing := a.workflow(t, httpWorkflow("manual", own.URL+"/fine", conn))
		for _, f := range forms {
			for _, method := range []string{"POST", "PUT"} {
				path := "/workflows"
				if method == "PUT" {
					path += "/" + existing
				}
				r := a.call(t, method, path, httpWorkflow("manual", f.url, conn))
				if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
					t.Errorf("%s %s: %d %s", method, f.url, r.Status, r.Body)
					continue
				}
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
				if len(details) != 1 || details[0].(map[string]any)["field"] != "steps[0].with.url" {
					t.Errorf("%s %s: details %s", method, f.url, r.Body)
				}
			}
		}
	})

	t.Run("stored before the rule, they fail the step with TARGET_REFUSED", func(t *testing.T) {
		for _, trigger := range []string{"manual", "webhook"} {
			for _, f := range forms {
				placeholder := own.URL + "/planted"
				made := a.mustData(t, 201, "POST", "/workflows", httpWorkflow(trigger, placeholder, conn))
				workflowID := made["id"].(string)
				plantURL(t, a, account, workflowID, placeholder, f.url)
				input, _ := json.Marshal(map[string]string{"v": f.input})
				var runID string
				if trigger == "webhook" {
					runID = deliver(t, a, workflowID, made["webhook"].(map[string]any)["secret"].(string), input)
				} else {
					runID = (api{env: a.env, key: executeOnly}).run(t, workflowID, string(input))
				}
				run := a.finished(t, runID)
				step := stepsOf(run)["call"]
				if run["status"] != "failed" || step == nil || step["error"].(map[string]any)["code"] != "TARGET_REFUSED" {
					t.Errorf("%s %s with %q: run %s, step %s", trigger, f.url, f.input, run["status"], jsonOf(step))
				}
			}
		}
	})

	t.Run("hostile input stays in the path and query of the authored target", func(t *testing.T) {
		hostile := []string{
			"@localhost:" + p2, "127.0.0.1:" + p2 + "/k=stolen?", "/../", "..", "%2F", "%40localhost:" + p2, "%3A" + p2,
			`\\localhost:` + p2 + `\`, "bücher.例え", "xn--bcher-kva.localhost:" + p2, "?k=stolen", "#@localhost:" + p2,
			"a b\tc", "k=v&admin=1",
		}
		template := "http://127.0.0.1:" + p1 + "/x/{{ .input.v }}?q={{ .input.v }}"
		manual := a.workflow(t, httpWorkflow("manual", template, conn))
		hook := a.mustData(t, 201, "POST", "/workflows", httpWorkflow("webhook", template, conn))
		before := len(own.received())
		for _, v := range hostile {
			input, _ := json.Marshal(map[string]string{"v": v})
			for _, runID := range []string{
				(api{env: a.env, key: executeOnly}).run(t, manual, string(input)),
				deliver(t, a, hook["id"].(string), hook["webhook"].(map[string]any)["secret"].(string), input),
			} {
				if run := a.finished(t, runID); run["status"] != "succeeded" {
					t.Errorf("%q: run %s %s", v, run["status"], jsonOf(run["error"]))
				}
			}
		}
		got := own.received()[before:]
		if len(got) != 2*len(hostile) {
			t.Fatalf("the authored target received %d requests, want %d", len(got), 2*len(hostile))
		}
		for i, r := range got {
			want := hostile[i/2]
			u, err := url.ParseRequestURI(r.uri)
			if err != nil {
				t.Errorf("%q arrived as %q, which does not parse", want, r.uri)
				continue
			}
			segment, _ := strings.CutPrefix(u.EscapedPath(), "/x/")
			value, _ := url.PathUnescape(segment)
			if strings.Count(u.EscapedPath(), "/") != 2 || value != want || u.Query().Get("q") != want || len(u.Query()) != 1 {
				t.Errorf("%q arrived as %q: it left its path segment or its query value", want, r.uri)
			}
			if r.authorization != "Bearer "+token {
				t.Errorf("%q: the authored target did not get the credentials", want)
			}
		}
	})

	if got := attacker.received(); len(got) != 0 {
		t.Errorf("the attacker's target received %d requests: %+v", len(got), got)
	}
}
