package workflows_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// client talks to the workflow routes of a running API with one key.
type client struct {
	env *gatewaytest.Env
	key string
}

func (c client) url(path string) string { return c.env.URL + routes.BasePath + "/workflows" + path }

func (c client) do(t *testing.T, method, path string, header http.Header, body []byte) gatewaytest.Response {
	t.Helper()
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return gatewaytest.CallWith(t, method, c.url(path), c.key, contentType, header, body)
}

func (c client) create(t *testing.T, body []byte) map[string]any {
	t.Helper()
	r := c.do(t, "POST", "", nil, body)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.Data(t)
}

func (c client) list(t *testing.T, query string) ([]any, any) {
	t.Helper()
	r := c.do(t, "GET", query, nil, nil)
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	items, _ := body["data"].([]any)
	return items, body["meta"].(map[string]any)["nextCursor"]
}

func ifMatch(tag string) http.Header { return http.Header{"If-Match": []string{tag}} }

// plantConnection stores a connection item in account, as the connection
// routes would: what a step's connection is checked against.
func plantConnection(t *testing.T, env *gatewaytest.Env, account, id string) {
	t.Helper()
	item := store.ItemKey(store.AccountPK(account), store.ConnectionSK(id))
	if _, err := env.Table.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(env.Table.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func itemExists(t *testing.T, env *gatewaytest.Env, pk, sk string) bool {
	t.Helper()
	out, err := env.Table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Table.Name), Key: store.ItemKey(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item != nil
}

func named(name string) []byte {
	return []byte(`{"name":"` + name + `","trigger":{"type":"manual"},"steps":[{"id":"a","type":"transform","with":{"jq":".input"}}]}`)
}

func TestVersions(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_versions")
	plantConnection(t, env, "acct_versions", knownConnection)
	c := client{env, key}

	created := c.do(t, "POST", "", nil, []byte(example))
	if created.Status != 201 {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	wf := created.Data(t)
	id := wf["id"].(string)
	t.Run("create answers the whole workflow at version 1, with Location and ETag", func(t *testing.T) {
		if created.Header.Get("Location") != routes.BasePath+"/workflows/"+id || created.Header.Get("ETag") != `"1"` {
			t.Fatalf("Location %q, ETag %q", created.Header.Get("Location"), created.Header.Get("ETag"))
		}
		steps, _ := wf["steps"].([]any)
		if wf["version"] != 1.0 || wf["name"] != "Notify big orders" || wf["enabled"] != true || len(steps) != 5 ||
			wf["createdAt"] != wf["updatedAt"] || wf["webhook"] != nil {
			t.Fatalf("created: %s", created.Body)
		}
		if with(wf, 0)["connection"] != knownConnection || step(wf, 2)["else"] != "end" {
			t.Fatalf("steps as stored: %v", steps)
		}
	})

	second := edit(t, func(d map[string]any) { d["name"] = "Second"; d["enabled"] = false })
	third := edit(t, func(d map[string]any) { d["name"] = "Third"; d["steps"] = d["steps"].([]any)[1:2] })
	t.Run("each PUT stores a new version and bumps version", func(t *testing.T) {
		for i, body := range [][]byte{second, third} {
			r := c.do(t, "PUT", "/"+id, nil, body)
			want := i + 2
			if r.Status != 200 || r.Data(t)["version"] != float64(want) || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, want) {
				t.Fatalf("PUT %d: %d %s (ETag %q)", i+1, r.Status, r.Body, r.Header.Get("ETag"))
			}
			if r.Data(t)["createdAt"] != wf["createdAt"] {
				t.Fatal("a change moved createdAt")
			}
		}
	})
	t.Run("GET answers the current version, ?version=N an older one, each with its ETag", func(t *testing.T) {
		for query, want := range map[string]struct {
			name    string
			version float64
			steps   int
		}{"": {"Third", 3, 1}, "?version=1": {"Notify big orders", 1, 5}, "?version=2": {"Second", 2, 5}, "?version=3": {"Third", 3, 1}} {
			r := c.do(t, "GET", "/"+id+query, nil, nil)
			if r.Status != 200 {
				t.Fatalf("GET %s: %d %s", query, r.Status, r.Body)
			}
			d := r.Data(t)
			if d["name"] != want.name || d["version"] != want.version || len(d["steps"].([]any)) != want.steps ||
				r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, int(want.version)) {
				t.Fatalf("GET %s: %s (ETag %q)", query, r.Body, r.Header.Get("ETag"))
			}
		}
		if d := c.do(t, "GET", "/"+id+"?version=2", nil, nil).Data(t); d["enabled"] != false {
			t.Fatalf("version 2 lost enabled: false: %v", d)
		}
	})
	t.Run("a version never reached is 404, and a version that is not a number is 400", func(t *testing.T) {
		if r := c.do(t, "GET", "/"+id+"?version=4", nil, nil); r.Status != 404 {
			t.Fatalf("?version=4: %d %s", r.Status, r.Body)
		}
		for _, q := range []string{"?version=0", "?version=-1", "?version=two", "?version=1&version=2"} {
			if r := c.do(t, "GET", "/"+id+q, nil, nil); r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
				t.Fatalf("%s: %d %s", q, r.Status, r.Body)
			}
		}
	})
	t.Run("If-Match with a stale version is 412 and changes nothing", func(t *testing.T) {
		for _, tag := range []string{`"2"`, `"1"`, `W/"3"`, `3`, `"99"`} {
			r := c.do(t, "PUT", "/"+id, ifMatch(tag), named("Stale"))
			if r.Status != 412 || r.ErrorCode(t) != "PRECONDITION_FAILED" {
				t.Fatalf("If-Match %s: %d %s", tag, r.Status, r.Body)
			}
		}
		current := c.do(t, "GET", "/"+id, nil, nil)
		if current.Data(t)["version"] != 3.0 || current.Data(t)["name"] != "Third" {
			t.Fatalf("after the 412s: %s", current.Body)
		}
		if itemExists(t, env, store.AccountPK("acct_versions"), store.WorkflowVersionSK(id, 4)) {
			t.Fatal("a refused change stored a version item")
		}
	})
	t.Run("If-Match with the current version (or *) makes the change", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, ifMatch(`"3"`), named("Fourth"))
		if r.Status != 200 || r.Data(t)["version"] != 4.0 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		r = c.do(t, "PUT", "/"+id, ifMatch(`"1", "4"`), named("Fifth"))
		if r.Status != 200 || r.Data(t)["version"] != 5.0 {
			t.Fatalf("a list naming the current version: %d %s", r.Status, r.Body)
		}
		r = c.do(t, "PUT", "/"+id, ifMatch(`*`), named("Sixth"))
		if r.Status != 200 || r.Data(t)["version"] != 6.0 || r.Header.Get("ETag") != `"6"` {
			t.Fatalf("*: %d %s", r.Status, r.Body)
		}
	})
	t.Run("a bad definition in a PUT is 400 and changes nothing", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, []byte(`{"name":"x","trigger":{"type":"manual"},"steps":[]}`))
		if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if v := c.do(t, "GET", "/"+id, nil, nil).Data(t)["version"]; v != 6.0 {
			t.Fatalf("version %v after a refused change", v)
		}
	})
	t.Run("the list shows summaries of the current version", func(t *testing.T) {
		items, next := c.list(t, "")
		if len(items) != 1 || next != nil {
			t.Fatalf("%d items, next %v", len(items), next)
		}
		s := items[0].(map[string]any)
		if s["id"] != id || s["name"] != "Sixth" || s["version"] != 6.0 {
			t.Fatalf("summary: %v", s)
		}
		for _, absent := range []string{"steps", "inputSchema", "timeoutSeconds"} {
			if _, has := s[absent]; has {
				t.Fatalf("the summary has %s: %v", absent, s)
			}
		}
	})
	t.Run("after a delete the workflow is 404 everywhere, and its versions stay stored", func(t *testing.T) {
		r := c.do(t, "DELETE", "/"+id, nil, nil)
		if r.Status != 200 || r.Data(t)["id"] != id || r.Data(t)["deleted"] != true {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		for _, req := range []struct {
			method, path string
			body         []byte
		}{
			{"GET", "/" + id, nil}, {"GET", "/" + id + "?version=1", nil}, {"GET", "/" + id + "?version=6", nil},
			{"PUT", "/" + id, named("Back")}, {"DELETE", "/" + id, nil},
		} {
			if r := c.do(t, req.method, req.path, nil, req.body); r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" {
				t.Fatalf("%s %s after delete: %d %s", req.method, req.path, r.Status, r.Body)
			}
		}
		if items, _ := c.list(t, ""); len(items) != 0 {
			t.Fatalf("the list still shows %d workflows", len(items))
		}
		for v := 1; v <= 6; v++ {
			if !itemExists(t, env, store.AccountPK("acct_versions"), store.WorkflowVersionSK(id, v)) {
				t.Fatalf("version %d is gone; runs that pinned it need it", v)
			}
		}
		if itemExists(t, env, store.AccountPK("acct_versions"), store.WorkflowVersionSK(id, 7)) {
			t.Fatal("the PUT after the delete stored a version")
		}
	})
	t.Run("an id that cannot be a workflow's is 404", func(t *testing.T) {
		for _, path := range []string{"/wf_nope", "/conn_01jc0000000000000000000000", "/wf_01JC0000000000000000000000x"} {
			if r := c.do(t, "GET", path, nil, nil); r.Status != 404 {
				t.Fatalf("%s: %d", path, r.Status)
			}
		}
	})
}

// TestEveryValidationRule posts one bad definition per rule of issue 8
// (point 2) through the API: each is a 400 naming the field, and none is
// stored.
func TestEveryValidationRule(t *testing.T) {
	// Two writes per rule (POST and PUT) are more than a minute's write
	// limit allows; the limiter has tests of its own.
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: 1000}})
	key, _ := env.MustKey(t, "acct_rules")
	plantConnection(t, env, "acct_rules", knownConnection)
	plantConnection(t, env, "acct_other", "conn_01jc0000000000000000000001")
	c := client{env, key}

	manySteps := func(d map[string]any) {
		var steps []any
		for i := range 101 {
			steps = append(steps, map[string]any{"id": fmt.Sprintf("s%d", i), "type": "delay", "with": map[string]any{"seconds": 1}})
		}
		d["steps"] = steps
	}
	tests := []struct {
		rule   string
		change func(d map[string]any)
		field  string
	}{
		{"name is required", func(d map[string]any) { delete(d, "name") }, "name"},
		{"name is not blank", func(d map[string]any) { d["name"] = "   " }, "name"},
		{"name is at most 200 characters", func(d map[string]any) { d["name"] = strings.Repeat("é", 201) }, "name"},
		{"description is at most 2000 characters", func(d map[string]any) { d["description"] = strings.Repeat("d", 2001) }, "description"},
		{"enabled is a boolean", func(d map[string]any) { d["enabled"] = "yes" }, "enabled"},
		{"at least one step", func(d map[string]any) { d["steps"] = []any{} }, "steps"},
		{"at most 100 steps", manySteps, "steps"},
		{"unknown fields are refused", func(d map[string]any) { d["owner"] = "me" }, "owner"},
		{"unknown step fields are refused", func(d map[string]any) { step(d, 1)["when"] = "always" }, "steps[1].when"},
		{"null is refused", func(d map[string]any) { d["description"] = nil }, "description"},
		{"workflow timeoutSeconds is at least 1", func(d map[string]any) { d["timeoutSeconds"] = 0 }, "timeoutSeconds"},
		{"workflow timeoutSeconds is at most 30 days", func(d map[string]any) { d["timeoutSeconds"] = 2_592_001 }, "timeoutSeconds"},
		{"step ids are unique", func(d map[string]any) { step(d, 1)["id"] = "order" }, "steps[1].id"},
		{"step ids follow the pattern", func(d map[string]any) { step(d, 0)["id"] = "1order" }, "steps[0].id"},
		{"step ids are at most 64 characters", func(d map[string]any) { step(d, 0)["id"] = "a" + strings.Repeat("b", 64) }, "steps[0].id"},
		{"retry.maxAttempts is at least 1", func(d map[string]any) { step(d, 0)["retry"] = map[string]any{"maxAttempts": 0} }, "steps[0].retry.maxAttempts"},
		{"retry.maxAttempts is at most 10", func(d map[string]any) { step(d, 0)["retry"] = map[string]any{"maxAttempts": 11} }, "steps[0].retry.maxAttempts"},
		{"step timeoutSeconds is at most 900", func(d map[string]any) { step(d, 0)["timeoutSeconds"] = 901 }, "steps[0].timeoutSeconds"},
		{"step timeoutSeconds is at least 1", func(d map[string]any) { step(d, 0)["timeoutSeconds"] = 0 }, "steps[0].timeoutSeconds"},
		{"step type is known", func(d map[string]any) { step(d, 1)["type"] = "email" }, "steps[1].type"},
		{"http method is one of six", func(d map[string]any) { with(d, 0)["method"] = "CONNECT" }, "steps[0].with.method"},
		{"http url is http or https", func(d map[string]any) { with(d, 0)["url"] = "file:///etc/passwd" }, "steps[0].with.url"},
		{"http url is required", func(d map[string]any) { delete(with(d, 0), "url") }, "steps[0].with.url"},
		{"http header values are strings", func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"X-Count": 1} }, "steps[0].with.headers.X-Count"},
		{"http connection exists in the account", func(d map[string]any) { with(d, 0)["connection"] = "conn_01jc00000000000000000000zz" }, "steps[0].with.connection"},
		{"http connection is not another account's", func(d map[string]any) { with(d, 0)["connection"] = "conn_01jc0000000000000000000001" }, "steps[0].with.connection"},
		{"transform jq compiles", func(d map[string]any) { with(d, 1)["jq"] = ".steps | {" }, "steps[1].with.jq"},
		{"condition jq compiles", func(d map[string]any) { with(d, 2)["jq"] = "if . then" }, "steps[2].with.jq"},
		{"condition else is required", func(d map[string]any) { delete(step(d, 2), "else") }, "steps[2].else"},
		{"condition else names a step", func(d map[string]any) { step(d, 2)["else"] = "nowhere" }, "steps[2].else"},
		{"condition else does not loop back", func(d map[string]any) { step(d, 2)["else"] = "order" }, "steps[2].else"},
		{"delay seconds is at least 1", func(d map[string]any) { with(d, 3)["seconds"] = 0 }, "steps[3].with.seconds"},
		{"delay seconds is at most 30 days", func(d map[string]any) { with(d, 3)["seconds"] = 2_592_001 }, "steps[3].with.seconds"},
		{"url templates compile", func(d map[string]any) { with(d, 0)["url"] = "https://shop.example/{{ .input | }}" }, "steps[0].with.url"},
		{"url templates fill the path, query or fragment only", func(d map[string]any) { with(d, 0)["url"] = "https://shop.example{{ .input.path }}" }, "steps[0].with.url"},
		{"url holds no user name or password", func(d map[string]any) { with(d, 0)["url"] = "https://ada:pw@shop.example/orders" }, "steps[0].with.url"},
		{"body templates compile", func(d map[string]any) { with(d, 4)["body"] = map[string]any{"order": "{{ .steps[ }}"} }, "steps[4].with.body.order"},
		{"header templates compile", func(d map[string]any) { with(d, 0)["headers"] = map[string]any{"X-Id": "{{ ) }}"} }, "steps[0].with.headers.X-Id"},
		{"inputSchema is valid JSON Schema", func(d map[string]any) { d["inputSchema"] = map[string]any{"type": 5} }, "inputSchema.type"},
		{"inputSchema loads no remote $ref", func(d map[string]any) {
			d["inputSchema"] = map[string]any{"$ref": "https://schemas.example/order.json"}
		}, "inputSchema"},
		{"inputSchema loads no file $ref", func(d map[string]any) { d["inputSchema"] = map[string]any{"$ref": "file:///etc/passwd"} }, "inputSchema"},
		{"trigger is required", func(d map[string]any) { delete(d, "trigger") }, "trigger"},
		{"trigger type is known", func(d map[string]any) { trigger(d)["type"] = "email" }, "trigger.type"},
		{"cron has five fields", schedule(map[string]any{"cron": "0 0 9 * * MON", "timezone": "UTC"}), "trigger.cron"},
		{"cron parses", schedule(map[string]any{"cron": "61 9 * * *", "timezone": "UTC"}), "trigger.cron"},
		{"cron needs an IANA timezone", schedule(map[string]any{"cron": "0 9 * * *", "timezone": "Mars/Olympus"}), "trigger.timezone"},
		{"cron does not restrict both day fields", schedule(map[string]any{"cron": "0 9 1 * MON", "timezone": "UTC"}), "trigger.cron"},
		{"every fires at most once a minute", schedule(map[string]any{"every": "30s"}), "trigger.every"},
		{"every parses", schedule(map[string]any{"every": "fortnightly"}), "trigger.every"},
		{"a schedule has cron or every", schedule(map[string]any{}), "trigger.cron"},
	}
	before, _ := c.list(t, "?limit=100")
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			for _, method := range []string{"POST", "PUT"} {
				path := ""
				if method == "PUT" {
					path = "/wf_01jc0000000000000000000000" // the body is checked before the id is looked up
				}
				r := c.do(t, method, path, nil, edit(t, tt.change))
				if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
					t.Fatalf("%s: %d %s", method, r.Status, r.Body)
				}
				var got []string
				for _, d := range r.JSON(t)["error"].(map[string]any)["details"].([]any) {
					got = append(got, d.(map[string]any)["field"].(string))
				}
				if !slices.Contains(got, tt.field) {
					t.Fatalf("%s: details name %v, want %s: %s", method, got, tt.field, r.Body)
				}
			}
		})
	}
	t.Run("a definition over 256 KiB is 413", func(t *testing.T) {
		r := c.do(t, "POST", "", nil, edit(t, func(d map[string]any) { d["description"] = strings.Repeat("x", 257<<10) }))
		if r.Status != 413 || r.ErrorCode(t) != "PAYLOAD_TOO_LARGE" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("a body that is not JSON is 400, and one that is not application/json 415", func(t *testing.T) {
		if r := c.do(t, "POST", "", nil, []byte(`{"name":`)); r.Status != 400 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if r := gatewaytest.Call(t, "POST", c.url(""), key, "text/plain", []byte(example)); r.Status != 415 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("nothing refused was stored", func(t *testing.T) {
		if after, _ := c.list(t, "?limit=100"); len(after) != len(before) {
			t.Fatalf("%d workflows after, %d before", len(after), len(before))
		}
	})
	t.Run("the example with the account's own connection is accepted", func(t *testing.T) {
		c.create(t, []byte(example))
	})
}

func TestPagination(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_pages")
	c := client{env, key}
	var made []string
	for i := range 7 {
		made = append(made, c.create(t, named(fmt.Sprintf("w%d", i)))["id"].(string))
	}
	slices.Reverse(made) // newest first
	var seen []string
	query := "?limit=3"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than 7 workflows need")
		}
		items, next := c.list(t, query)
		if len(items) > 3 {
			t.Fatalf("a page of %d, limit 3", len(items))
		}
		for _, it := range items {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		if next == nil {
			break
		}
		query = "?limit=3&cursor=" + next.(string)
	}
	if !slices.Equal(seen, made) {
		t.Fatalf("pages gave %v, want newest first %v", seen, made)
	}
	for _, q := range []string{"?cursor=bm90LWEtY3Vyc29y", "?limit=0", "?limit=101"} {
		if r := c.do(t, "GET", q, nil, nil); r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}

// TestAccountsAreIsolated: account B can neither list, read, change nor
// delete A's workflows (404 or absent, never A's data), and A's cursor
// reads only B's own workflows in B's hands.
func TestAccountsAreIsolated(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	keyA, _ := env.MustKey(t, "acct_a")
	keyB, _ := env.MustKey(t, "acct_b")
	a, b := client{env, keyA}, client{env, keyB}
	var idsA []string
	for i := range 3 {
		idsA = append(idsA, a.create(t, named(fmt.Sprintf("secret plan %d", i)))["id"].(string))
	}
	own := b.create(t, named("b's own"))["id"].(string)
	_, cursorA := a.list(t, "?limit=1")

	items, _ := b.list(t, "?limit=100")
	if len(items) != 1 || items[0].(map[string]any)["id"] != own {
		t.Fatalf("B lists %v", items)
	}
	if r := b.do(t, "GET", "?limit=100&cursor="+cursorA.(string), nil, nil); r.Status != 200 || bytes.Contains(r.Body, []byte("secret plan")) {
		t.Fatalf("B with A's cursor: %d %s", r.Status, r.Body)
	}
	for _, id := range idsA {
		for _, req := range []struct {
			method, path string
			header       http.Header
			body         []byte
		}{
			{"GET", "/" + id, nil, nil}, {"GET", "/" + id + "?version=1", nil, nil},
			{"PUT", "/" + id, nil, named("taken over")}, {"PUT", "/" + id, ifMatch(`"1"`), named("taken over")},
			{"DELETE", "/" + id, nil, nil},
		} {
			r := b.do(t, req.method, req.path, req.header, req.body)
			if r.Status != 404 || bytes.Contains(r.Body, []byte("secret plan")) {
				t.Fatalf("B: %s %s: %d %s", req.method, req.path, r.Status, r.Body)
			}
		}
		got := a.do(t, "GET", "/"+id, nil, nil)
		if got.Status != 200 || got.Data(t)["version"] != 1.0 || !strings.HasPrefix(got.Data(t)["name"].(string), "secret plan") {
			t.Fatalf("A's workflow after B's tries: %d %s", got.Status, got.Body)
		}
	}
	if items, _ := a.list(t, "?limit=100"); len(items) != 3 {
		t.Fatalf("A lists %d workflows", len(items))
	}
}

func TestScopes(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	writer, _ := env.MustKey(t, "acct_scopes", domain.ScopeWorkflowsWrite)
	reader, _ := env.MustKey(t, "acct_scopes", domain.ScopeWorkflowsRead)
	other, _ := env.MustKey(t, "acct_scopes", domain.ScopeWorkflowsExecute, domain.ScopeRunsRead, domain.ScopeConnectionsWrite)
	id := client{env, writer}.create(t, named("scoped"))["id"].(string)

	reads := [][3]string{{"GET", "", ""}, {"GET", "/" + id, ""}}
	writes := [][3]string{{"POST", "", string(named("x"))}, {"PUT", "/" + id, string(named("x"))}, {"DELETE", "/" + id, ""}}
	check := func(key string, reqs [][3]string, want int) {
		t.Helper()
		for _, req := range reqs {
			var body []byte
			if req[2] != "" {
				body = []byte(req[2])
			}
			r := client{env, key}.do(t, req[0], req[1], nil, body)
			if r.Status != want {
				t.Fatalf("%s %s: %d, want %d: %s", req[0], req[1], r.Status, want, r.Body)
			}
			if want == 403 {
				gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
			}
		}
	}
	check(reader, writes, 403)
	check(writer, reads, 403)
	check(other, append(reads, writes...), 403)
	check(reader, reads, 200)
	if r := (client{env, reader}).do(t, "GET", "/"+id, nil, nil); r.Data(t)["version"] != 1.0 {
		t.Fatalf("the 403s changed the workflow: %s", r.Body)
	}
}

// TestWebhookWorkflows: a webhook workflow's secret is shown by the answer
// that made it and by no other; its URL is in every read; the secret is
// stored sealed and follows the trigger.
func TestWebhookWorkflows(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_hooks")
	c := client{env, key}
	hook := []byte(`{"name":"hook","trigger":{"type":"webhook"},"steps":[{"id":"a","type":"transform","with":{"jq":".input"}}]}`)
	secretItem := func(id string) bool { return itemExists(t, env, store.WebhookSecretPK(id), store.SortWebhookSecret) }

	created := c.create(t, hook)
	id := created["id"].(string)
	webhook, _ := created["webhook"].(map[string]any)
	secret, _ := webhook["secret"].(string)
	url, _ := webhook["url"].(string)
	if secret == "" || url != c.env.URL+routes.BasePath+"/webhooks/"+id {
		t.Fatalf("create answered webhook %v (want the URL on the host the request came in on)", webhook)
	}
	if !secretItem(id) {
		t.Fatal("no secret item was stored")
	}
	raw, err := env.Table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Table.Name), Key: store.ItemKey(store.WebhookSecretPK(id), store.SortWebhookSecret),
	})
	if err != nil || strings.Contains(fmt.Sprint(raw.Item), secret) {
		t.Fatalf("the secret item holds the plaintext (or could not be read: %v)", err)
	}

	shows := func(r gatewaytest.Response) (url, secret bool) {
		return bytes.Contains(r.Body, []byte("/webhooks/"+id)), bytes.Contains(r.Body, []byte(`"secret"`))
	}
	for _, r := range []gatewaytest.Response{c.do(t, "GET", "/"+id, nil, nil), c.do(t, "GET", "", nil, nil), c.do(t, "GET", "/"+id+"?version=1", nil, nil)} {
		if hasURL, hasSecret := shows(r); r.Status != 200 || !hasURL || hasSecret {
			t.Fatalf("a read shows url %v, secret %v: %s", hasURL, hasSecret, r.Body)
		}
	}
	t.Run("a change that keeps the webhook trigger shows no secret and keeps it", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, bytes.Replace(hook, []byte(`"hook"`), []byte(`"hook 2"`), 1))
		if hasURL, hasSecret := shows(r); r.Status != 200 || !hasURL || hasSecret || !secretItem(id) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("a change away from webhook drops the secret and the URL", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, named("manual now"))
		if hasURL, _ := shows(r); r.Status != 200 || hasURL || secretItem(id) {
			t.Fatalf("%d %s (secret item there: %v)", r.Status, r.Body, secretItem(id))
		}
	})
	t.Run("the change that makes it a webhook workflow again shows a new secret, once", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, hook)
		again, _ := r.Data(t)["webhook"].(map[string]any)["secret"].(string)
		if r.Status != 200 || again == "" || again == secret || !secretItem(id) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if _, hasSecret := shows(c.do(t, "GET", "/"+id, nil, nil)); hasSecret {
			t.Fatal("a read after shows the secret")
		}
	})
	t.Run("delete drops the secret", func(t *testing.T) {
		if r := c.do(t, "DELETE", "/"+id, nil, nil); r.Status != 200 || secretItem(id) {
			t.Fatalf("%d %s (secret item there: %v)", r.Status, r.Body, secretItem(id))
		}
	})
	t.Run("a manual workflow has no secret and no webhook", func(t *testing.T) {
		m := c.create(t, named("plain"))
		if m["webhook"] != nil || secretItem(m["id"].(string)) {
			t.Fatalf("%v", m)
		}
	})
}

// TestNotifyWorkflows: a workflow's notification secret is shown by the
// answer that made it (the create, or the change that gave it notify) and
// by no other; it is stored sealed, kept by a change that keeps notify,
// dropped by one that removes it and by the delete; the head says whether
// there is one, which is what its roll reads.
func TestNotifyWorkflows(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	key, _ := env.MustKey(t, "acct_notes")
	c := client{env, key}
	notify := func(url string) []byte {
		return []byte(`{"name":"noted","trigger":{"type":"manual"},"notify":{"url":"` + url + `","events":["run.failed","run.succeeded"]},"steps":[{"id":"a","type":"transform","with":{"jq":".input"}}]}`)
	}
	secretItem := func(id string) bool { return itemExists(t, env, store.NotifySecretPK(id), store.SortNotifySecret) }
	notifySecrets := webhooks.NewNotifySecrets(webhooksdb.NewNotify(env.Table.Client, env.Table.Name), env.Sealer)
	signsWith := func(id, secret string) bool {
		t.Helper()
		signing, err := notifySecrets.SigningSecrets(context.Background(), "acct_notes", id, time.Now())
		if err != nil {
			t.Fatalf("signing secrets of %s: %v", id, err)
		}
		return slices.Equal(signing, []string{secret})
	}
	roll := func(id string) gatewaytest.Response {
		return gatewaytest.Call(t, "POST", env.URL+strings.Replace(routes.RollNotifySecret.Path, "{id}", id, 1), key, "", nil)
	}

	created := c.create(t, notify("https://hooks.example/runs"))
	id := created["id"].(string)
	secret, _ := created["notifySecret"].(string)
	if !strings.HasPrefix(secret, webhooks.NotifySecretPrefix) || !secretItem(id) || !signsWith(id, secret) {
		t.Fatalf("create answered notifySecret %q (item stored: %v)", secret, secretItem(id))
	}
	if n, _ := created["notify"].(map[string]any); n["url"] != "https://hooks.example/runs" || created["webhook"] != nil {
		t.Fatalf("create answered notify %v, webhook %v", created["notify"], created["webhook"])
	}
	raw, err := env.Table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Table.Name), Key: store.ItemKey(store.NotifySecretPK(id), store.SortNotifySecret),
	})
	if err != nil || strings.Contains(fmt.Sprint(raw.Item), strings.TrimPrefix(secret, webhooks.NotifySecretPrefix)) {
		t.Fatalf("the secret item holds the plaintext (or could not be read: %v)", err)
	}
	shows := func(r gatewaytest.Response) bool { return bytes.Contains(r.Body, []byte(`"notifySecret"`)) }
	for _, r := range []gatewaytest.Response{c.do(t, "GET", "/"+id, nil, nil), c.do(t, "GET", "", nil, nil), c.do(t, "GET", "/"+id+"?version=1", nil, nil)} {
		if r.Status != 200 || shows(r) {
			t.Fatalf("a read shows the secret: %s", r.Body)
		}
	}
	if got := c.do(t, "GET", "/"+id, nil, nil).Data(t)["notify"].(map[string]any); !slices.Equal(got["events"].([]any), []any{"run.failed", "run.succeeded"}) {
		t.Fatalf("a read shows notify %v", got)
	}

	t.Run("a change that keeps notify, to another URL, shows no secret and keeps it", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, notify("https://hooks.example/other"))
		if r.Status != 200 || shows(r) || !signsWith(id, secret) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("its roll answers a new secret, which signs from then on", func(t *testing.T) {
		r := roll(id)
		rolled, _ := r.Data(t)["secret"].(string)
		if r.Status != 201 || !strings.HasPrefix(rolled, webhooks.NotifySecretPrefix) || rolled == secret || !signsWith(id, rolled) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		secret = rolled
	})
	t.Run("a change that removes notify drops the secret, and a roll is then 409", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, named("no notify now"))
		if r.Status != 200 || shows(r) || r.Data(t)["notify"] != nil || secretItem(id) {
			t.Fatalf("%d %s (secret item there: %v)", r.Status, r.Body, secretItem(id))
		}
		if r := roll(id); r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
			t.Fatalf("roll: %d %s", r.Status, r.Body)
		}
	})
	t.Run("the change that gives it notify again shows a new secret, once", func(t *testing.T) {
		r := c.do(t, "PUT", "/"+id, nil, notify("https://hooks.example/runs"))
		again, _ := r.Data(t)["notifySecret"].(string)
		if r.Status != 200 || again == "" || again == secret || !signsWith(id, again) {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if shows(c.do(t, "GET", "/"+id, nil, nil)) {
			t.Fatal("a read after shows the secret")
		}
	})
	t.Run("a webhook workflow with notify gets both secrets, and the delete drops both", func(t *testing.T) {
		both := c.create(t, bytes.Replace(notify("https://hooks.example/runs"), []byte(`"manual"`), []byte(`"webhook"`), 1))
		bothID := both["id"].(string)
		webhookSecret, _ := both["webhook"].(map[string]any)["secret"].(string)
		notifySecret, _ := both["notifySecret"].(string)
		if !strings.HasPrefix(webhookSecret, webhooks.SecretPrefix) || !strings.HasPrefix(notifySecret, webhooks.NotifySecretPrefix) ||
			!secretItem(bothID) || !itemExists(t, env, store.WebhookSecretPK(bothID), store.SortWebhookSecret) {
			t.Fatalf("create answered %v", both)
		}
		if r := c.do(t, "DELETE", "/"+bothID, nil, nil); r.Status != 200 || secretItem(bothID) || itemExists(t, env, store.WebhookSecretPK(bothID), store.SortWebhookSecret) {
			t.Fatalf("%d %s (notify secret there: %v)", r.Status, r.Body, secretItem(bothID))
		}
	})
	t.Run("delete drops the secret, and a roll is then 404", func(t *testing.T) {
		if r := c.do(t, "DELETE", "/"+id, nil, nil); r.Status != 200 || secretItem(id) {
			t.Fatalf("%d %s (secret item there: %v)", r.Status, r.Body, secretItem(id))
		}
		if r := roll(id); r.Status != 404 {
			t.Fatalf("roll: %d %s", r.Status, r.Body)
		}
	})
	t.Run("a workflow without notify has no secret", func(t *testing.T) {
		m := c.create(t, named("plain"))
		if m["notifySecret"] != nil || m["notify"] != nil || secretItem(m["id"].(string)) {
			t.Fatalf("%v", m)
		}
	})
}
