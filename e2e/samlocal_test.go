//go:build samlocal

// The SAM suite: the same API, served by `sam local start-api` with every
// function the real binary in a container (scripts/test-sam-local.sh starts
// it and runs this file with -tags samlocal). Every answer passes the same
// contract checker as the other suites, except the divergences that
// docs/infrastructure.md lists, which TestSAMLocalDivergencesAreTheListedOnes
// pins one by one.

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
	"github.com/workflowsapi/workflows/internal/store/pipelinedb"
)

// samLocal is the API under sam local, and the engine its functions use.
type samLocal struct {
	url   string // SAM itself
	db    *dynamodb.Client
	table string
	keys  *keysdb.Store

	proxy   *recordingProxy
	checked string // the contract-checked proxy in front of SAM
	timings *routeTimings
}

// runSuffix keeps each run's accounts apart: `make sam-local`'s engine keeps
// its data, and the suite may run against it again.
var runSuffix = "_" + strconv.FormatInt(time.Now().UnixNano(), 36)

var (
	samOnce sync.Once
	samEnv  *samLocal
	samErr  error
)

// mustSAMLocal connects to the SAM the script started. It fails, never
// skips: this file is built only for that script.
func mustSAMLocal(t *testing.T) *samLocal {
	t.Helper()
	samOnce.Do(func() {
		url, endpoint, table := os.Getenv("SAM_LOCAL_URL"), os.Getenv("DYNAMODB_ENDPOINT"), os.Getenv("TABLE_NAME")
		if url == "" || endpoint == "" || table == "" {
			samErr = fmt.Errorf("SAM_LOCAL_URL, DYNAMODB_ENDPOINT and TABLE_NAME must be set: run scripts/test-sam-local.sh")
			return
		}
		db, err := store.NewClient(context.Background(), store.Config{Endpoint: endpoint, TableName: table})
		if err != nil {
			samErr = err
			return
		}
		samEnv = &samLocal{url: url, db: db, table: table, keys: keysdb.New(db, table), timings: &routeTimings{}}
	})
	if samErr != nil {
		t.Fatal(samErr)
	}
	// Each test gets its own recording proxy, checked against the document.
	s := *samEnv
	s.proxy = &recordingProxy{target: s.url}
	server := httptest.NewServer(gatewaytest.CheckContract(t, s.timings.measure(s.proxy)))
	t.Cleanup(server.Close)
	s.checked = server.URL
	return &s
}

// key makes a key in account through the keys service, as wfctl does.
func (s *samLocal) key(t *testing.T, account string, scopes ...domain.Scope) (plaintext, keyID, rateLimitID string) {
	t.Helper()
	issued := keystest.MustIssue(t, s.keys, account+runSuffix, scopes...)
	return issued.Plaintext, issued.Key.ID, issued.Key.RateLimitID
}

// call sends one request through the checked proxy.
func (s *samLocal) call(t *testing.T, method, path, key string, body any) answer {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.checked+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Headers: res.Header, Body: string(b)}
}

// direct sends one request to SAM itself, past the contract checker: for
// the divergences, which are SAM's answers, not the API's.
func (s *samLocal) direct(t *testing.T, method, path string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Headers: res.Header, Body: string(b)}
}

func data[T any](t *testing.T, a answer, wantStatus int) T {
	t.Helper()
	return mustKeyData[T](t, a, wantStatus)
}

func TestSAMLocalServesTheSeedExamples(t *testing.T) {
	s := mustSAMLocal(t)
	tc := mustToolchain(t)
	readLimit := ratelimit.DefaultConfig().Limits[ratelimit.CategoryRead]
	for _, ex := range listWorkflowsExamples {
		t.Run(ex.name, func(t *testing.T) {
			key, _, _ := s.key(t, "acct_sam_reader", domain.ScopeWorkflowsRead)
			a := tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": key}, ex.argv(t, tc))
			requireListedWorkflows(t, a)
			if remaining, _ := requireRateLimitHeaders(t, a, readLimit, time.Now()); remaining != readLimit-1 {
				t.Errorf("X-RateLimit-Remaining = %d after a key's first request, want %d", remaining, readLimit-1)
			}

			weak, _, _ := s.key(t, "acct_sam_reader", domain.ScopeKeysRead)
			requirePageBody(t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": weak}, ex.argv(t, tc)), http.StatusForbidden, pageForbidden)

			// The page's placeholder is well-shaped: the authorizer reads
			// the store and refuses it, and under SAM too the answer is
			// the page's 401, not SAM's 502.
			requirePageBody(t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": placeholderKey}, ex.argv(t, tc)), http.StatusUnauthorized, pageUnauthorized)
		})
	}
	requireEveryResponseHeaders(t, s.proxy)
}

func TestSAMLocalManagesKeys(t *testing.T) {
	s := mustSAMLocal(t)
	tc := mustToolchain(t)
	curl := func(name string) []string { return []string{tc.bash, tc.script("curl.sh"), name} }
	admin, adminID, _ := s.key(t, "acct_sam_keys", domain.AllScopes...)

	listed := data[[]keyView](t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": admin}, curl("list-api-keys")), http.StatusOK)
	if len(listed) != 1 || listed[0].ID != adminID || listed[0].Key != nil {
		t.Fatalf("listed %+v, want only %s without its plaintext", listed, adminID)
	}
	created := data[keyView](t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": admin}, curl("create-api-key")), http.StatusCreated)
	if created.Key == nil || !keyFormat.MatchString(*created.Key) {
		t.Fatalf("created %+v, want a wfk_ key shown once", created)
	}
	requireListedWorkflows(t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": *created.Key}, curl("list-workflows")))

	rolled := data[keyView](t, s.call(t, "POST", "/api/v1/auth/api-keys/"+created.ID+"/roll", admin, map[string]any{}), http.StatusCreated)
	if rolled.Key == nil || *rolled.Key == *created.Key || !keyFormat.MatchString(*rolled.Key) {
		t.Fatalf("rolled %+v, want a new plaintext", rolled)
	}
	requireListedWorkflows(t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": *rolled.Key}, curl("list-workflows")))

	// The roll made a new key (rolled.ID); the page's revoke takes it back.
	revoked := data[keyView](t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": admin, "KEY_ID": rolled.ID}, curl("revoke-api-key")), http.StatusOK)
	if revoked.Status != "revoked" {
		t.Fatalf("revoked %+v", revoked)
	}
	requirePageBody(t, tc.run(t, s.checked, map[string]string{"WORKFLOWS_API_KEY": *rolled.Key}, curl("list-workflows")), http.StatusUnauthorized, pageUnauthorized)

	_, otherID, _ := s.key(t, "acct_sam_other", domain.ScopeKeysRead)
	if a := s.call(t, "DELETE", "/api/v1/auth/api-keys/"+otherID, admin, nil); a.Status != http.StatusNotFound {
		t.Fatalf("revoking another account's key: %s, want 404", a)
	}
	requireEveryResponseHeaders(t, s.proxy)
}

func TestSAMLocalServesWorkflowsConnectionsAndRuns(t *testing.T) {
	s := mustSAMLocal(t)
	key, _, _ := s.key(t, "acct_sam_wf", domain.AllScopes...)
	reader, _, _ := s.key(t, "acct_sam_wf", domain.ScopeWorkflowsRead)
	other, _, _ := s.key(t, "acct_sam_wf_other", domain.AllScopes...)

	conn := data[map[string]any](t, s.call(t, "POST", "/api/v1/connections", key, map[string]any{
		"name": "billing", "type": "bearer", "credentials": map[string]any{"token": "tok_sam_secret"},
	}), http.StatusCreated)
	if strings.Contains(fmt.Sprint(conn), "tok_sam_secret") {
		t.Fatal("the connection's answer holds its credential")
	}

	definition := map[string]any{
		"name": "sam suite", "trigger": map[string]any{"type": "manual"},
		"steps": []any{
			map[string]any{"id": "shape", "type": "transform", "with": map[string]any{"jq": "{n: .input.n}"}},
			map[string]any{"id": "big", "type": "condition", "with": map[string]any{"jq": ".steps.shape.output.n > 1"}, "else": "end"},
		},
	}
	wf := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows", key, definition), http.StatusCreated)
	id, _ := wf["id"].(string)
	if got := data[map[string]any](t, s.call(t, "GET", "/api/v1/workflows/"+id, reader, nil), http.StatusOK); got["id"] != id {
		t.Fatalf("read back %v", got)
	}
	definition["description"] = "version two"
	if v2 := data[map[string]any](t, s.call(t, "PUT", "/api/v1/workflows/"+id, key, definition), http.StatusOK); v2["version"] != float64(2) {
		t.Fatalf("update gave %v, want version 2", v2)
	}
	if v1 := data[map[string]any](t, s.call(t, "GET", "/api/v1/workflows/"+id+"?version=1", reader, nil), http.StatusOK); v1["version"] != float64(1) {
		t.Fatalf("?version=1 gave %v", v1)
	}

	t.Run("a key without the scope gets the page's 403, another account a 404", func(t *testing.T) {
		a := s.call(t, "POST", "/api/v1/workflows/"+id+"/run", reader, map[string]any{"input": map[string]any{"n": 2}})
		requirePageBody(t, a, http.StatusForbidden, pageForbidden)
		if a := s.call(t, "GET", "/api/v1/workflows/"+id, other, nil); a.Status != http.StatusNotFound {
			t.Fatalf("another account read the workflow: %s", a)
		}
	})

	t.Run("a run starts through SAM: 202, queued, its execution in Step Functions (moto)", func(t *testing.T) {
		run := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows/"+id+"/run", key, map[string]any{"input": map[string]any{"n": 2}}), http.StatusAccepted)
		if run["status"] != "queued" {
			t.Fatalf("run %v, want queued", run)
		}
		runID, _ := run["id"].(string)
		got := data[map[string]any](t, s.call(t, "GET", "/api/v1/runs/"+runID, key, nil), http.StatusOK)
		if got["id"] != runID {
			t.Fatalf("read back %v", got)
		}
		if a := s.call(t, "GET", "/api/v1/runs/"+runID, other, nil); a.Status != http.StatusNotFound {
			t.Fatalf("another account read the run: %s", a)
		}
	})

	if a := s.call(t, "DELETE", "/api/v1/workflows/"+id, key, nil); a.Status != http.StatusNoContent && a.Status != http.StatusOK {
		t.Fatalf("delete: %s", a)
	}
	if a := s.call(t, "GET", "/api/v1/workflows/"+id, key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("read after delete: %s, want 404", a)
	}
	requireEveryResponseHeaders(t, s.proxy)
}

// The two signal routes are served by their own functions under SAM
// (signal-run, receive-signal), reading the table: the token route, which
// takes no key, answers an unknown token 404 in the contract's envelope
// with the per-IP limit's headers; the run's route authenticates (SAM's 401
// for no key, the authorizer's for a bad one, 403 without
// workflows:execute) and answers 404 for a run that does not exist, for a
// step of a queued run that has not begun, and for another account's run.
// Runs are not driven here (sam local's state machine is one Pass state),
// so no step ever waits: test-state-machine.sh signals a run for real.
func TestSAMLocalServesTheSignalRoutes(t *testing.T) {
	s := mustSAMLocal(t)
	key, _, _ := s.key(t, "acct_sam_signals", domain.AllScopes...)
	reader, _, _ := s.key(t, "acct_sam_signals", domain.ScopeWorkflowsRead)
	other, _, _ := s.key(t, "acct_sam_signals_other", domain.AllScopes...)
	limits := ratelimit.DefaultConfig().Limits
	signal := map[string]any{"data": map[string]any{"approved": true}}

	requireNotFound := func(t *testing.T, a answer, limit int64) {
		t.Helper()
		body := a.json(t)
		e, _ := body["error"].(map[string]any)
		if a.Status != http.StatusNotFound || body["success"] != false || e["code"] != string(domain.CodeNotFound) {
			t.Fatalf("got %s, want 404 NOT_FOUND in the envelope", a)
		}
		requireRateLimitHeaders(t, a, limit, time.Now())
	}

	t.Run("an unknown signal token: 404, with the per-IP limit's headers, and no key needed", func(t *testing.T) {
		a := s.call(t, "POST", "/api/v1/signals/"+strings.Repeat("A", 43), "", signal)
		requireNotFound(t, a, limits[ratelimit.CategoryWebhooks])
		// Not a token's shape: the same 404, without a read.
		requireNotFound(t, s.call(t, "POST", "/api/v1/signals/not-a-token", "", nil), limits[ratelimit.CategoryWebhooks])
	})

	unknownRun := ids.New(ids.PrefixRun, time.Now())
	t.Run("a run that does not exist: 404; no key, a bad key or too few scopes are refused first", func(t *testing.T) {
		path := "/api/v1/runs/" + unknownRun + "/signals/approve"
		requireNotFound(t, s.call(t, "POST", path, key, signal), limits[ratelimit.CategoryExecute])
		requireNotFound(t, s.call(t, "POST", "/api/v1/runs/run_nope/signals/approve", key, signal), limits[ratelimit.CategoryExecute])
		// SAM answers a request without x-api-key itself (the missing-key
		// divergence): the route has the authorizer.
		if a := s.direct(t, "POST", path, nil); a.Status != http.StatusUnauthorized || compact(a.Body) != `{"message":"Unauthorized"}` {
			t.Fatalf("without a key: %s, want SAM's 401", a)
		}
		requirePageBody(t, s.call(t, "POST", path, placeholderKey, signal), http.StatusUnauthorized, pageUnauthorized)
		requirePageBody(t, s.call(t, "POST", path, reader, signal), http.StatusForbidden, pageForbidden)
	})

	t.Run("a queued run's wait_for_signal step that has not begun: 404, and another account's run 404", func(t *testing.T) {
		wf := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows", key, map[string]any{
			"name": "sam signals", "trigger": map[string]any{"type": "manual"},
			"steps": []any{
				map[string]any{"id": "approve", "type": "wait_for_signal", "with": map[string]any{"timeoutSeconds": 60}},
				map[string]any{"id": "after", "type": "transform", "with": map[string]any{"jq": ".steps.approve.output"}},
			},
		}), http.StatusCreated)
		id, _ := wf["id"].(string)
		run := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows/"+id+"/run", key, map[string]any{"input": map[string]any{}}), http.StatusAccepted)
		runID, _ := run["id"].(string)
		path := "/api/v1/runs/" + runID + "/signals/approve"
		requireNotFound(t, s.call(t, "POST", path, key, signal), limits[ratelimit.CategoryExecute])
		requireNotFound(t, s.call(t, "POST", path, other, signal), limits[ratelimit.CategoryExecute])
		if got := data[map[string]any](t, s.call(t, "GET", "/api/v1/runs/"+runID, key, nil), http.StatusOK); got["status"] != "queued" {
			t.Fatalf("the run after the refused signals: %v, want it still queued", got)
		}
	})
	requireEveryResponseHeaders(t, s.proxy)
}

// A workflow with notify gets its notification secret from create-workflow
// (sealed by moto's KMS), and roll-notify-secret, its own function under
// SAM, rolls it: 201 with a new nsec_ secret and the old one's expiry;
// without workflows:write the page's 403, for another account's workflow
// 404, and for a workflow without notify 409.
func TestSAMLocalRollsTheNotifySecret(t *testing.T) {
	s := mustSAMLocal(t)
	key, _, _ := s.key(t, "acct_sam_notify", domain.AllScopes...)
	reader, _, _ := s.key(t, "acct_sam_notify", domain.ScopeWorkflowsRead)
	other, _, _ := s.key(t, "acct_sam_notify_other", domain.AllScopes...)
	definition := func(notify bool) map[string]any {
		d := map[string]any{
			"name": "sam notify", "trigger": map[string]any{"type": "manual"},
			"steps": []any{map[string]any{"id": "shape", "type": "transform", "with": map[string]any{"jq": "."}}},
		}
		if notify {
			// Stored, never called: no run of it starts here.
			d["notify"] = map[string]any{"url": "https://hooks.example.com/runs", "events": []any{"run.failed"}}
		}
		return d
	}
	nsec := regexp.MustCompile(`^nsec_[A-Za-z0-9_-]{43}$`)

	wf := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows", key, definition(true)), http.StatusCreated)
	id, _ := wf["id"].(string)
	first, _ := wf["notifySecret"].(string)
	if !nsec.MatchString(first) {
		t.Fatalf("create gave notifySecret %q, want an nsec_ secret", first)
	}
	path := "/api/v1/workflows/" + id + "/notify/roll"

	requirePageBody(t, s.call(t, "POST", path, reader, map[string]any{}), http.StatusForbidden, pageForbidden)
	if a := s.call(t, "POST", path, other, map[string]any{}); a.Status != http.StatusNotFound {
		t.Fatalf("another account rolled the secret: %s, want 404", a)
	}
	rolled := data[map[string]any](t, s.call(t, "POST", path, key, map[string]any{"gracePeriodSeconds": 3600}), http.StatusCreated)
	second, _ := rolled["secret"].(string)
	if !nsec.MatchString(second) || second == first || rolled["workflowId"] != id || rolled["previousSecretExpiresAt"] == nil {
		t.Fatalf("roll gave %v, want a new nsec_ secret and the old one's expiry", rolled)
	}

	plain := data[map[string]any](t, s.call(t, "POST", "/api/v1/workflows", key, definition(false)), http.StatusCreated)
	plainID, _ := plain["id"].(string)
	if a := s.call(t, "POST", "/api/v1/workflows/"+plainID+"/notify/roll", key, map[string]any{}); a.Status != http.StatusConflict || !strings.Contains(string(a.Body), `"CONFLICT"`) {
		t.Fatalf("a workflow without notify: %s, want 409 CONFLICT", a)
	}
	requireEveryResponseHeaders(t, s.proxy)
}

// The limiter is the same DynamoDB counters under SAM: a key that has used
// its minute's writes (counted here through the same limiter a route
// runs) gets the page's 429 from the next write, with Retry-After.
func TestSAMLocalLimitsWrites(t *testing.T) {
	s := mustSAMLocal(t)
	key, _, rateLimitID := s.key(t, "acct_sam_limits", domain.AllScopes...)
	cfg := ratelimit.DefaultConfig()
	limiter := ratelimit.New(pipelinedb.NewRateCounter(s.db, s.table), cfg, nil, slog.New(slog.DiscardHandler))
	writeLimit := cfg.Limits[ratelimit.CategoryWrite]
	for i := int64(0); i < writeLimit; i++ {
		if d := limiter.Allow(context.Background(), "key:"+rateLimitID, ratelimit.CategoryWrite); !d.Allowed {
			t.Fatalf("write %d was refused by the limiter itself", i+1)
		}
	}
	a := s.call(t, "POST", "/api/v1/auth/api-keys", key, map[string]any{"name": "one too many", "scopes": []string{"workflows:read"}})
	want := strings.Replace(pageRateLimited, "Limit: 2 requests", "Limit: "+strconv.FormatInt(writeLimit, 10)+" requests", 1)
	requirePageBody(t, a, http.StatusTooManyRequests, want)
	now := time.Now()
	remaining, reset := requireRateLimitHeaders(t, a, writeLimit, now)
	if remaining != 0 {
		t.Fatalf("X-RateLimit-Remaining = %d on a 429", remaining)
	}
	retryAfter, err := strconv.ParseInt(a.Headers.Get("Retry-After"), 10, 64)
	if wait := reset.Sub(now); err != nil || retryAfter < 1 || (time.Duration(retryAfter)*time.Second-wait).Abs() > 2*time.Second {
		t.Fatalf("Retry-After = %q, want the seconds until X-RateLimit-Reset (%s)", a.Headers.Get("Retry-After"), wait.Round(time.Second))
	}
	// Reads are counted apart: the same key still reads.
	requireListedWorkflows(t, s.call(t, "GET", "/api/v1/workflows", key, nil))
}

// divergenceChecks are the answers SAM gives where API Gateway gives the
// contract's, each checked against SAM itself. docs/infrastructure.md lists
// the same ids between its sam-local-divergences markers.
var divergenceChecks = map[string]func(t *testing.T, s *samLocal){
	"missing-key": func(t *testing.T, s *samLocal) {
		// SAM checks the authorizer's identity source itself and never
		// calls the authorizer for a request without x-api-key.
		a := s.direct(t, "GET", "/api/v1/workflows", nil)
		if a.Status != http.StatusUnauthorized || compact(a.Body) != `{"message":"Unauthorized"}` {
			t.Fatalf("got %s, want SAM's 401 {\"message\":\"Unauthorized\"}", a)
		}
	},
	"unserved-method": func(t *testing.T, s *samLocal) {
		a := s.direct(t, "DELETE", "/api/v1/openapi.json", nil)
		if a.Status != http.StatusForbidden || compact(a.Body) != `{"message":"Missing Authentication Token"}` {
			t.Fatalf("got %s, want SAM's 403 Missing Authentication Token (API Gateway's 405 is a MOCK integration)", a)
		}
	},
	"unknown-path": func(t *testing.T, s *samLocal) {
		a := s.direct(t, "GET", "/api/v1/nothing-here", nil)
		if a.Status != http.StatusForbidden || compact(a.Body) != `{"message":"Missing Authentication Token"}` {
			t.Fatalf("got %s, want SAM's 403 Missing Authentication Token", a)
		}
	},
	"request-id": func(t *testing.T, s *samLocal) {
		first := s.direct(t, "GET", "/api/v1/openapi.json", nil).Headers.Get("X-Request-Id")
		second := s.direct(t, "GET", "/api/v1/openapi.json", nil).Headers.Get("X-Request-Id")
		if first == "" || first != second {
			t.Fatalf("X-Request-Id %q then %q: SAM 1.170 gives every request the same one", first, second)
		}
	},
}

// TestSAMLocalDivergencesAreTheListedOnes pins docs/infrastructure.md's list:
// each listed divergence still holds under the pinned SAM, and the list
// names every check here. A SAM upgrade that changes one fails here.
func TestSAMLocalDivergencesAreTheListedOnes(t *testing.T) {
	s := mustSAMLocal(t)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "infrastructure.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := documentedDivergences(t, string(doc))
	var checked []string
	for id := range divergenceChecks {
		checked = append(checked, id)
	}
	sort.Strings(checked)
	if !slices.Equal(listed, checked) {
		t.Fatalf("docs/infrastructure.md lists %v, the checks are %v", listed, checked)
	}
	for _, id := range checked {
		t.Run(id, func(t *testing.T) { divergenceChecks[id](t, s) })
	}
}

var divergenceRow = regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|")

func documentedDivergences(t *testing.T, doc string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- sam-local-divergences -->")
	section, _, ok2 := strings.Cut(rest, "<!-- /sam-local-divergences -->")
	if !ok || !ok2 {
		t.Fatal("docs/infrastructure.md has no <!-- sam-local-divergences --> ... <!-- /sam-local-divergences --> list")
	}
	var ids []string
	for _, m := range divergenceRow.FindAllStringSubmatch(section, -1) {
		ids = append(ids, m[1])
	}
	sort.Strings(ids)
	return ids
}

// routeTimings keeps each function's first (cold, for a container SAM
// starts on first use) and later (warm) latencies, as seen by a client.
type routeTimings struct {
	mu   sync.Mutex
	seen map[string][]time.Duration
}

func (rt *routeTimings) measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		name := functionOf(r.Method, r.URL.Path)
		rt.mu.Lock()
		if rt.seen == nil {
			rt.seen = map[string][]time.Duration{}
		}
		rt.seen[name] = append(rt.seen[name], time.Since(start))
		rt.mu.Unlock()
	})
}

func functionOf(method, path string) string {
	for _, r := range routes.All {
		if r.Method == method && pathMatches(r.Path, path) {
			return r.Function
		}
	}
	return method + " " + path
}

// pathMatches reports whether path is an instance of the template, each
// {name} standing for one segment.
func pathMatches(template, path string) bool {
	want, got := strings.Split(template, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if !strings.HasPrefix(want[i], "{") && want[i] != got[i] {
			return false
		}
	}
	return true
}

// TestSAMLocalZTimings runs last (go test runs tests in source order) and
// prints the functions the suite invoked with their cold and warm times.
func TestSAMLocalZTimings(t *testing.T) {
	mustSAMLocal(t)
	samEnv.timings.mu.Lock()
	defer samEnv.timings.mu.Unlock()
	if len(samEnv.timings.seen) == 0 {
		t.Fatal("no function was invoked")
	}
	var names []string
	for name := range samEnv.timings.seen {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Printf("sam local: %d functions invoked (first call, cold; median of the rest, warm; each includes the authorizer where the route has one)\n", len(names))
	for _, name := range names {
		d := samEnv.timings.seen[name]
		warm := "-"
		if len(d) > 1 {
			rest := slices.Clone(d[1:])
			slices.Sort(rest)
			warm = rest[len(rest)/2].Round(time.Millisecond).String()
		}
		fmt.Printf("  %-22s calls %3d  cold %8s  warm %8s\n", name, len(d), d[0].Round(time.Millisecond), warm)
	}
}
