package keys_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestBodies(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	url := env.URL + routes.BasePath + "/auth/api-keys"
	key, _ := env.MustKey(t, "acct_bodies")
	before := len(mustList(t, url, key))

	tests := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code        string
		field       string
	}{
		{"a body that is not JSON by its type is 415", "text/plain", []byte(`{"name":"x","scopes":["runs:read"]}`), 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"a JSON body without a content type is 415", "", []byte(`{"name":"x","scopes":["runs:read"]}`), 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"a body over 256 KiB is 413", "application/json", append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 300<<10)...), 413, "PAYLOAD_TOO_LARGE", ""},
		{"malformed JSON is 400", "application/json", []byte(`{"name":`), 400, "VALIDATION_ERROR", "body"},
		{"an unknown field is 400 naming it", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"admin":true}`), 400, "VALIDATION_ERROR", "admin"},
		{"a field of the wrong type is 400 naming it", "application/json", []byte(`{"name":5,"scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"a missing name is 400", "application/json", []byte(`{"scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"an unknown scope is 400", "application/json", []byte(`{"name":"x","scopes":["runs:write"]}`), 400, "VALIDATION_ERROR", "scopes"},
		{"no scopes is 400", "application/json", []byte(`{"name":"x","scopes":[]}`), 400, "VALIDATION_ERROR", "scopes"},
		{"an expiry in the past is 400", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"expiresAt":"2020-01-01T00:00:00Z"}`), 400, "VALIDATION_ERROR", "expiresAt"},
		{"a body of null is 400", "application/json", []byte(`null`), 400, "VALIDATION_ERROR", "body"},
		{"a body that is an array is 400", "application/json", []byte(`[]`), 400, "VALIDATION_ERROR", "body"},
		{"an optional field given as null is 400 naming it", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"expiresAt":null}`), 400, "VALIDATION_ERROR", "expiresAt"},
		{"a name given twice is 400 naming it", "application/json", []byte(`{"name":"x","scopes":["runs:read"],"name":"y"}`), 400, "VALIDATION_ERROR", "name"},
		{"a field name in another case is unknown", "application/json", []byte(`{"Name":"x","scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "Name"},
		{"a wrongly typed array item is 400 naming its index", "application/json", []byte(`{"name":"x","scopes":["runs:read",5]}`), 400, "VALIDATION_ERROR", "scopes[1]"},
		{"a name with a control character is 400", "application/json", []byte(`{"name":"a\u0007b","scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"a name with a bidirectional override is 400", "application/json", []byte(`{"name":"\u202egnp.exe","scopes":["runs:read"]}`), 400, "VALIDATION_ERROR", "name"},
		{"invalid UTF-8 is 400", "application/json", []byte("{\"name\":\"\xff\",\"scopes\":[\"runs:read\"]}"), 400, "VALIDATION_ERROR", "body"},
		{"charset on the JSON type is fine", "application/json; charset=utf-8", []byte(`{"name":"x","scopes":["runs:read"]}`), 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gatewaytest.Call(t, "POST", url, key, tt.contentType, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.code == "" {
				return
			}
			if r.ErrorCode(t) != tt.code {
				t.Fatalf("code %q, want %q", r.ErrorCode(t), tt.code)
			}
			if tt.field != "" {
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
				if len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
					t.Fatalf("details = %v, want field %q", details, tt.field)
				}
			}
		})
	}
	t.Run("bad bodies change nothing", func(t *testing.T) {
		if after := len(mustList(t, url, key)); after != before+1 {
			t.Fatalf("%d keys after, want %d (only the one good request made one)", after, before+1)
		}
	})
}

func mustList(tb testing.TB, url, key string) []any {
	tb.Helper()
	r := gatewaytest.Call(tb, "GET", url+"?limit=100", key, "", nil)
	if r.Status != 200 {
		tb.Fatalf("list: %d %s", r.Status, r.Body)
	}
	items, _ := r.JSON(tb)["data"].([]any)
	return items
}

func TestKeyManagement(t *testing.T) {
	var logs gatewaytest.LockedBuffer
	env := gatewaytest.MustStart(t, gatewaytest.Options{Logs: &logs})
	url := env.URL + routes.BasePath + "/auth/api-keys"
	admin, adminID := env.MustKey(t, "acct_keys")
	var secrets []string

	create := func(t *testing.T, key, body string) gatewaytest.Response {
		t.Helper()
		return gatewaytest.Call(t, "POST", url, key, "application/json", []byte(body))
	}

	t.Run("creating a key shows its plaintext once, and the key works", func(t *testing.T) {
		r := create(t, admin, `{"name":"Production API Key","scopes":["workflows:read","workflows:write","workflows:execute"]}`)
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.JSON(t)["data"].(map[string]any)
		plaintext, _ := data["key"].(string)
		secrets = append(secrets, plaintext, apikey.Hash(plaintext))
		if apikey.Validate(plaintext) != nil || data["prefix"] != plaintext[:8] || data["status"] != "active" ||
			data["name"] != "Production API Key" || !strings.HasPrefix(data["id"].(string), "key_") {
			t.Fatalf("create answered %s", r.Body)
		}
		if r.Header.Get("Location") != routes.BasePath+"/auth/api-keys/"+data["id"].(string) {
			t.Fatalf("Location = %q", r.Header.Get("Location"))
		}
		if w := gatewaytest.Call(t, "GET", env.URL+routes.BasePath+"/workflows", plaintext, "", nil); w.Status == 401 || w.Status == 403 {
			t.Fatalf("the new key was refused: %d", w.Status)
		}
		listed := gatewaytest.Call(t, "GET", url, admin, "", nil)
		if bytes.Contains(listed.Body, []byte(plaintext)) || bytes.Contains(listed.Body, []byte(apikey.Hash(plaintext))) {
			t.Fatal("the listing shows a key or a hash")
		}
		for _, item := range mustList(t, url, admin) {
			k := item.(map[string]any)
			if _, has := k["key"]; has {
				t.Fatal("a listed key has a key field")
			}
			for _, field := range []string{"id", "name", "prefix", "scopes", "createdAt", "lastUsedAt", "expiresAt", "status"} {
				if _, ok := k[field]; !ok {
					t.Fatalf("listed key lacks %s: %v", field, k)
				}
			}
		}
	})

	t.Run("a key cannot grant a scope it does not hold", func(t *testing.T) {
		limited, _ := env.MustKey(t, "acct_keys", domain.ScopeKeysWrite, domain.ScopeRunsRead)
		r := create(t, limited, `{"name":"escalate","scopes":["runs:read","workflows:write"]}`)
		if r.Status != 403 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
		if r := create(t, limited, `{"name":"fine","scopes":["runs:read"]}`); r.Status != 201 {
			t.Fatalf("granting a held scope: %d %s", r.Status, r.Body)
		} else {
			secrets = append(secrets, r.JSON(t)["data"].(map[string]any)["key"].(string))
		}
	})

	t.Run("another account's key id is 404 for revoke and roll", func(t *testing.T) {
		_, otherID := env.MustKey(t, "acct_someone_else")
		for _, r := range []gatewaytest.Response{
			gatewaytest.Call(t, "DELETE", url+"/"+otherID, admin, "", nil),
			gatewaytest.Call(t, "POST", url+"/"+otherID+"/roll", admin, "", nil),
			gatewaytest.Call(t, "DELETE", url+"/key_nonsense", admin, "", nil),
		} {
			if r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
	})

	t.Run("a revoked key is refused on its very next request", func(t *testing.T) {
		victim, victimID := env.MustKey(t, "acct_keys")
		if r := gatewaytest.Call(t, "GET", url, victim, "", nil); r.Status != 200 {
			t.Fatalf("before: %d", r.Status)
		}
		r := gatewaytest.Call(t, "DELETE", url+"/"+victimID, admin, "", nil)
		if r.Status != 200 || r.JSON(t)["data"].(map[string]any)["status"] != "revoked" {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		r = gatewaytest.Call(t, "GET", url, victim, "", nil)
		if r.Status != 401 {
			t.Fatalf("after revoke: %d", r.Status)
		}
		gatewaytest.SameJSON(t, r.Body, gatewaytest.UnauthorizedBody)
	})

	t.Run("rolling gives a new key with the same name and scopes; the old one lasts the grace period", func(t *testing.T) {
		old, oldID := env.MustKey(t, "acct_keys", domain.ScopeWorkflowsRead, domain.ScopeKeysRead)
		r := gatewaytest.Call(t, "POST", url+"/"+oldID+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":3600}`))
		if r.Status != 201 {
			t.Fatalf("roll: %d %s", r.Status, r.Body)
		}
		data := r.JSON(t)["data"].(map[string]any)
		fresh := data["key"].(string)
		secrets = append(secrets, fresh, old)
		if data["rolledFrom"] != oldID || data["id"] == oldID || data["name"] != "test key" ||
			len(data["scopes"].([]any)) != 2 {
			t.Fatalf("roll answered %s", r.Body)
		}
		for name, key := range map[string]string{"new": fresh, "old, in its grace period": old} {
			if r := gatewaytest.Call(t, "GET", url, key, "", nil); r.Status != 200 {
				t.Fatalf("the %s key got %d", name, r.Status)
			}
		}
	})

	t.Run("rolling with no grace period ends the old key at once", func(t *testing.T) {
		old, oldID := env.MustKey(t, "acct_keys")
		if r := gatewaytest.Call(t, "POST", url+"/"+oldID+"/roll", admin, "", nil); r.Status != 201 {
			t.Fatalf("roll: %d %s", r.Status, r.Body)
		}
		if r := gatewaytest.Call(t, "GET", url, old, "", nil); r.Status != 401 {
			t.Fatalf("old key after roll: %d", r.Status)
		}
		if r := gatewaytest.Call(t, "POST", url+"/"+oldID+"/roll", admin, "", nil); r.Status != 409 {
			t.Fatalf("rolling an expired key: %d %s", r.Status, r.Body)
		}
	})

	t.Run("a key may not roll a key with scopes it lacks", func(t *testing.T) {
		weak, _ := env.MustKey(t, "acct_keys", domain.ScopeKeysWrite)
		if r := gatewaytest.Call(t, "POST", url+"/"+adminID+"/roll", weak, "", nil); r.Status != 403 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("the grace period is bounded", func(t *testing.T) {
		_, id := env.MustKey(t, "acct_keys")
		r := gatewaytest.Call(t, "POST", url+"/"+id+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":86401}`))
		if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("lastUsedAt is set once a key is used", func(t *testing.T) {
		for _, item := range mustList(t, url, admin) {
			k := item.(map[string]any)
			if k["id"] == adminID && k["lastUsedAt"] == nil {
				t.Fatal("the admin key has been used but shows no lastUsedAt")
			}
		}
	})

	t.Run("pages follow nextCursor, newest first, without repeats", func(t *testing.T) {
		seen := map[string]bool{}
		next := ""
		var previous string
		for pages := 0; pages < 50; pages++ {
			r := gatewaytest.Call(t, "GET", url+"?limit=2&cursor="+next, admin, "", nil)
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			m := r.JSON(t)
			for _, item := range m["data"].([]any) {
				id := item.(map[string]any)["id"].(string)
				if seen[id] || (previous != "" && id > previous) {
					t.Fatalf("%s repeated or out of order", id)
				}
				seen[id], previous = true, id
			}
			c, _ := m["meta"].(map[string]any)["nextCursor"].(string)
			if c == "" {
				break
			}
			next = c
		}
		if len(seen) != len(mustList(t, url, admin)) {
			t.Fatalf("paging saw %d keys, one page of 100 shows %d", len(seen), len(mustList(t, url, admin)))
		}
		for _, bad := range []string{"?limit=0", "?limit=101", "?limit=x", "?limit=%zz", "?limit=", "?limit=1.5", "?limit=5&limit=500", "?limit=abc&limit=2", "?cursor=garbage"} {
			if r := gatewaytest.Call(t, "GET", url+bad, admin, "", nil); r.Status != 400 {
				t.Fatalf("%s: %d", bad, r.Status)
			}
		}
	})

	t.Run("no key or hash is ever logged", func(t *testing.T) {
		secrets = append(secrets, admin, apikey.Hash(admin))
		for _, s := range secrets {
			if strings.Contains(logs.String(), s) {
				t.Fatalf("a key or hash appears in the logs")
			}
		}
		if !strings.Contains(logs.String(), `"request_id"`) {
			t.Fatal("the logs hold no request lines; the check above proves nothing")
		}
	})
}

func TestRollingKeepsTheRateLimitWindow(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: 3}})
	url := env.URL + routes.BasePath + "/workflows"
	key, keyID := env.MustKey(t, "acct_limits")

	env.Clock.Set(time.Now().Add(10 * time.Minute))
	admin, _ := env.MustKey(t, "acct_limits")
	r := gatewaytest.Call(t, "POST", env.URL+routes.BasePath+"/auth/api-keys/"+keyID+"/roll", admin, "application/json", []byte(`{"gracePeriodSeconds":60}`))
	if r.Status != 201 {
		t.Fatalf("roll: %d %s", r.Status, r.Body)
	}
	fresh := r.JSON(t)["data"].(map[string]any)["key"].(string)
	gatewaytest.Call(t, "POST", url, key, "", nil)
	gatewaytest.Call(t, "POST", url, key, "", nil)
	r = gatewaytest.Call(t, "POST", url, fresh, "", nil)
	if r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("the rolled key's first write shows remaining %q, want 0 (window shared with the old key)", r.Header.Get("X-RateLimit-Remaining"))
	}
	if r := gatewaytest.Call(t, "POST", url, fresh, "", nil); r.Status != 429 {
		t.Fatalf("the rolled key got a fresh window: %d", r.Status)
	}
}

func TestKeysNeverOutliveTheirMaker(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	url := env.URL + routes.CreateAPIKey.Path
	admin, _ := env.MustKey(t, "acct_expiry")
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r := gatewaytest.Call(t, "POST", url, admin, "application/json", []byte(`{"name":"maker","scopes":["keys:write","runs:read"],"expiresAt":"`+soon.Format(time.RFC3339)+`"}`))
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	maker := r.Data(t)["key"].(string)
	_, targetID := env.MustKey(t, "acct_expiry", domain.ScopeRunsRead)

	for _, tc := range []struct{ name, method, path string }{
		{"a key it creates", "POST", routes.CreateAPIKey.Path},
		{"a key it rolls", "POST", strings.Replace(routes.RollAPIKey.Path, "{id}", targetID, 1)},
	} {
		t.Run(tc.name+" gets the maker's expiry when none is given", func(t *testing.T) {
			body := `{"name":"child","scopes":["runs:read"]}`
			if tc.path != routes.CreateAPIKey.Path {
				body = `{"gracePeriodSeconds":3600}`
			}
			r := gatewaytest.Call(t, tc.method, env.URL+tc.path, maker, "application/json", []byte(body))
			if r.Status != 201 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if got := r.Data(t)["expiresAt"]; got != soon.Format("2006-01-02T15:04:05.000Z") {
				t.Fatalf("expiresAt = %v, want the maker's %s", got, soon)
			}
		})
		t.Run(tc.name+" may not expire after the maker", func(t *testing.T) {
			later := soon.Add(time.Second).Format(time.RFC3339)
			body := `{"name":"child","scopes":["runs:read"],"expiresAt":"` + later + `"}`
			if tc.path != routes.CreateAPIKey.Path {
				body = `{"expiresAt":"` + later + `"}`
			}
			r := gatewaytest.Call(t, tc.method, env.URL+tc.path, maker, "application/json", []byte(body))
			if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
	t.Run("a key that does not expire makes keys that do not", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", url, admin, "application/json", []byte(`{"name":"free","scopes":["runs:read"]}`))
		if r.Status != 201 || r.Data(t)["expiresAt"] != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

func TestRevokingNeedsTheTargetsScopes(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	url := env.URL + routes.CreateAPIKey.Path
	weak, weakID := env.MustKey(t, "acct_revoke", domain.ScopeKeysWrite, domain.ScopeKeysRead)
	strong, strongID := env.MustKey(t, "acct_revoke")

	if r := gatewaytest.Call(t, "DELETE", url+"/"+strongID, weak, "", nil); r.Status != 403 {
		t.Fatalf("a weak key revoking a strong one: %d %s", r.Status, r.Body)
	}
	if r := gatewaytest.Call(t, "GET", url, strong, "", nil); r.Status != 200 {
		t.Fatalf("the strong key after the refused revoke: %d", r.Status)
	}
	if r := gatewaytest.Call(t, "DELETE", url+"/"+weakID, weak, "", nil); r.Status != 200 {
		t.Fatalf("a key revoking itself: %d %s", r.Status, r.Body)
	}
	if r := gatewaytest.Call(t, "GET", url, weak, "", nil); r.Status != 401 {
		t.Fatalf("the self-revoked key: %d", r.Status)
	}
}

func TestActiveKeysPerAccountAreCapped(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{Limits: map[ratelimit.Category]int64{ratelimit.CategoryWrite: 1000}})
	url := env.URL + routes.CreateAPIKey.Path
	admin, _ := env.MustKey(t, "acct_cap")
	var last string
	for i := 1; i < keys.MaxActiveKeys; i++ {
		r := gatewaytest.Call(t, "POST", url, admin, "application/json", []byte(`{"name":"k","scopes":["runs:read"]}`))
		if r.Status != 201 {
			t.Fatalf("key %d of %d: %d %s", i+1, keys.MaxActiveKeys, r.Status, r.Body)
		}
		last = r.Data(t)["id"].(string)
	}
	r := gatewaytest.Call(t, "POST", url, admin, "application/json", []byte(`{"name":"one too many","scopes":["runs:read"]}`))
	if r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
		t.Fatalf("key %d: %d %s", keys.MaxActiveKeys+1, r.Status, r.Body)
	}
	if r := gatewaytest.Call(t, "DELETE", url+"/"+last, admin, "", nil); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := gatewaytest.Call(t, "POST", url, admin, "application/json", []byte(`{"name":"after a revoke","scopes":["runs:read"]}`)); r.Status != 201 {
		t.Fatalf("a revoked key still counted: %d %s", r.Status, r.Body)
	}
}

func TestATrailingSlashIsServedAsThePathWithout(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	admin, _ := env.MustKey(t, "acct_slash")
	r := gatewaytest.Call(t, "POST", env.URL+routes.CreateAPIKey.Path+"/", admin, "application/json", []byte(`{"name":"slash","scopes":["runs:read"]}`))
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if want := routes.CreateAPIKey.Path + "/" + r.Data(t)["id"].(string); r.Header.Get("Location") != want {
		t.Fatalf("Location = %q, want %q", r.Header.Get("Location"), want)
	}
}

func TestMoreThanOneKeyOnARequestIs401(t *testing.T) {
	env := gatewaytest.MustStart(t, gatewaytest.Options{})
	a, _ := env.MustKey(t, "acct_two")
	b, _ := env.MustKey(t, "acct_two")
	req, _ := http.NewRequest("GET", env.URL+routes.ListAPIKeys.Path, nil)
	req.Header.Add("x-api-key", a)
	req.Header.Add("x-api-key", b)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 401 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	gatewaytest.SameJSON(t, body, gatewaytest.UnauthorizedBody)
}
