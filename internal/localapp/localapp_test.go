package localapp_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/console"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/lambdaapp"
	"github.com/workflowsapi/workflows/internal/localapp"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/runs"
	"github.com/workflowsapi/workflows/internal/signaltoken"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/runsdb"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestEveryBuiltRouteIsWired(t *testing.T) {
	table := dynamotest.MustTable(t)
	features, err := localapp.FeatureHandlers(lambdaapp.New(table.Client, table.Name, ratelimit.DefaultConfig(), slog.New(slog.DiscardHandler)), localapp.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range routes.All {
		if _, wired := features[route]; wired != route.Built {
			t.Errorf("%s %s: built %v in the route table, wired %v here", route.Method, route.Path, route.Built, wired)
		}
	}
	if len(features) > len(routes.All) {
		t.Errorf("%d handlers for %d routes: one is wired to a route not in the table", len(features), len(routes.All))
	}
}

// mustRunsWorkflow makes a manual two-step workflow through the API.
func mustRunsWorkflow(t *testing.T, env *gatewaytest.Env, key string) string {
	t.Helper()
	r := gatewaytest.Call(t, "POST", env.URL+routes.CreateWorkflow.Path, key, "application/json",
		[]byte(`{"name":"n","trigger":{"type":"manual"},"steps":[{"id":"a","type":"transform","with":{"jq":"."}},{"id":"b","type":"transform","with":{"jq":"."}}]}`))
	return r.Data(t)["id"].(string)
}

// mustRun stores a run of workflowID in status through the run store; a
// failed one has step a succeeded and step b failed.
func mustRun(t *testing.T, env *gatewaytest.Env, workflowID string, status runs.Status) string {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC()
	db := runsdb.New(env.Table.Client, env.Table.Name)
	run := runs.Run{ID: ids.New(ids.PrefixRun, now), AccountID: "acct_calls", WorkflowID: workflowID, WorkflowVersion: 1,
		Status: runs.StatusQueued, Trigger: runs.TriggerManual, Input: []byte(`{}`), CreatedAt: now}
	if err := db.Create(ctx, run, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	if status == runs.StatusQueued {
		return run.ID
	}
	run.Revision, run.Status = 1, status
	last := runs.StepFailed
	if status.Finished() {
		run.FinishedAt = now
	} else {
		last = runs.StepWaiting // a waiting run waits in its second step
	}
	if _, err := db.Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	for i, st := range []runs.StepStatus{runs.StepSucceeded, last} {
		if _, err := db.PutStep(ctx, runs.Step{RunID: run.ID, StepID: string(rune('a' + i)), Index: i, Status: st, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return run.ID
}

// mustSignalWait stores a wait_for_signal step waiting in run, with its
// token's lookup item, and answers the token.
func mustSignalWait(t *testing.T, env *gatewaytest.Env, runID, stepID string) string {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC()
	mac, err := signaltoken.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := signaltoken.NewNonce()
	token, err := signaltoken.Token(ctx, mac, "acct_calls", runID, stepID, nonce)
	if err != nil {
		t.Fatal(err)
	}
	db := runsdb.New(env.Table.Client, env.Table.Name)
	expires := now.Add(time.Hour)
	if err := db.PutSignal(ctx, runs.SignalRef{Hash: signaltoken.Hash(token), AccountID: "acct_calls", RunID: runID, StepID: stepID, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutStep(ctx, runs.Step{RunID: runID, StepID: stepID, Index: 2, Status: runs.StepWaiting, Attempts: 1, StartedAt: now,
		SignalNonce: nonce, SignalHash: signaltoken.Hash(token), SignalExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	return token
}

// mustFanOutStep stores a finished foreach step of two items in run.
func mustFanOutStep(t *testing.T, env *gatewaytest.Env, runID, stepID string) {
	t.Helper()
	ctx := context.Background()
	db := runsdb.New(env.Table.Client, env.Table.Name)
	if _, err := db.PutStep(ctx, runs.Step{RunID: runID, StepID: stepID, Index: 2, Status: runs.StepSucceeded, ItemCount: 2, Output: []byte(`[1,2]`)}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := db.PutItem(ctx, runs.Item{RunID: runID, StepID: stepID, Index: i, Status: runs.StepSucceeded, Attempts: 1, Output: []byte(strconv.Itoa(i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
}

// mustChild stores a child run of parent (as a workflow step starts one:
// its record in the parent's partition, then the run).
func mustChild(t *testing.T, env *gatewaytest.Env, parent string) string {
	t.Helper()
	now := time.Now().UTC()
	child := runs.Run{ID: ids.New(ids.PrefixRun, now), AccountID: "acct_calls", WorkflowID: ids.New(ids.PrefixWorkflow, now), WorkflowVersion: 1,
		Status: runs.StatusQueued, Trigger: runs.TriggerWorkflow, Input: []byte(`{}`), CreatedAt: now, ParentRunID: parent, ParentStepID: "b", Depth: 2}
	if err := runsdb.New(env.Table.Client, env.Table.Name).Create(context.Background(), child, runs.Reused{}); err != nil {
		t.Fatal(err)
	}
	return child.ID
}

// mustSecretsWorkflow makes a webhook workflow with notify of account
// directly in the table (its head's triggerType and hasNotify, which is all
// the rolls read of it, and both its secrets), so each roll route is counted
// on its way to 201 without the workflow routes.
func mustSecretsWorkflow(t *testing.T, env *gatewaytest.Env, account string) string {
	t.Helper()
	workflowID := ids.New(ids.PrefixWorkflow, time.Now())
	_, err := env.Table.Client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(env.Table.Name),
		Item: map[string]types.AttributeValue{
			"PK":          &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			"SK":          &types.AttributeValueMemberS{Value: store.WorkflowSK(workflowID)},
			"triggerType": &types.AttributeValueMemberS{Value: "webhook"},
			"hasNotify":   &types.AttributeValueMemberBOOL{Value: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, secrets := range []*webhooks.Secrets{
		webhooks.NewSecrets(webhooksdb.New(env.Table.Client, env.Table.Name), env.Sealer),
		webhooks.NewNotifySecrets(webhooksdb.NewNotify(env.Table.Client, env.Table.Name), env.Sealer),
	} {
		if _, err := secrets.Create(context.Background(), account, workflowID); err != nil {
			t.Fatal(err)
		}
	}
	return workflowID
}

// TestDynamoDBCallsPerRoute counts the DynamoDB calls one request makes on
// each route, for docs/performance.md (`make bench` prints the table). The key
// was used just before, so lastUsedAt needs no write: that costs one more
// UpdateItem per key at most once a minute.
func TestDynamoDBCallsPerRoute(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_calls")
	gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/workflows", key, "", nil) // sets lastUsedAt

	for _, route := range routes.All {
		path, body, contentType := gatewaytest.ConcretePath(route.Path), []byte(nil), ""
		var header http.Header
		switch route.Function {
		case "run-workflow":
			// With an Idempotency-Key, its costliest way to 202.
			path = strings.Replace(route.Path, "{id}", mustRunsWorkflow(t, env, key), 1)
			body, contentType, header = []byte(`{"input":{"n":1}}`), "application/json", http.Header{"Idempotency-Key": {"calls-1"}}
		case "get-run", "get-run-step", "cancel-run", "retry-run":
			// A failed run with one succeeded and one failed step (retried
			// from the failed step: one reused step copied, with an
			// Idempotency-Key), or a waiting one to cancel (its waiting
			// step is ended, its marker deleted).
			status := runs.StatusFailed
			if route.Function == "cancel-run" {
				status = runs.StatusWaiting
			}
			runID := mustRun(t, env, mustRunsWorkflow(t, env, key), status)
			path = strings.Replace(strings.Replace(route.Path, "{id}", runID, 1), "{stepId}", "a", 1)
			if route.Function == "get-run-step" {
				// Its costliest way: a fan-out step, whose items are read too.
				mustFanOutStep(t, env, runID, "fan")
				path = strings.Replace(strings.Replace(route.Path, "{id}", runID, 1), "{stepId}", "fan", 1)
			}
			if route.Function == "retry-run" {
				body, contentType = []byte(`{"from":"failed_step"}`), "application/json"
				header = http.Header{"Idempotency-Key": {"calls-2"}}
			}
		case "signal-run", "receive-signal":
			// A run waiting in a wait_for_signal step, signalled by the API
			// or by its token.
			runID := mustRun(t, env, mustRunsWorkflow(t, env, key), runs.StatusWaiting)
			token := mustSignalWait(t, env, runID, "sig")
			path = strings.Replace(strings.Replace(route.Path, "{id}", runID, 1), "{stepId}", "sig", 1)
			if route.Function == "receive-signal" {
				path = strings.Replace(route.Path, "{token}", token, 1)
			}
			body, contentType = []byte(`{"data":{"approved":true}}`), "application/json"
		case "list-runs":
			// Its costliest way: the children of a run (the parent read in
			// the caller's account, its child records, the children).
			parent := mustRun(t, env, mustRunsWorkflow(t, env, key), runs.StatusWaiting)
			mustChild(t, env, parent)
			path = route.Path + "?parentRunId=" + parent
		case "receive-webhook":
			// A correctly signed delivery to a webhook workflow: its way
			// to 202 (the key sent along is ignored: the route has none).
			made := gatewaytest.Call(t, "POST", env.URL+routes.CreateWorkflow.Path, key, "application/json",
				[]byte(`{"name":"n","trigger":{"type":"webhook"},"steps":[{"id":"a","type":"transform","with":{"jq":"."}}]}`)).Data(t)
			secret := made["webhook"].(map[string]any)["secret"].(string)
			path = strings.Replace(route.Path, "{workflowId}", made["id"].(string), 1)
			body, contentType = []byte(`{"n":1}`), "application/json"
			header = http.Header{webhooks.SignatureHeader: {webhooks.Sign(secret, time.Now(), body)}}
		case "create-api-key":
			body, contentType = []byte(`{"name":"n","scopes":["runs:read"]}`), "application/json"
		case "revoke-api-key", "roll-api-key":
			_, id := env.MustKey(t, "acct_calls")
			path = strings.Replace(route.Path, "{id}", id, 1)
		case "roll-webhook-secret", "roll-notify-secret":
			path = strings.Replace(route.Path, "{id}", mustSecretsWorkflow(t, env, "acct_calls"), 1)
		case "create-workflow", "get-workflow", "update-workflow", "delete-workflow":
			// Each workflow route on its costliest way to success: a step
			// naming a connection (one GetItem to check it), and a webhook
			// workflow with notify, which a create makes with both its
			// secrets (PutItem each), a change makes a manual one without
			// notify (both secrets dropped: DeleteItem each), or which is
			// deleted (the same).
			connection := gatewaytest.Call(t, "POST", env.URL+routes.CreateConnection.Path, key, "application/json",
				[]byte(`{"name":"n","type":"bearer","credentials":{"token":"t"}}`)).Data(t)["id"].(string)
			definition := func(trigger, notify string) []byte {
				return []byte(`{"name":"n","trigger":{"type":"` + trigger + `"},` + notify + `"steps":[{"id":"a","type":"http","with":{"method":"GET","url":"https://shop.example/","connection":"` + connection + `"}}]}`)
			}
			const notify = `"notify":{"url":"https://hooks.example/runs","events":["run.failed"]},`
			if route.Function == "create-workflow" {
				body, contentType = definition("webhook", notify), "application/json"
				break
			}
			made := gatewaytest.Call(t, "POST", env.URL+routes.CreateWorkflow.Path, key, "application/json", definition("webhook", notify))
			path = strings.Replace(route.Path, "{id}", made.Data(t)["id"].(string), 1)
			if route.Function == "update-workflow" {
				body, contentType = definition("manual", ""), "application/json"
			}
		case "create-connection":
			body, contentType = []byte(`{"name":"n","type":"bearer","credentials":{"token":"t"}}`), "application/json"
		case "get-console":
			if route == &routes.GetConsoleAsset {
				// An asset the page names, so the route is counted on its
				// way to 200.
				path = consoleAssets(t, env)[0]
			}
		case "get-connection", "update-connection", "delete-connection":
			// A real connection, so each route is counted on its way to 200.
			made := gatewaytest.Call(t, "POST", env.URL+routes.CreateConnection.Path, key, "application/json",
				[]byte(`{"name":"n","type":"bearer","credentials":{"token":"t"}}`))
			path = strings.Replace(route.Path, "{id}", made.Data(t)["id"].(string), 1)
			if route.Method == "PUT" {
				body, contentType = []byte(`{"name":"m","type":"basic","credentials":{"username":"u","password":"p"}}`), "application/json"
			}
		}
		env.Table.Calls.Reset()
		r := gatewaytest.CallWith(t, route.Method, env.URL+path, key, contentType, header, body)
		calls := env.Table.Calls.Snapshot()
		t.Logf("%-7s %-36s %3d  %d calls %v", route.Method, route.Path, r.Status, env.Table.Calls.Total(), calls)

		want := map[string]int{"UpdateItem": 1} // the limiter
		if route.Authenticated() {
			want["GetItem"] = 1 // the authorizer
		}
		switch route.Function {
		case "list-api-keys":
			want["Query"], want["BatchGetItem"] = 1, 1
		case "create-api-key":
			// The active-key cap reads the account's keys first.
			want["PutItem"], want["Query"], want["BatchGetItem"] = 2, 1, 1
		case "revoke-api-key":
			// The target's index and key items (its scopes are checked
			// before the write), then the write.
			want["GetItem"], want["UpdateItem"] = 3, 2
		case "roll-api-key":
			want["GetItem"], want["PutItem"], want["UpdateItem"] = 4, 2, 2
		case "list-workflows", "create-workflow", "get-workflow", "update-workflow", "delete-workflow":
			if r.Status != 200 && r.Status != 201 {
				t.Errorf("%s %s: status %d, want success: %s", route.Method, route.Path, r.Status, r.Body)
			}
			switch route.Function {
			case "list-workflows":
				want["Query"] = 1 // the heads: summaries, no definitions
			case "create-workflow":
				// The step's connection, the two secrets, then version 1
				// and the head.
				want["GetItem"], want["PutItem"] = 2, 4
			case "get-workflow":
				want["GetItem"] = 3 // the head, then the version it points at
			case "update-workflow":
				// The connection and the head; the new version (PutItem),
				// the head moved on its version (UpdateItem); the webhook
				// and notification secrets dropped (DeleteItem each).
				want["GetItem"], want["PutItem"], want["UpdateItem"], want["DeleteItem"] = 3, 1, 2, 2
			case "delete-workflow":
				// The head (returning it: was it a webhook one? had it
				// notify?), then each secret.
				want["DeleteItem"] = 3
			}
		case "roll-webhook-secret", "roll-notify-secret":
			// The workflow's head (is it the account's, on a webhook
			// trigger, with notify?), then one UpdateItem of its secret
			// item of the route's kind.
			if r.Status != 201 {
				t.Errorf("%s %s: status %d, want 201: %s", route.Method, route.Path, r.Status, r.Body)
			}
			want["GetItem"], want["UpdateItem"] = 2, 2
		case "get-openapi", "get-console":
			// Static: the limiter's counter only.
			if r.Status != 200 {
				t.Errorf("%s %s: status %d, want 200: %s", route.Method, route.Path, r.Status, r.Body)
			}
		case "list-connections", "get-connection", "create-connection", "update-connection", "delete-connection":
			// One call each: the Query or GetItem projects the public
			// fields, the PutItem, UpdateItem or DeleteItem is the write
			// (conditional on the connection's existence for the last two).
			if r.Status != 200 && r.Status != 201 {
				t.Errorf("%s %s: status %d, want success: %s", route.Method, route.Path, r.Status, r.Body)
			}
			op := map[string]string{"list-connections": "Query", "get-connection": "GetItem", "create-connection": "PutItem",
				"update-connection": "UpdateItem", "delete-connection": "DeleteItem"}[route.Function]
			want[op]++
		case "receive-webhook":
			// The secret item (the signature checked), the workflow's head
			// and version; the unfinished marker and the run. No delivery
			// record: the run id is derived from the signature.
			if r.Status != 202 {
				t.Errorf("%s %s: status %d, want 202: %s", route.Method, route.Path, r.Status, r.Body)
			}
			want["GetItem"], want["PutItem"] = 3, 2
		case "signal-run", "receive-signal":
			if r.Status != 200 {
				t.Errorf("%s %s: status %d, want 200: %s", route.Method, route.Path, r.Status, r.Body)
			}
			// The run and the step read, the step written signalled, the
			// token's item deleted; the API answers with the run's steps,
			// the token's route reads its item first. (In AWS, waking
			// the run reads the step again for its task token.)
			want["GetItem"], want["PutItem"], want["DeleteItem"] = want["GetItem"]+2, 1, 1
			if route.Function == "signal-run" {
				want["Query"] = 1
			} else {
				want["GetItem"]++
			}
		case "run-workflow", "list-runs", "get-run", "get-run-step", "cancel-run", "retry-run":
			if r.Status != 200 && r.Status != 202 {
				t.Errorf("%s %s: status %d, want success: %s", route.Method, route.Path, r.Status, r.Body)
			}
			switch route.Function {
			case "run-workflow":
				// The key's record (absent), the workflow's head and
				// version; then the record, the unfinished marker and the
				// run.
				want["GetItem"], want["PutItem"] = 4, 3
			case "list-runs":
				want["GetItem"], want["Query"], want["BatchGetItem"] = 2, 1, 1 // the parent, its children's records, the children
			case "get-run":
				want["GetItem"], want["Query"] = 2, 1 // the run, then its steps
			case "get-run-step":
				want["GetItem"], want["Query"] = 3, 1 // the run (is it the account's?), the step, its items
			case "cancel-run":
				// The run, its steps, its waiting step ended, then its
				// status written on the revision read, its marker deleted
				// (cancelled is an end), then its children (none here).
				want["GetItem"], want["Query"], want["PutItem"], want["UpdateItem"], want["DeleteItem"] = 2, 2, 1, 2, 1
			case "retry-run":
				// The key's record (absent), the run, the workflow's head
				// and pinned version, the steps; then the record, the
				// marker, the new run and the one reused step.
				want["GetItem"], want["Query"], want["PutItem"] = 5, 1, 4
			}
		}
		for op, n := range want {
			if calls[op] != n {
				t.Errorf("%s %s: %s called %d times, want %d (all calls: %v)", route.Method, route.Path, op, calls[op], n, calls)
			}
		}
		total := 0
		for _, n := range want {
			total += n
		}
		// Least privilege, shown: the route's function is granted exactly
		// the actions it was seen to call (the authorizer's GetItem is the
		// authorizer's own).
		called := map[string]int{}
		for op, n := range calls {
			called["dynamodb:"+op] = n
		}
		if route.Authenticated() {
			called[routes.ActionGetItem]--
		}
		var used []string
		for action, n := range called {
			if n > 0 {
				used = append(used, action)
			}
		}
		function, _ := routes.FunctionByName(route.Function)
		granted := slices.Clone(function.TableActions)
		slices.Sort(used)
		slices.Sort(granted)
		if !slices.Equal(used, granted) {
			t.Errorf("%s %s: called %v, but its function is granted %v", route.Method, route.Path, used, granted)
		}
		if env.Table.Calls.Total() != total {
			t.Errorf("%s %s: %d calls, want %d (%v)", route.Method, route.Path, env.Table.Calls.Total(), total, calls)
		}
	}
}

// Every path that starts a run through the local gateway keeps it for
// RUN_RETENTION_DAYS, as its function does in AWS: the two are built by one
// constructor (the feature's wire package), so a setting one reads the
// other reads too. (Before, the local run route kept runs 30 days whatever
// the variable said.)
func TestEveryStartPathKeepsRunsForTheRetentionSet(t *testing.T) {
	t.Setenv(runs.RetentionEnv, "2")
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_retention", domain.AllScopes...)
	workflowID := mustRunsWorkflow(t, env, key)
	ctx := context.Background()
	db := runsdb.New(env.Table.Client, env.Table.Name)
	requireKeptTwoDays := func(t *testing.T, path, runID string) runs.Run {
		t.Helper()
		item, err := env.Table.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(env.Table.Name), Key: store.ItemKey(store.AccountPK("acct_retention"), store.RunSK(runID)),
		})
		if err != nil || item.Item == nil {
			t.Fatalf("%s: run %q not stored: %v", path, runID, err)
		}
		hideAt, _ := item.Item["hideAt"].(*types.AttributeValueMemberN)
		if hideAt == nil {
			t.Fatalf("%s: the run item has no hideAt: %v", path, item.Item)
		}
		run, err := db.Get(ctx, "acct_retention", runID)
		if err != nil {
			t.Fatal(err)
		}
		seconds, _ := strconv.ParseInt(hideAt.Value, 10, 64)
		if kept := time.Unix(seconds, 0).Sub(run.CreatedAt); kept < 47*time.Hour || kept > 49*time.Hour {
			t.Errorf("%s: the run is kept %s from its start, want the 2 days of %s", path, kept.Round(time.Minute), runs.RetentionEnv)
		}
		return run
	}

	r := gatewaytest.Call(t, "POST", env.URL+strings.Replace(routes.RunWorkflow.Path, "{id}", workflowID, 1), key, "application/json", []byte(`{"input":{}}`))
	runID, _ := r.Data(t)["id"].(string)
	run := requireKeptTwoDays(t, "run-workflow", runID)

	// A queued run cannot be retried: end it, then retry it.
	run.Status, run.FinishedAt = runs.StatusFailed, time.Now().UTC()
	if _, err := db.Update(ctx, run); err != nil {
		t.Fatal(err)
	}
	r = gatewaytest.Call(t, "POST", env.URL+strings.Replace(routes.RetryRun.Path, "{id}", run.ID, 1), key, "application/json", []byte(`{}`))
	retryID, _ := r.Data(t)["id"].(string)
	requireKeptTwoDays(t, "retry-run", retryID)
}

// consoleAssets are the paths of the assets the console's page names, as
// the local gateway serves it.
func consoleAssets(t *testing.T, env *gatewaytest.Env) []string {
	t.Helper()
	page := gatewaytest.Call(t, "GET", env.URL+routes.GetConsole.Path, "", "", nil)
	var out []string
	for _, m := range regexp.MustCompile(`(?:src|href)="(console/[^"]+)"`).FindAllStringSubmatch(string(page.Body), -1) {
		out = append(out, routes.ConsolePath+"/"+strings.TrimPrefix(m[1], "console/"))
	}
	if page.Status != 200 || len(out) == 0 {
		t.Fatalf("the console's page: %d, naming %v", page.Status, out)
	}
	return out
}

// make dev serves the console at /console, through the console's function
// and the pipeline, every answer held to the OpenAPI document by the
// harness: the page, its assets, their 304s, a 404 and the trailing
// slash's redirect, each with the security headers and the limiter's.
func TestTheLocalGatewayServesTheConsole(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	limit := int(ratelimit.DefaultConfig().Limits[ratelimit.CategoryPublic])
	requireConsoleHeaders := func(t *testing.T, r gatewaytest.Response) {
		t.Helper()
		if got := r.Header.Get("Content-Security-Policy"); got != console.ContentSecurityPolicy {
			t.Errorf("Content-Security-Policy %q", got)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("security headers %v", r.Header)
		}
		gatewaytest.RequireRateLimitHeaders(t, r, limit)
		if _, set := r.Header[httpapi.HeaderKeyScopes]; set {
			t.Error("X-Key-Scopes on a route that takes no key")
		}
	}
	conditional := func(etag string) http.Header { return http.Header{"If-None-Match": {etag}} }

	page := gatewaytest.Call(t, "GET", env.URL+"/console", "", "", nil)
	if page.Status != 200 || page.Header.Get("Content-Type") != "text/html; charset=utf-8" || page.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("the page: %d %v", page.Status, page.Header)
	}
	requireConsoleHeaders(t, page)
	if r := gatewaytest.CallWith(t, "GET", env.URL+"/console", "", "", conditional(page.Header.Get("ETag")), nil); r.Status != 304 || len(r.Body) != 0 {
		t.Errorf("the page again with its ETag: %d, %d bytes", r.Status, len(r.Body))
	} else {
		requireConsoleHeaders(t, r)
	}
	for _, asset := range consoleAssets(t, env) {
		r := gatewaytest.Call(t, "GET", env.URL+asset, "", "", nil)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d, Cache-Control %q", asset, r.Status, r.Header.Get("Cache-Control"))
			continue
		}
		requireConsoleHeaders(t, r)
		if again := gatewaytest.CallWith(t, "GET", env.URL+asset, "", "", conditional(r.Header.Get("ETag")), nil); again.Status != 304 {
			t.Errorf("%s again with its ETag: %d", asset, again.Status)
		}
	}
	missing := gatewaytest.Call(t, "GET", env.URL+"/console/console.js", "", "", nil)
	if missing.Status != 404 || missing.ErrorCode(t) != string(domain.CodeNotFound) {
		t.Errorf("an unhashed name: %d %s", missing.Status, missing.Body)
	}
	requireConsoleHeaders(t, missing)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	slash, err := client.Get(env.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	_ = slash.Body.Close()
	if slash.StatusCode != http.StatusPermanentRedirect || slash.Header.Get("Location") != "../console" {
		t.Errorf("/console/: %d, Location %q", slash.StatusCode, slash.Header.Get("Location"))
	}
	if r := gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/console", "", "", nil); r.Status != 404 {
		t.Errorf("the console under the base path: %d", r.Status)
	}
}
