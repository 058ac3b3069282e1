package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

// api is a running API with one account's key and the helpers the tests
// share.
type api struct {
	env *gatewaytest.Env
	url string // .../api/v1/connections
}

func mustStart(tb testing.TB, opts gatewaytest.Options) api {
	tb.Helper()
	env := gatewaytest.MustStart(tb, opts)
	return api{env: env, url: env.URL + routes.ListConnections.Path}
}

func (a api) create(tb testing.TB, key, body string) gatewaytest.Response {
	tb.Helper()
	return gatewaytest.Call(tb, "POST", a.url, key, "application/json", []byte(body))
}

func (a api) mustCreate(tb testing.TB, key, body string) map[string]any {
	tb.Helper()
	r := a.create(tb, key, body)
	if r.Status != 201 {
		tb.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.Data(tb)
}

func (a api) one(tb testing.TB, method, id, key, body string) gatewaytest.Response {
	tb.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return gatewaytest.Call(tb, method, a.url+"/"+id, key, contentType, []byte(body))
}

// listAll follows nextCursor to the end and returns every id, in order.
func (a api) listAll(tb testing.TB, key string, limit int) (ids []string, pages int) {
	tb.Helper()
	cursor := ""
	for {
		url := fmt.Sprintf("%s?limit=%d", a.url, limit)
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		r := gatewaytest.Call(tb, "GET", url, key, "", nil)
		if r.Status != 200 {
			tb.Fatalf("list: %d %s", r.Status, r.Body)
		}
		body := r.JSON(tb)
		items, _ := body["data"].([]any)
		if len(items) > limit {
			tb.Fatalf("a page of %d items for limit %d", len(items), limit)
		}
		for _, it := range items {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		pages++
		next, _ := body["meta"].(map[string]any)["nextCursor"].(string)
		if next == "" {
			return ids, pages
		}
		cursor = next
	}
}

// requireView checks a connection as a response shows it: exactly the five
// public fields.
func requireView(tb testing.TB, data map[string]any, name, typ string) {
	tb.Helper()
	var fields []string
	for k := range data {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if want := []string{"createdAt", "id", "name", "type", "updatedAt"}; !slices.Equal(fields, want) {
		tb.Fatalf("fields %v, want exactly %v", fields, want)
	}
	if data["name"] != name || data["type"] != typ || !strings.HasPrefix(data["id"].(string), "conn_") {
		tb.Fatalf("got %v, want name %q type %q", data, name, typ)
	}
}

func TestConnectionLifecycle(t *testing.T) {
	var logs gatewaytest.LockedBuffer
	a := mustStart(t, gatewaytest.Options{Logs: &logs})
	key, _ := a.env.MustKey(t, "acct_life")
	const (
		token        = "life-bearer-token-4f1c9a"
		rotatedUser  = "life-user-77ad"
		rotatedPass  = "life-password-c0ffee"
		headerSecret = "life-header-value-9e2b"
	)
	secretsUsed := []string{token, rotatedUser, rotatedPass, headerSecret}
	var bodies [][]byte
	record := func(r gatewaytest.Response) gatewaytest.Response {
		bodies = append(bodies, r.Body)
		return r
	}
	var id, createdAt string

	t.Run("creating a connection answers 201 with its id, name, type and times, and a Location", func(t *testing.T) {
		r := record(a.create(t, key, `{"name":"  Shop API ","type":"bearer","credentials":{"token":"`+token+`"}}`))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.Data(t)
		requireView(t, data, "Shop API", "bearer")
		id, createdAt = data["id"].(string), data["createdAt"].(string)
		if data["updatedAt"] != createdAt {
			t.Errorf("a new connection's updatedAt %v differs from its createdAt %v", data["updatedAt"], createdAt)
		}
		if got := r.Header.Get("Location"); got != routes.BasePath+"/connections/"+id {
			t.Errorf("Location = %q", got)
		}
	})

	t.Run("it reads back by id and is listed", func(t *testing.T) {
		r := record(a.one(t, "GET", id, key, ""))
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		requireView(t, r.Data(t), "Shop API", "bearer")
		if r.Data(t)["createdAt"] != createdAt {
			t.Errorf("createdAt %v, want %v", r.Data(t)["createdAt"], createdAt)
		}
		listed := record(gatewaytest.Call(t, "GET", a.url, key, "", nil))
		items := listed.JSON(t)["data"].([]any)
		if len(items) != 1 {
			t.Fatalf("listed %d, want 1: %s", len(items), listed.Body)
		}
		requireView(t, items[0].(map[string]any), "Shop API", "bearer")
	})

	t.Run("PUT replaces the name, type and credentials and keeps the id and createdAt", func(t *testing.T) {
		r := record(a.one(t, "PUT", id, key, `{"name":"Shop API (basic)","type":"basic","credentials":{"username":"`+rotatedUser+`","password":"`+rotatedPass+`"}}`))
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.Data(t)
		requireView(t, data, "Shop API (basic)", "basic")
		if data["id"] != id || data["createdAt"] != createdAt || data["updatedAt"].(string) < createdAt {
			t.Errorf("after PUT: %v (id %s, createdAt %s)", data, id, createdAt)
		}
		if got := record(a.one(t, "GET", id, key, "")).Data(t); got["name"] != "Shop API (basic)" || got["type"] != "basic" {
			t.Errorf("GET after PUT: %v", got)
		}
		creds, err := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer).Credentials(context.Background(), "acct_life", id)
		if err != nil {
			t.Fatal(err)
		}
		if creds != (connections.Credentials{Type: connections.TypeBasic, Username: rotatedUser, Password: rotatedPass}) {
			t.Error("the stored credentials are not the ones the PUT gave")
		}
	})

	t.Run("a header connection may set Authorization with another scheme", func(t *testing.T) {
		data := a.mustCreate(t, key, `{"name":"Notifier","type":"header","credentials":{"name":"Authorization","value":"Token `+headerSecret+`"}}`)
		requireView(t, data, "Notifier", "header")
	})

	t.Run("DELETE answers the connection as it was, then it is 404 everywhere and not listed", func(t *testing.T) {
		r := record(a.one(t, "DELETE", id, key, ""))
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		requireView(t, r.Data(t), "Shop API (basic)", "basic")
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			body := ""
			if method == "PUT" {
				body = `{"name":"again","type":"bearer","credentials":{"token":"t"}}`
			}
			if r := record(a.one(t, method, id, key, body)); r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" {
				t.Errorf("%s after delete: %d %s", method, r.Status, r.Body)
			}
		}
		ids, _ := a.listAll(t, key, 100)
		if slices.Contains(ids, id) {
			t.Error("a deleted connection is listed")
		}
		if _, err := connectionsdb.New(a.env.Table.Client, a.env.Table.Name).Exists(context.Background(), "acct_life", id); err != nil {
			t.Fatal(err)
		}
		if exists, _ := connectionsdb.New(a.env.Table.Client, a.env.Table.Name).Exists(context.Background(), "acct_life", id); exists {
			t.Error("Exists reports a deleted connection")
		}
	})

	t.Run("a PUT to an id that was never made is 404 and makes nothing", func(t *testing.T) {
		ghost := "conn_" + gatewaytest.SomeID
		r := a.one(t, "PUT", ghost, key, `{"name":"ghost","type":"bearer","credentials":{"token":"t"}}`)
		if r.Status != 404 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if exists, _ := connectionsdb.New(a.env.Table.Client, a.env.Table.Name).Exists(context.Background(), "acct_life", ghost); exists {
			t.Error("a PUT to a missing id created it")
		}
	})

	t.Run("no credential is in any response or log line", func(t *testing.T) {
		all := bytes.Join(bodies, []byte("\n"))
		for _, s := range secretsUsed {
			if bytes.Contains(all, []byte(s)) {
				t.Errorf("a response holds %q", s)
			}
			if strings.Contains(logs.String(), s) {
				t.Errorf("the logs hold %q", s)
			}
		}
		if !strings.Contains(logs.String(), id) {
			t.Error("the logs do not name the connection: this test would not see a credential logged beside it")
		}
	})
}

func TestValidation(t *testing.T) {
	a := mustStart(t, gatewaytest.Options{})
	key, _ := a.env.MustKey(t, "acct_valid")
	const marker = "s3cr3t-marker"
	body := func(name, typ, creds string) string {
		return fmt.Sprintf(`{"name":%q,"type":%q,"credentials":%s}`, name, typ, creds)
	}
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"a missing name", `{"type":"bearer","credentials":{"token":"x"}}`, "name"},
		{"a blank name", body("   ", "bearer", `{"token":"x"}`), "name"},
		{"a name over 200 characters", body(strings.Repeat("n", 201), "bearer", `{"token":"x"}`), "name"},
		{"a name with a control character", `{"name":"a\u0007b","type":"bearer","credentials":{"token":"x"}}`, "name"},
		{"a missing type", `{"name":"n","credentials":{"token":"x"}}`, "type"},
		{"an unknown type", body("n", "oauth2", `{"token":"x"}`), "type"},
		{"a type that is not a string", `{"name":"n","type":5,"credentials":{"token":"x"}}`, "type"},
		{"missing credentials", `{"name":"n","type":"bearer"}`, "credentials"},
		{"credentials given as null", `{"name":"n","type":"bearer","credentials":null}`, "credentials"},
		{"credentials that are not an object", `{"name":"n","type":"bearer","credentials":"` + marker + `"}`, "credentials"},
		{"an unknown credential field", body("n", "bearer", `{"token":"x","scope":"all"}`), "credentials.scope"},
		{"an unknown top-level field", `{"name":"n","type":"bearer","credentials":{"token":"x"},"token":"x"}`, "token"},
		{"a field of another type", body("n", "bearer", `{"token":"x","username":"u"}`), "credentials.username"},
		{"a bearer without a token", body("n", "bearer", `{}`), "credentials.token"},
		{"an empty token", body("n", "bearer", `{"token":""}`), "credentials.token"},
		{"a token over 4096 bytes", body("n", "bearer", `{"token":"`+marker+strings.Repeat("t", 4096)+`"}`), "credentials.token"},
		{"a token with CR LF (header injection)", body("n", "bearer", `{"token":"`+marker+`\r\nX-Evil: 1"}`), "credentials.token"},
		{"a token with NUL", body("n", "bearer", `{"token":"`+marker+`\u0000"}`), "credentials.token"},
		{"a token with surrounding space", body("n", "bearer", `{"token":" `+marker+`"}`), "credentials.token"},
		{"a token given as null", body("n", "bearer", `{"token":null}`), "credentials.token"},
		{"a basic without a username", body("n", "basic", `{"password":"`+marker+`"}`), "credentials.username"},
		{"a basic without a password", body("n", "basic", `{"username":"u"}`), "credentials.password"},
		{"an empty username", body("n", "basic", `{"username":"","password":"p"}`), "credentials.username"},
		{"a username with a colon", body("n", "basic", `{"username":"`+marker+`:x","password":"p"}`), "credentials.username"},
		{"a password with a line feed", body("n", "basic", `{"username":"u","password":"`+marker+`\n"}`), "credentials.password"},
		{"a header without a name", body("n", "header", `{"value":"`+marker+`"}`), "credentials.name"},
		{"a header without a value", body("n", "header", `{"name":"X-Api-Key"}`), "credentials.value"},
		{"a header name that is not a token", body("n", "header", `{"name":"X Api Key","value":"v"}`), "credentials.name"},
		{"a header name with a colon", body("n", "header", `{"name":"X-Api-Key:","value":"v"}`), "credentials.name"},
		{"a header name over 256 characters", body("n", "header", `{"name":"`+strings.Repeat("x", 257)+`","value":"v"}`), "credentials.name"},
		{"the Host header", body("n", "header", `{"name":"Host","value":"v"}`), "credentials.name"},
		{"Content-Length", body("n", "header", `{"name":"content-length","value":"v"}`), "credentials.name"},
		{"Transfer-Encoding", body("n", "header", `{"name":"Transfer-Encoding","value":"v"}`), "credentials.name"},
		{"Idempotency-Key, which the runner sets", body("n", "header", `{"name":"IDEMPOTENCY-KEY","value":"v"}`), "credentials.name"},
		{"a Proxy- header", body("n", "header", `{"name":"Proxy-Authorization","value":"v"}`), "credentials.name"},
		{"a header value with CR LF", body("n", "header", `{"name":"X-Api-Key","value":"`+marker+`\r\nHost: evil"}`), "credentials.value"},
		{"a header value with a trailing space", body("n", "header", `{"name":"X-Api-Key","value":"`+marker+` "}`), "credentials.value"},
		{"an empty header value", body("n", "header", `{"name":"X-Api-Key","value":""}`), "credentials.value"},
	}
	ids, _ := a.listAll(t, key, 100)
	before := len(ids)
	existing := a.mustCreate(t, key, body("kept", "bearer", `{"token":"kept-token"}`))["id"].(string)
	opener := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer)
	for _, tt := range tests {
		for _, method := range []string{"POST", "PUT"} {
			t.Run(method+" with "+tt.name+" is 400 naming "+tt.field, func(t *testing.T) {
				var r gatewaytest.Response
				if method == "POST" {
					r = a.create(t, key, tt.body)
				} else {
					r = a.one(t, "PUT", existing, key, tt.body)
				}
				if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
				if len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
					t.Fatalf("details %v, want the first on %q", details, tt.field)
				}
				if bytes.Contains(r.Body, []byte(marker)) {
					t.Fatalf("the answer repeats the credential: %s", r.Body)
				}
			})
		}
	}
	t.Run("bodies that are fine: an empty basic password, a header named like Authorization", func(t *testing.T) {
		a.mustCreate(t, key, body("stripe-like", "basic", `{"username":"sk_test_key","password":""}`))
		a.mustCreate(t, key, body("custom", "header", `{"name":"X-Custom_Auth.v2","value":"Bearer x y"}`))
	})
	t.Run("bad bodies change nothing", func(t *testing.T) {
		ids, _ := a.listAll(t, key, 100)
		if len(ids) != before+3 {
			t.Errorf("%d connections, want %d: only the three good requests made one", len(ids), before+3)
		}
		got := a.one(t, "GET", existing, key, "").Data(t)
		if got["name"] != "kept" || got["type"] != "bearer" || got["updatedAt"] != got["createdAt"] {
			t.Errorf("a refused PUT changed the connection: %v", got)
		}
		creds, err := opener.Credentials(context.Background(), "acct_valid", existing)
		if err != nil || creds.Token != "kept-token" {
			t.Errorf("a refused PUT changed the credentials (err %v)", err)
		}
	})
}

func TestPagination(t *testing.T) {
	a := mustStart(t, gatewaytest.Options{})
	key, _ := a.env.MustKey(t, "acct_pages")
	var made []string
	for i := range 7 {
		made = append(made, a.mustCreate(t, key, fmt.Sprintf(`{"name":"c%d","type":"bearer","credentials":{"token":"t%d"}}`, i, i))["id"].(string))
	}
	newestFirst := slices.Clone(made)
	slices.Reverse(newestFirst)

	t.Run("pages of 3 give every connection once, newest first, in 3 pages ending with a null cursor", func(t *testing.T) {
		ids, pages := a.listAll(t, key, 3)
		if !slices.Equal(ids, newestFirst) || pages != 3 {
			t.Fatalf("%d pages %v, want 3 pages %v", pages, ids, newestFirst)
		}
	})
	t.Run("a page exactly as long as what is left is the last", func(t *testing.T) {
		ids, pages := a.listAll(t, key, 7)
		if !slices.Equal(ids, newestFirst) || pages != 1 {
			t.Fatalf("%d pages %v", pages, ids)
		}
	})
	t.Run("the default page holds them all", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", a.url, key, "", nil)
		if n := len(r.JSON(t)["data"].([]any)); n != 7 || r.JSON(t)["meta"].(map[string]any)["nextCursor"] != nil {
			t.Fatalf("%d items, meta %v", n, r.JSON(t)["meta"])
		}
	})
	for _, tt := range []struct{ name, query, field string }{
		{"a cursor no listing made", "?cursor=bm90LWEtY3Vyc29y", "cursor"},
		{"a cursor of the key listing", "?cursor=" + store.EncodeCursor("key_"+gatewaytest.SomeID), "cursor"},
		{"a limit of 0", "?limit=0", "limit"},
		{"a limit over 100", "?limit=101", "limit"},
	} {
		t.Run(tt.name+" is 400 naming "+tt.field, func(t *testing.T) {
			r := gatewaytest.Call(t, "GET", a.url+tt.query, key, "", nil)
			details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
			if r.Status != 400 || len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	a := mustStart(t, gatewaytest.Options{})
	keyA, _ := a.env.MustKey(t, "acct_iso_a")
	keyB, _ := a.env.MustKey(t, "acct_iso_b")
	id := a.mustCreate(t, keyA, `{"name":"A's","type":"bearer","credentials":{"token":"a-token-5150"}}`)["id"].(string)
	a.mustCreate(t, keyB, `{"name":"B's","type":"bearer","credentials":{"token":"b-token"}}`)

	t.Run("B does not list A's connection", func(t *testing.T) {
		ids, _ := a.listAll(t, keyB, 100)
		if len(ids) != 1 || slices.Contains(ids, id) {
			t.Fatalf("B lists %v", ids)
		}
	})
	t.Run("a cursor naming A's connection pages B's own listing only", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", a.url+"?cursor="+store.EncodeCursor(id), keyB, "", nil)
		if r.Status == 200 && bytes.Contains(r.Body, []byte(id)) {
			t.Fatalf("B reached A's connection through a cursor: %s", r.Body)
		}
	})
	for _, method := range []string{"GET", "PUT", "DELETE"} {
		t.Run("B's "+method+" of A's connection is 404", func(t *testing.T) {
			body := ""
			if method == "PUT" {
				body = `{"name":"taken","type":"bearer","credentials":{"token":"b-took-it"}}`
			}
			r := a.one(t, method, id, keyB, body)
			if r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if bytes.Contains(r.Body, []byte("A's")) {
				t.Fatalf("the 404 shows A's data: %s", r.Body)
			}
		})
	}
	t.Run("A's connection is as it was, credentials included", func(t *testing.T) {
		got := a.one(t, "GET", id, keyA, "").Data(t)
		if got["name"] != "A's" || got["updatedAt"] != got["createdAt"] {
			t.Fatalf("%v", got)
		}
		opener := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer)
		creds, err := opener.Credentials(context.Background(), "acct_iso_a", id)
		if err != nil || creds.Token != "a-token-5150" {
			t.Fatalf("A's credentials changed (err %v)", err)
		}
		if _, err := opener.Credentials(context.Background(), "acct_iso_b", id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("opening A's connection as B: %v, want not found", err)
		}
	})
}

func TestScopes(t *testing.T) {
	a := mustStart(t, gatewaytest.Options{})
	admin, _ := a.env.MustKey(t, "acct_scopes")
	reader, _ := a.env.MustKey(t, "acct_scopes", domain.ScopeConnectionsRead)
	writer, _ := a.env.MustKey(t, "acct_scopes", domain.ScopeConnectionsWrite)
	other, _ := a.env.MustKey(t, "acct_scopes", domain.ScopeWorkflowsRead, domain.ScopeWorkflowsWrite)
	id := a.mustCreate(t, admin, `{"name":"n","type":"bearer","credentials":{"token":"t"}}`)["id"].(string)
	put := `{"name":"m","type":"bearer","credentials":{"token":"u"}}`

	calls := []struct {
		method, path, body string
		scope              domain.Scope
	}{
		{"GET", "", "", domain.ScopeConnectionsRead},
		{"GET", "/" + id, "", domain.ScopeConnectionsRead},
		{"POST", "", put, domain.ScopeConnectionsWrite},
		{"PUT", "/" + id, put, domain.ScopeConnectionsWrite},
	}
	for _, c := range calls {
		for _, k := range []struct {
			name   string
			key    string
			scopes []domain.Scope
		}{
			{"connections:read", reader, []domain.Scope{domain.ScopeConnectionsRead}},
			{"connections:write", writer, []domain.Scope{domain.ScopeConnectionsWrite}},
			{"workflows scopes", other, nil},
		} {
			allowed := slices.Contains(k.scopes, c.scope)
			t.Run(fmt.Sprintf("%s %s with a %s key is allowed %v", c.method, c.path, k.name, allowed), func(t *testing.T) {
				contentType := ""
				if c.body != "" {
					contentType = "application/json"
				}
				r := gatewaytest.Call(t, c.method, a.url+c.path, k.key, contentType, []byte(c.body))
				if allowed && r.Status >= 300 || !allowed && r.Status != 403 {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if !allowed {
					gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
				}
			})
		}
	}
	t.Run("DELETE needs connections:write", func(t *testing.T) {
		for _, k := range []string{reader, other} {
			if r := a.one(t, "DELETE", id, k, ""); r.Status != 403 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		if r := a.one(t, "DELETE", id, writer, ""); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

// rawItems reads every item of the table three ways (Scan, the account's
// Query, and GetItem of each connection), so the proof below covers what a
// copy of the table holds, and what each access pattern reads.
func rawItems(t *testing.T, table dynamotest.Table, accounts []string, ids map[string]string) []map[string]types.AttributeValue {
	t.Helper()
	ctx := context.Background()
	var items []map[string]types.AttributeValue
	scan, err := table.Client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table.Name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	items = append(items, scan.Items...)
	for _, account := range accounts {
		q, err := table.Client.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(table.Name),
			KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, q.Items...)
	}
	for id, account := range ids {
		g, err := table.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.ConnectionSK(id)), ConsistentRead: aws.Bool(true),
		})
		if err != nil || g.Item == nil {
			t.Fatalf("GetItem %s: %v", id, err)
		}
		items = append(items, g.Item)
	}
	return items
}

// encodings are the forms a secret could leak in: as is, base64 (both
// alphabets, padded or not), hex, and JSON-quoted.
func encodings(secret string) []string {
	b := []byte(secret)
	quoted, _ := json.Marshal(secret)
	return []string{
		secret, string(quoted), hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}

func TestTheTableHoldsNoPlaintextCredential(t *testing.T) {
	a := mustStart(t, gatewaytest.Options{})
	keyA, _ := a.env.MustKey(t, "acct_raw_a")
	keyB, _ := a.env.MustKey(t, "acct_raw_b")
	// Long and distinctive, so that no chance match passes for a leak and
	// no leak hides behind a short one.
	secretValues := []string{
		"raw-bearer-token-8c1f2e7d9a", "raw-basic-user-41b7", "raw-basic-password-f00dbabe", "raw-header-value-5d3e6a",
		"raw-rotated-token-77aa01bc", "raw-other-account-token-cc42",
	}
	ids := map[string]string{}
	bearer := a.mustCreate(t, keyA, `{"name":"bearer","type":"bearer","credentials":{"token":"`+secretValues[0]+`"}}`)["id"].(string)
	basic := a.mustCreate(t, keyA, `{"name":"basic","type":"basic","credentials":{"username":"`+secretValues[1]+`","password":"`+secretValues[2]+`"}}`)["id"].(string)
	header := a.mustCreate(t, keyA, `{"name":"header","type":"header","credentials":{"name":"X-Api-Key","value":"`+secretValues[3]+`"}}`)["id"].(string)
	other := a.mustCreate(t, keyB, `{"name":"b","type":"bearer","credentials":{"token":"`+secretValues[5]+`"}}`)["id"].(string)
	ids[bearer], ids[basic], ids[header], ids[other] = "acct_raw_a", "acct_raw_a", "acct_raw_a", "acct_raw_b"

	sealedBefore := mustSealed(t, a.env.Table, "acct_raw_a", bearer)
	if r := a.one(t, "PUT", bearer, keyA, `{"name":"bearer","type":"bearer","credentials":{"token":"`+secretValues[4]+`"}}`); r.Status != 200 {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	// A basic credential goes on the wire as base64(user:pass): that form
	// must not be stored either.
	forms := encodings(secretValues[1] + ":" + secretValues[2])
	for _, s := range secretValues {
		forms = append(forms, encodings(s)...)
	}

	items := rawItems(t, a.env.Table, []string{"acct_raw_a", "acct_raw_b"}, ids)
	connectionItems := 0
	for _, item := range items {
		sk, _ := item[store.AttrSK].(*types.AttributeValueMemberS)
		if sk != nil && strings.HasPrefix(sk.Value, store.PrefixConnection) {
			connectionItems++
			for _, attr := range []string{"sealWrappedKey", "sealNonce", "sealCiphertext"} {
				if b, ok := item[attr].(*types.AttributeValueMemberB); !ok || len(b.Value) == 0 {
					t.Errorf("%s: %s is not a non-empty binary attribute", sk.Value, attr)
				}
			}
		}
		for name, av := range item {
			for _, got := range dynamotest.AttributeBytes(name, av) {
				for _, form := range forms {
					if bytes.Contains(got, []byte(form)) {
						t.Errorf("attribute %s of an item holds a credential (%q)", name, form)
					}
				}
			}
		}
	}
	if connectionItems != 4+4+4 { // Scan, Query and GetItem each see the four
		t.Errorf("read %d connection items, want 12: the proof did not look at them all", connectionItems)
	}

	t.Run("rotation re-sealed under a fresh data key", func(t *testing.T) {
		after := mustSealed(t, a.env.Table, "acct_raw_a", bearer)
		if bytes.Equal(after.WrappedKey, sealedBefore.WrappedKey) || bytes.Equal(after.Ciphertext, sealedBefore.Ciphertext) || bytes.Equal(after.Nonce, sealedBefore.Nonce) {
			t.Error("the rotated credentials reuse the old data key, nonce or ciphertext")
		}
	})
}

// mustSealed reads a connection's sealed credentials from its raw item.
func mustSealed(t *testing.T, table dynamotest.Table, account, id string) secrets.Sealed {
	t.Helper()
	g, err := table.Client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.ConnectionSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil || g.Item == nil {
		t.Fatalf("GetItem %s: %v", id, err)
	}
	bin := func(name string) []byte {
		b, _ := g.Item[name].(*types.AttributeValueMemberB)
		if b == nil {
			t.Fatalf("%s has no binary %s", id, name)
		}
		return b.Value
	}
	keyID, _ := g.Item["sealKeyId"].(*types.AttributeValueMemberS)
	if keyID == nil || keyID.Value == "" {
		t.Fatalf("%s has no sealKeyId", id)
	}
	return secrets.Sealed{KeyID: keyID.Value, WrappedKey: bin("sealWrappedKey"), Nonce: bin("sealNonce"), Ciphertext: bin("sealCiphertext")}
}

func TestEncryptionRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := mustStart(t, gatewaytest.Options{})
	keyA, _ := a.env.MustKey(t, "acct_seal_a")
	keyB, _ := a.env.MustKey(t, "acct_seal_b")
	idA := a.mustCreate(t, keyA, `{"name":"h","type":"header","credentials":{"name":"X-Api-Key","value":"round-trip-value"}}`)["id"].(string)
	idA2 := a.mustCreate(t, keyA, `{"name":"other","type":"bearer","credentials":{"token":"t2"}}`)["id"].(string)
	idB := a.mustCreate(t, keyB, `{"name":"b","type":"bearer","credentials":{"token":"t3"}}`)["id"].(string)
	sealed := mustSealed(t, a.env.Table, "acct_seal_a", idA)

	t.Run("the stored value opens with the account and connection as context, to the credentials", func(t *testing.T) {
		plaintext, err := a.env.Sealer.Open(ctx, sealed, connections.EncryptionContext("acct_seal_a", idA))
		if err != nil {
			t.Fatal(err)
		}
		var creds map[string]string
		if err := json.Unmarshal(plaintext, &creds); err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"type": "header", "name": "X-Api-Key", "value": "round-trip-value"}; !maps.Equal(creds, want) {
			t.Errorf("opened to %d fields, not the credentials given", len(creds))
		}
		if want := map[string]string{"account": "acct_seal_a", "connection": idA}; !maps.Equal(connections.EncryptionContext("acct_seal_a", idA), want) {
			t.Errorf("context %v, want %v", connections.EncryptionContext("acct_seal_a", idA), want)
		}
	})
	for _, tt := range []struct{ name, account, id string }{
		{"another account's context", "acct_seal_b", idA},
		{"another connection's context", "acct_seal_a", idA2},
		{"the context of another account's connection", "acct_seal_b", idB},
	} {
		t.Run("it does not open with "+tt.name, func(t *testing.T) {
			if _, err := a.env.Sealer.Open(ctx, sealed, connections.EncryptionContext(tt.account, tt.id)); !errors.Is(err, secrets.ErrOpen) {
				t.Fatalf("err = %v, want secrets.ErrOpen", err)
			}
		})
	}
	t.Run("copied onto another connection's item, it does not open there", func(t *testing.T) {
		copyOnto(t, a.env.Table, "acct_seal_a", idA2, sealed)
		opener := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer)
		if _, err := opener.Credentials(ctx, "acct_seal_a", idA2); !errors.Is(err, secrets.ErrOpen) {
			t.Fatalf("err = %v, want secrets.ErrOpen", err)
		}
	})
	t.Run("a type changed beside the sealed value is noticed", func(t *testing.T) {
		_, err := a.env.Table.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(a.env.Table.Name), Key: store.ItemKey(store.AccountPK("acct_seal_a"), store.ConnectionSK(idA)),
			UpdateExpression:          aws.String("SET #t = :t"),
			ExpressionAttributeNames:  map[string]string{"#t": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "bearer"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		opener := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer)
		if _, err := opener.Credentials(ctx, "acct_seal_a", idA); !errors.Is(err, secrets.ErrOpen) {
			t.Fatalf("err = %v, want secrets.ErrOpen", err)
		}
	})
	t.Run("the opener of a connection that is gone is not found", func(t *testing.T) {
		opener := connections.NewOpener(connectionsdb.New(a.env.Table.Client, a.env.Table.Name), a.env.Sealer)
		if _, err := opener.Credentials(ctx, "acct_seal_b", "conn_"+gatewaytest.SomeID); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
}

func copyOnto(t *testing.T, table dynamotest.Table, account, id string, s secrets.Sealed) {
	t.Helper()
	_, err := table.Client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(table.Name), Key: store.ItemKey(store.AccountPK(account), store.ConnectionSK(id)),
		UpdateExpression:         aws.String("SET sealKeyId = :k, sealWrappedKey = :w, sealNonce = :n, sealCiphertext = :c, #t = :t"),
		ExpressionAttributeNames: map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": &types.AttributeValueMemberS{Value: s.KeyID}, ":w": &types.AttributeValueMemberB{Value: s.WrappedKey},
			":n": &types.AttributeValueMemberB{Value: s.Nonce}, ":c": &types.AttributeValueMemberB{Value: s.Ciphertext},
			":t": &types.AttributeValueMemberS{Value: "header"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsNeverPrint(t *testing.T) {
	creds := connections.Credentials{Type: connections.TypeBasic, Username: "print-user", Password: "print-password"}
	var logs bytes.Buffer
	for _, s := range []string{fmt.Sprint(creds), fmt.Sprintf("%v %+v %#v %s %q", creds, creds, creds, creds, creds), fmt.Sprint(&creds)} {
		logs.WriteString(s)
	}
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("with credentials", "creds", creds, "nested", struct{ C connections.Credentials }{creds})
	logger.Info("as a value", slog.Any("creds", creds))
	encoded, err := json.Marshal(map[string]any{"creds": creds, "list": []connections.Credentials{creds}})
	if err != nil {
		t.Fatal(err)
	}
	logs.Write(encoded)
	if strings.Contains(logs.String(), "print-user") || strings.Contains(logs.String(), "print-password") {
		t.Fatalf("fmt or slog shows credentials: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "redacted") {
		t.Fatalf("no placeholder was written: %s", logs.String())
	}
}
