package engine

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/connections"
)

// leakForms are the forms a test looks for, written apart from
// credentialForms so that a form it forgot shows here.
func leakForms(secret string) []string {
	b := []byte(secret)
	return []string{
		secret,
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(secret), url.PathEscape(secret), strings.ReplaceAll(url.QueryEscape(secret), "+", "%20"),
		hex.EncodeToString(b),
	}
}

func assertNoForm(t *testing.T, what string, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, form := range leakForms(s) {
			if strings.Contains(text, form) {
				t.Errorf("%s holds %q (a form of a credential): %.300s", what, form, text)
			}
		}
	}
}

// echoed puts every form of every secret everywhere an output may hold it:
// header values, body strings at depth, member names, numbers, arrays.
func echoed(secrets ...string) map[string]any {
	var forms []any
	names := map[string]any{}
	for _, s := range secrets {
		for _, f := range leakForms(s) {
			forms = append(forms, "before "+f+" after", f)
			names["key "+f] = f
		}
	}
	return map[string]any{
		"status":  200,
		"headers": map[string]any{"authorization": "Bearer " + secrets[0], "x-echo": fmt.Sprint(forms...)},
		"body": map[string]any{
			"deep":  []any{map[string]any{"deeper": []any{forms, names}}},
			"names": names,
			"n":     json.Number("1" + hex.EncodeToString([]byte(secrets[0]))),
		},
	}
}

func TestRedactorRemovesEveryFormOfTheCredentials(t *testing.T) {
	for _, tc := range []struct {
		creds   connections.Credentials
		secrets []string
	}{
		{connections.Credentials{Type: connections.TypeBearer, Token: "tok_live_8c1f2e7d9a+/="}, []string{"tok_live_8c1f2e7d9a+/="}},
		{connections.Credentials{Type: connections.TypeBasic, Username: "ada", Password: "p@ss word/&?"}, []string{"p@ss word/&?", "ada:p@ss word/&?", base64.StdEncoding.EncodeToString([]byte("ada:p@ss word/&?"))}},
		{connections.Credentials{Type: connections.TypeHeader, Name: "X-Api-Key", Value: `key"<456>\`}, []string{`key"<456>\`}},
	} {
		t.Run(string(tc.creds.Type), func(t *testing.T) {
			r := newRedactor(tc.creds)
			out := r.redactValue(echoed(tc.secrets...))
			text, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			assertNoForm(t, "the output", string(text), tc.secrets...)
			if !strings.Contains(string(text), "before "+redactedText+" after") {
				t.Errorf("no placeholder where a credential was: %.300s", text)
			}
			if out.(map[string]any)["status"] != 200 {
				t.Errorf("the status changed: %v", out.(map[string]any)["status"])
			}
			// As JSON, the way the runner stores the output: escaped forms
			// ("\u003c", "\"") are gone too, since the strings were cleaned.
			for _, s := range tc.secrets {
				quoted, _ := json.Marshal(s)
				if strings.Contains(string(text), strings.Trim(string(quoted), `"`)) {
					t.Errorf("the stored JSON holds %s", quoted)
				}
			}
		})
	}
}

func TestRedactorLeavesOtherTextAlone(t *testing.T) {
	r := newRedactor(connections.Credentials{Type: connections.TypeBearer, Token: "tok_live_8c1f2e7d9a"})
	in := map[string]any{"a": "nothing secret", "n": json.Number("12"), "b": true, "l": []any{nil, "x"}}
	if got, _ := json.Marshal(r.redactValue(in)); string(got) != `{"a":"nothing secret","b":true,"l":[null,"x"],"n":12}` {
		t.Errorf("got %s", got)
	}
	var none *redactor // a step without a connection
	if got := none.redactValue("tok_live_8c1f2e7d9a"); got != "tok_live_8c1f2e7d9a" {
		t.Errorf("a nil redactor changed %v", got)
	}
}

// There is no minimum length: a one-letter credential is still not shown,
// at the cost of the text around it; one the placeholder itself holds
// blanks the string.
func TestShortCredentialsAreRedactedToo(t *testing.T) {
	r := newRedactor(connections.Credentials{Type: connections.TypeBearer, Token: "n"})
	if got := r.redactString("banana"); got != "ba[REDACTED]a[REDACTED]a" {
		t.Errorf("got %q", got)
	}
	r = newRedactor(connections.Credentials{Type: connections.TypeBearer, Token: "E"})
	out, _ := json.Marshal(r.redactValue(map[string]any{"EE": "HELLO", "x": []any{"E"}, "y": "plain"}))
	if strings.Contains(string(out), "E") || !strings.Contains(string(out), `"y":"plain"`) {
		t.Errorf("got %s", out)
	}
	r = newRedactor(connections.Credentials{Type: connections.TypeBasic, Username: "ada", Password: ""})
	if got := r.redactString("ada " + base64.StdEncoding.EncodeToString([]byte("ada:"))); got != "ada "+redactedText {
		t.Errorf("an empty password: %q (the empty string must not match everywhere, base64(user:) must; the user name alone is no secret)", got)
	}
}

// The walk keeps its own stack: a target's deepest JSON does not grow the
// goroutine's.
func TestRedactorWalksADeepValueWithoutRecursion(t *testing.T) {
	const depth = 1_000_000
	var v any = map[string]any{"tok_live_8c1f2e7d9a": "Bearer tok_live_8c1f2e7d9a"}
	for range depth {
		v = []any{v}
	}
	r := newRedactor(connections.Credentials{Type: connections.TypeBearer, Token: "tok_live_8c1f2e7d9a"})
	v = r.redactValue(v)
	for range depth {
		v = v.([]any)[0]
	}
	if fmt.Sprint(v) != "map["+redactedText+":"+redactedText+"]" {
		t.Errorf("the innermost value: %v", v)
	}
}

func TestRedactedNamesThatCollideKeepTheFirst(t *testing.T) {
	r := newRedactor(connections.Credentials{Type: connections.TypeBearer, Token: "tok_live_8c1f2e7d9a"})
	for range 20 { // map order is random; the answer must not be
		out := r.redactValue(map[string]any{"tok_live_8c1f2e7d9a": 1, "dG9rX2xpdmVfOGMxZjJlN2Q5YQ==": 2})
		if got, _ := json.Marshal(out); string(got) != `{"[REDACTED]":2}` {
			t.Fatalf("got %s", got)
		}
	}
}

// A target that echoes the request (headers in its JSON body and its own
// headers, the token in text) gets a redacted step output; a redirect to a
// host named after the token gets a redacted error.
func TestEchoedCredentialsAreRedactedFromTheOutput(t *testing.T) {
	echo := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key")
		w.Header().Set("X-Echo-Authorization", auth)
		w.Header().Set("Content-Type", "application/json")
		raw := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "Basic ")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"headers": r.Header,
			"token":   raw,
			"nested":  []any{map[string]any{raw: base64.StdEncoding.EncodeToString([]byte(raw))}},
			"query":   url.QueryEscape(raw),
		})
	})
	e := httpEngine(t, Options{Credentials: testCredentials})
	secrets := map[string][]string{
		bearerConnection: {"tok-123"},
		basicConnection:  {"pw:1", base64.StdEncoding.EncodeToString([]byte("ada:pw:1"))},
		headerConnection: {"key-456"},
	}
	for connection, secret := range secrets {
		c := httpStep(t, `{"method": "GET", "url": "`+echo.URL+`/echo", "connection": "`+connection+`"}`, "")
		res, err := e.Execute(context.Background(), c, 0, runContext(nil), "k")
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(res.Output)
		assertNoForm(t, connection+" output", string(out), secret...)
		if !strings.Contains(string(out), redactedText) {
			t.Errorf("%s: nothing was redacted: %s", connection, out)
		}
	}
	for _, seen := range echo.received() {
		if seen.header.Get("Authorization") == "" && seen.header.Get("X-Api-Key") == "" {
			t.Error("the credentials were not sent: the test shows nothing")
		}
	}

	away := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		http.Redirect(w, r, "http://"+token+".example/", http.StatusFound)
	})
	c := httpStep(t, `{"method": "GET", "url": "`+away.URL+`/", "connection": "`+bearerConnection+`"}`, "")
	_, err := e.Execute(context.Background(), c, 0, runContext(nil), "k")
	se := stepError(t, err)
	if se.Code != CodeTargetRefused || !strings.Contains(se.Message, redactedText+".example") {
		t.Errorf("got %+v", se)
	}
	assertNoForm(t, "the error", se.Message, "tok-123")
}
