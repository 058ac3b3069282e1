package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

type allowAll struct{}

func (allowAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 1000, Remaining: 999, Reset: time.Now().Add(time.Minute)}
}

func listKeysEvent(authorizerContext map[string]any) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		Resource: "/api/v1/auth/api-keys", Path: "/api/v1/auth/api-keys", HTTPMethod: "GET",
		Headers: map[string]string{"x-api-key": "wfk_secretsecretsecretsecretsecret12"},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "req-123", Authorizer: authorizerContext,
		},
	}
}

var caller = map[string]any{
	"accountId": "acct_1", "keyId": "key_1", "rateLimitId": "rl_1",
	"scopes": "keys:read", "lastUsedAt": strings.Repeat("9", 13), "principalId": "key_1",
}

// invoke runs feature behind the pipeline of the list-api-keys route, as its
// Lambda would, and returns the response and the logs.
func invoke(t *testing.T, feature http.HandlerFunc, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, string) {
	t.Helper()
	var logs bytes.Buffer
	h := httpapi.Lambda(httpapi.Handler(&routes.ListAPIKeys, feature, httpapi.Deps{
		Limiter: allowAll{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	}))
	resp, err := h(context.Background(), event)
	if err != nil {
		t.Fatalf("the handler returned an error (API Gateway would answer 502): %v", err)
	}
	return resp, logs.String()
}

func errorOf(t *testing.T, body string) (code, message string) {
	t.Helper()
	var env struct {
		Success bool
		Error   struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Success {
		t.Fatalf("not an error envelope: %s", body)
	}
	return env.Error.Code, env.Error.Message
}

func TestFailuresReachNoClient(t *testing.T) {
	tests := []struct {
		name    string
		feature http.HandlerFunc
		wantLog string
	}{
		{"a store error is a plain 500, logged with its detail", func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteError(w, r, errors.New("dynamodb: connection reset by peer"))
		}, "connection reset by peer"},
		{"a panic is a plain 500, logged", func(http.ResponseWriter, *http.Request) { panic("index out of range [3]") }, "panic in handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, logs := invoke(t, tt.feature, listKeysEvent(caller))
			code, message := errorOf(t, resp.Body)
			if resp.StatusCode != 500 || code != "INTERNAL_ERROR" || message != "An internal error occurred" {
				t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
			}
			for _, leak := range []string{"dynamodb", "panic", "goroutine", "index out of range", ".go:"} {
				if strings.Contains(resp.Body, leak) {
					t.Fatalf("the response leaks %q: %s", leak, resp.Body)
				}
			}
			if !strings.Contains(logs, tt.wantLog) {
				t.Fatalf("the logs lack %q: %s", tt.wantLog, logs)
			}
			if strings.Contains(logs, "wfk_secret") {
				t.Fatal("the logs hold the key")
			}
			if got := resp.MultiValueHeaders["X-Request-Id"]; len(got) != 1 || got[0] != "req-123" {
				t.Fatalf("X-Request-Id = %v, want API Gateway's request id", got)
			}
		})
	}
}

func TestNoAuthorizerContextIsRefused(t *testing.T) {
	reached := false
	resp, _ := invoke(t, func(http.ResponseWriter, *http.Request) { reached = true }, listKeysEvent(nil))
	if code, msg := errorOf(t, resp.Body); resp.StatusCode != 401 || code != "UNAUTHORIZED" || msg != domain.MessageUnauthorized {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
	if reached {
		t.Fatal("the feature ran without a caller")
	}
}

func TestPublicURL(t *testing.T) {
	for _, tc := range []struct {
		name, domain, gatewayPath, path, proto, want string
	}{
		{"keeps the stage of the default domain", "abc.execute-api.eu-west-1.amazonaws.com", "/prod/api/v1/workflows", "/api/v1/workflows", "https", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/api/v1/webhooks/wf_1"},
		{"keeps a custom domain's base path", "api.example.com", "/v2/api/v1/workflows", "/api/v1/workflows", "https", "https://api.example.com/v2/api/v1/webhooks/wf_1"},
		{"is plain http on the local gateway", "localhost:3000", "/api/v1/workflows", "/api/v1/workflows", "http", "http://localhost:3000/api/v1/webhooks/wf_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event := events.APIGatewayProxyRequest{
				HTTPMethod: "POST", Path: tc.path,
				Headers:        map[string]string{"X-Forwarded-Proto": tc.proto},
				RequestContext: events.APIGatewayProxyRequestContext{DomainName: tc.domain, Path: tc.gatewayPath},
			}
			var got string
			handler := httpapi.Lambda(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = httpapi.PublicURL(r, "/api/v1/webhooks/wf_1")
				w.WriteHeader(http.StatusNoContent)
			}))
			if _, err := handler(context.Background(), event); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PublicURL = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAnAnswerThatCannotBeEncodedIsA500: the answer is encoded before the
// status is written, so a value encoding/json refuses (one nested deeper
// than its limit of 10000, as a run's stored output could be) is a 500
// envelope and a log line without the value, never a 200 with no body.
func TestAnAnswerThatCannotBeEncodedIsA500(t *testing.T) {
	deep := json.RawMessage(strings.Repeat("[", 10001) + strings.Repeat("]", 10001))
	for name, data := range map[string]any{"too deep": deep, "NaN": map[string]any{"secret-ish": json.Number("NaN")}} {
		t.Run(name, func(t *testing.T) {
			resp, logs := invoke(t, func(w http.ResponseWriter, _ *http.Request) {
				httpapi.WriteData(w, http.StatusOK, data)
			}, listKeysEvent(caller))
			if code, _ := errorOf(t, resp.Body); resp.StatusCode != 500 || code != "INTERNAL_ERROR" {
				t.Fatalf("status %d, body %q", resp.StatusCode, resp.Body)
			}
			if !strings.Contains(logs, "response not encoded") || !strings.Contains(logs, "req-123") {
				t.Errorf("no log line with the request id: %s", logs)
			}
			if strings.Contains(logs, "[[[") || strings.Contains(logs, "secret-ish") || strings.Contains(logs, "NaN") {
				t.Errorf("the log shows the value: %s", logs)
			}
		})
	}
}

// TestABodyNestedTooDeeplyIs400: every JSON body is held to
// jsondepth.MaxDepth before anything decodes it; one level less passes.
func TestABodyNestedTooDeeplyIs400(t *testing.T) {
	h := httpapi.Lambda(httpapi.Handler(&routes.CreateAPIKey, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteData(w, http.StatusCreated, map[string]string{})
	}), httpapi.Deps{Limiter: allowAll{}, Logger: slog.New(slog.DiscardHandler)}))
	writer := map[string]any{"accountId": "acct_1", "keyId": "key_1", "rateLimitId": "rl_1", "scopes": "keys:write", "lastUsedAt": "0"}
	for depth, want := range map[int]int{64: 201, 65: 400, 1_000_000 / 8: 400} {
		body := strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
		if len(body) > httpapi.DefaultMaxBodyBytes {
			body = strings.Repeat("[", depth) + strings.Repeat("]", depth) // within the size limit
		}
		resp, err := h(context.Background(), events.APIGatewayProxyRequest{
			Resource: routes.CreateAPIKey.Path, Path: routes.CreateAPIKey.Path, HTTPMethod: "POST", Body: body,
			Headers:        map[string]string{"Content-Type": "application/json"},
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r", Authorizer: writer},
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("a body %d deep: %d %s, want %d", depth, resp.StatusCode, resp.Body, want)
		}
		if want == 400 && !strings.Contains(resp.Body, "nests deeper than 64 levels") {
			t.Errorf("a body %d deep: %s", depth, resp.Body)
		}
	}
}

// Under sam local the authorizer passes a refused key on with
// authcontext.Refused (authorizer.ForSAMLocal): the route must answer the
// seed's exact 401 and never reach the feature, whatever else the context
// holds.
func TestARefusalPassedOnByTheAuthorizerIsThe401(t *testing.T) {
	for name, ctx := range map[string]map[string]any{
		"the refusal alone":            {"refused": "true"},
		"a refusal beside an identity": {"refused": "true", "accountId": "acct_1", "keyId": "key_1", "rateLimitId": "rl_1", "scopes": "keys:read"},
		"a refusal as a JSON boolean":  {"refused": true},
	} {
		t.Run(name, func(t *testing.T) {
			reached := false
			resp, _ := invoke(t, func(http.ResponseWriter, *http.Request) { reached = true }, listKeysEvent(ctx))
			if resp.StatusCode != 401 || strings.TrimSuffix(resp.Body, "\n") != `{"success":false,"error":{"code":"UNAUTHORIZED","message":"`+domain.MessageUnauthorized+`"}}` {
				t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
			}
			if reached {
				t.Fatal("the feature ran for a refused key")
			}
		})
	}
}
