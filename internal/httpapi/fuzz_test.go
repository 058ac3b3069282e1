package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/routes"
)

var keyWriter = map[string]any{"accountId": "acct_1", "keyId": "key_1", "rateLimitId": "rl_1", "scopes": "keys:write", "lastUsedAt": "0"}

// FuzzPathID sends any id, as API Gateway would hand it over (decoded), to
// the revoke route's Lambda: the pipeline must answer 404 for anything that
// is not one of our key ids, reach the feature for every one that is, and
// never fail to build the request.
func FuzzPathID(f *testing.F) {
	for _, seed := range []string{"key_01jc0000000000000000000000", "ÕÚ\u009bwr\u009b\x0eu", "abc\ndef", "", "key_", "%2F", "/", "key_01JC0000000000000000000000"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		reached := false
		h := httpapi.Lambda(httpapi.Handler(&routes.RevokeAPIKey, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			if r.PathValue("id") != id {
				t.Fatalf("the feature got id %q, the event had %q", r.PathValue("id"), id)
			}
			httpapi.WriteData(w, http.StatusOK, map[string]string{})
		}), httpapi.Deps{Limiter: allowAll{}, Logger: slog.New(slog.DiscardHandler)}))
		resp, err := h(context.Background(), events.APIGatewayProxyRequest{
			Resource: routes.RevokeAPIKey.Path, Path: "/api/v1/auth/api-keys/" + id, HTTPMethod: "DELETE",
			PathParameters: map[string]string{"id": id},
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "fuzz", Authorizer: keyWriter},
		})
		if err != nil {
			t.Fatalf("the adapter failed on id %q: %v", id, err)
		}
		wantStatus := http.StatusNotFound
		if ids.Valid(ids.PrefixKey, id) {
			wantStatus = http.StatusOK
		}
		if resp.StatusCode != wantStatus || reached != (wantStatus == http.StatusOK) {
			t.Fatalf("id %q: status %d (feature reached: %v), want %d", id, resp.StatusCode, reached, wantStatus)
		}
	})
}

// FuzzListParams sends any limit and cursor to a listing: the answer is a
// 400 naming limit, or a limit from 1 to 100 and the cursor as sent.
func FuzzListParams(f *testing.F) {
	for _, seed := range [][2]string{{"20", ""}, {"0", "x"}, {"101", ""}, {"%zz", ""}, {"1e2", ""}, {" 5", ""}, {"-1", ""}, {"", "bm90"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, limit, cursor string) {
		var gotLimit int
		var gotCursor string
		resp, _ := invoke(t, func(w http.ResponseWriter, r *http.Request) {
			l, c, err := httpapi.ListParams(r)
			if err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			gotLimit, gotCursor = l, c
			httpapi.WriteData(w, http.StatusOK, map[string]string{})
		}, withQuery(listKeysEvent(caller), map[string][]string{"limit": {limit}, "cursor": {cursor}}))
		switch resp.StatusCode {
		case http.StatusOK:
			if gotLimit < 1 || gotLimit > 100 || gotCursor != cursor {
				t.Fatalf("limit %q cursor %q read as %d %q", limit, cursor, gotLimit, gotCursor)
			}
		case http.StatusBadRequest:
			var body struct {
				Error struct{ Details []struct{ Field string } }
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || len(body.Error.Details) != 1 || body.Error.Details[0].Field != "limit" {
				t.Fatalf("400 that does not name limit: %s", resp.Body)
			}
		default:
			t.Fatalf("limit %q cursor %q: status %d %s", limit, cursor, resp.StatusCode, resp.Body)
		}
	})
}

func withQuery(ev events.APIGatewayProxyRequest, query map[string][]string) events.APIGatewayProxyRequest {
	ev.MultiValueQueryStringParameters = query
	ev.QueryStringParameters = map[string]string{}
	for k, vs := range query {
		ev.QueryStringParameters[k] = vs[len(vs)-1]
	}
	return ev
}
