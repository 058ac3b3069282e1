package runnerit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
)

// credentialForms are the forms a leak could take: plain, JSON-quoted,
// hex, base64 in both alphabets, padded and raw, and percent-encoded.
func credentialForms(secret string) []string {
	b := []byte(secret)
	quoted, _ := json.Marshal(secret)
	return []string{
		secret, strings.Trim(string(quoted), `"`), hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(secret), url.PathEscape(secret),
	}
}

// Issue 13, point 5: a target that echoes its request (the headers in its
// JSON body and its own headers, the raw token in a body field) does not
// put the connection's credentials into the run: a runs:read key reads the
// steps without them, and no item of the table holds them, in any form.
func TestEchoedCredentialsNeverReachTheRun(t *testing.T) {
	const account = "acct_redact"
	a := startWithReads(t, account)
	reader, _ := a.env.MustKey(t, account, domain.ScopeRunsRead)
	echo := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key")
		raw := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "Basic ")
		w.Header().Set("X-Echo-Authorization", auth)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"headers": r.Header,
			"token":   raw,
			"encoded": map[string]any{url.QueryEscape(raw): base64.RawURLEncoding.EncodeToString([]byte(raw))},
		})
	})
	// Long and distinctive, so that no chance match passes for a leak.
	const token, user, password, value = "echo-bearer-token-3f9a1c7e", "echo-user-5b", "echo-pass/word+9d2e?&", "echo-header-value-71c0aa"
	secrets := []string{token, password, user + ":" + password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password)), value}
	bearer := a.mustData(t, 201, "POST", "/connections", `{"name": "b", "type": "bearer", "credentials": {"token": "`+token+`"}}`)["id"].(string)
	basic := a.mustData(t, 201, "POST", "/connections", `{"name": "u", "type": "basic", "credentials": {"username": "`+user+`", "password": "`+password+`"}}`)["id"].(string)
	header := a.mustData(t, 201, "POST", "/connections", `{"name": "h", "type": "header", "credentials": {"name": "X-Api-Key", "value": "`+value+`"}}`)["id"].(string)
	wf := a.workflow(t, `{"name": "echo", "trigger": {"type": "manual"}, "steps": [
	  {"id": "bearer", "type": "http", "with": {"method": "GET", "url": "`+echo.URL+`/bearer", "connection": "`+bearer+`"}},
	  {"id": "basic", "type": "http", "with": {"method": "GET", "url": "`+echo.URL+`/basic", "connection": "`+basic+`"}},
	  {"id": "header", "type": "http", "with": {"method": "GET", "url": "`+echo.URL+`/header", "connection": "`+header+`"}},
	  {"id": "copy", "type": "transform", "with": {"jq": ".steps.bearer.output"}}
	]}`)
	runID := a.run(t, wf, `{}`)
	if run := a.finished(t, runID); run["status"] != "succeeded" {
		t.Fatalf("run %s: %s", run["status"], jsonOf(run))
	}
	for _, path := range []string{"/bearer", "/basic", "/header"} {
		if echo.count(path) != 1 || echo.seen[path].Get("Authorization")+echo.seen[path].Get("X-Api-Key") == "" {
			t.Fatalf("%s: the target did not get the credentials, so the test shows nothing", path)
		}
	}

	readAs := func(path string) []byte {
		r := gatewaytest.Call(t, "GET", a.env.URL+"/api/v1"+path, reader, "", nil)
		if r.Status != 200 {
			t.Fatalf("GET %s with runs:read: %d %s", path, r.Status, r.Body)
		}
		return r.Body
	}
	reads := map[string][]byte{"the run": readAs("/runs/" + runID)}
	for _, step := range []string{"bearer", "basic", "header", "copy"} {
		reads["step "+step] = readAs("/runs/" + runID + "/steps/" + step)
	}
	for what, body := range reads {
		if !bytes.Contains(body, []byte("[REDACTED]")) {
			t.Errorf("%s shows no redaction: the echo did not reach it? %.300s", what, body)
		}
		for _, s := range secrets {
			for _, form := range credentialForms(s) {
				if bytes.Contains(body, []byte(form)) {
					t.Errorf("%s, read with runs:read, holds %q", what, form)
				}
			}
		}
	}

	scan, err := a.env.Table.Client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(a.env.Table.Name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	runItems := 0
	for _, item := range scan.Items {
		if pk, ok := item["PK"].(*types.AttributeValueMemberS); ok && strings.Contains(pk.Value, runID) {
			runItems++
		}
		for name, av := range item {
			for _, got := range dynamotest.AttributeBytes(name, av) {
				for _, s := range secrets {
					for _, form := range credentialForms(s) {
						if bytes.Contains(got, []byte(form)) {
							t.Errorf("attribute %s of an item holds %q", name, form)
						}
					}
				}
			}
		}
	}
	if runItems == 0 {
		t.Error("the scan saw no item of the run: the proof did not look at it")
	}
}
