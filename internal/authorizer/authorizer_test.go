package authorizer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/authcontext"
	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/keys/keystest"
	"github.com/workflowsapi/workflows/internal/store/keysdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/api/v1/workflows"

func request(headers map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: methodArn, Headers: headers}
}

// mustKey issues a key with two scopes through the keys service, as every
// key is made, and returns its plaintext and metadata.
func mustKey(tb testing.TB, store *keysdb.Store) (string, keys.Key) {
	tb.Helper()
	issued := keystest.MustIssue(tb, store, "acct_auth", domain.ScopeWorkflowsRead, domain.ScopeRunsRead)
	return issued.Plaintext, issued.Key
}

func TestAuthorizer(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	store := keysdb.New(table.Client, table.Name)
	var logs bytes.Buffer
	auth := authorizer.New(store, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	valid, validKey := mustKey(t, store)

	t.Run("a valid key is allowed with one strongly consistent GetItem", func(t *testing.T) {
		table.Calls.Reset()
		resp, err := auth.Handle(ctx, request(map[string]string{"x-api-key": valid}))
		if err != nil {
			t.Fatal(err)
		}
		if calls := table.Calls.Snapshot(); table.Calls.Total() != 1 || calls["GetItem"] != 1 {
			t.Fatalf("calls = %v, want exactly one GetItem", calls)
		}
		st := resp.PolicyDocument.Statement
		if len(st) != 1 || st[0].Effect != "Allow" || len(st[0].Resource) != 1 ||
			st[0].Resource[0] != "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*" {
			t.Fatalf("policy = %+v, want Allow on the whole stage", resp.PolicyDocument)
		}
		want := map[string]any{
			"accountId": "acct_auth", "keyId": validKey.ID, "scopes": "workflows:read runs:read",
			"rateLimitId": validKey.RateLimitID, "lastUsedAt": "0",
		}
		for k, v := range want {
			if resp.Context[k] != v {
				t.Errorf("context[%s] = %v, want %v", k, resp.Context[k], v)
			}
		}
		if resp.PrincipalID != validKey.ID {
			t.Errorf("principal = %q", resp.PrincipalID)
		}
	})

	t.Run("the header name is case-insensitive, in single and multi-value headers", func(t *testing.T) {
		if _, err := auth.Handle(ctx, request(map[string]string{"X-API-Key": valid})); err != nil {
			t.Fatalf("X-API-Key: %v", err)
		}
		req := request(nil)
		req.MultiValueHeaders = map[string][]string{"X-Api-Key": {valid}}
		if _, err := auth.Handle(ctx, req); err != nil {
			t.Fatalf("multi-value: %v", err)
		}
		req = request(map[string]string{"x-api-key": valid})
		req.MultiValueHeaders = map[string][]string{"x-api-key": {valid}}
		if _, err := auth.Handle(ctx, req); err != nil {
			t.Fatalf("the same one value in both maps, as API Gateway sends it: %v", err)
		}
	})

	t.Run("a request with more than one x-api-key is refused, whichever comes first", func(t *testing.T) {
		other, _ := mustKey(t, store)
		for name, req := range map[string]events.APIGatewayCustomAuthorizerRequestTypeRequest{
			"two values":             {Type: "REQUEST", MethodArn: methodArn, Headers: map[string]string{"x-api-key": valid}, MultiValueHeaders: map[string][]string{"x-api-key": {other, valid}}},
			"two spellings":          {Type: "REQUEST", MethodArn: methodArn, Headers: map[string]string{"x-api-key": valid, "X-Api-Key": other}},
			"maps that disagree":     {Type: "REQUEST", MethodArn: methodArn, Headers: map[string]string{"x-api-key": valid}, MultiValueHeaders: map[string][]string{"x-api-key": {other}}},
			"the same key, repeated": {Type: "REQUEST", MethodArn: methodArn, MultiValueHeaders: map[string][]string{"x-api-key": {valid, valid}}},
		} {
			table.Calls.Reset()
			if _, err := auth.Handle(ctx, req); !errors.Is(err, authorizer.ErrUnauthorized) {
				t.Errorf("%s: err = %v, want Unauthorized", name, err)
			}
			if n := table.Calls.Total(); n != 0 {
				t.Errorf("%s: %d DynamoDB calls, want none", name, n)
			}
		}
	})

	good, _ := apikey.Generate()
	replacement := "a"
	if strings.HasSuffix(good, "a") {
		replacement = "b"
	}
	badChecksum := good[:len(good)-1] + replacement
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"no header", map[string]string{}},
		{"an empty key", map[string]string{"x-api-key": ""}},
		{"the seed page's example key", map[string]string{"x-api-key": "wfk_abc123def456ghi789jkl012mno345pq"}},
		{"a key with a wrong checksum", map[string]string{"x-api-key": badChecksum}},
		{"a bearer token instead of a key", map[string]string{"authorization": "Bearer " + valid}},
		{"a key with whitespace around it", map[string]string{"x-api-key": " " + valid}},
	} {
		t.Run("refuses "+tc.name+" without reading the store", func(t *testing.T) {
			table.Calls.Reset()
			_, err := auth.Handle(ctx, request(tc.headers))
			if !errors.Is(err, authorizer.ErrUnauthorized) || err.Error() != "Unauthorized" {
				t.Fatalf("err = %v, want Unauthorized", err)
			}
			if n := table.Calls.Total(); n != 0 {
				t.Fatalf("made %d DynamoDB calls, want 0", n)
			}
		})
	}

	past := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	unknown, _ := apikey.Generate()
	revoked, revokedKey := mustKey(t, store)
	expired, expiredKey := mustKey(t, store)
	notYetExpired, notYetExpiredKey := mustKey(t, store)
	for _, k := range []struct {
		key keys.Key
		at  time.Time
	}{{expiredKey, past}, {notYetExpiredKey, future}} {
		if _, err := store.ExpireBy(ctx, k.key.AccountID, k.key.ID, k.at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Revoke(ctx, revokedKey.AccountID, revokedKey.ID, past, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  string
		ok   bool
	}{
		{"refuses a well-formed key that does not exist", unknown, false},
		{"refuses a revoked key", revoked, false},
		{"refuses an expired key", expired, false},
		{"allows a key that expires later", notYetExpired, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.Handle(ctx, request(map[string]string{"x-api-key": tc.key}))
			if tc.ok && err != nil {
				t.Fatalf("err = %v, want allowed", err)
			}
			if !tc.ok && !errors.Is(err, authorizer.ErrUnauthorized) {
				t.Fatalf("err = %v, want Unauthorized", err)
			}
		})
	}

	t.Run("a revoked key is refused on the very next request", func(t *testing.T) {
		plaintext, k := mustKey(t, store)
		if _, err := auth.Handle(ctx, request(map[string]string{"x-api-key": plaintext})); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Revoke(ctx, k.AccountID, k.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.Handle(ctx, request(map[string]string{"x-api-key": plaintext})); !errors.Is(err, authorizer.ErrUnauthorized) {
			t.Fatalf("err = %v after revocation, want Unauthorized", err)
		}
	})

	t.Run("logs never hold a key or its hash", func(t *testing.T) {
		for _, secret := range []string{valid, revoked, unknown, apikey.Hash(valid), apikey.Hash(unknown)} {
			if strings.Contains(logs.String(), secret) {
				t.Fatalf("logs contain a key or hash: %s", logs.String())
			}
		}
		if logs.Len() == 0 {
			t.Fatal("nothing was logged; the test would prove nothing")
		}
	})
}

func TestAuthorizerFailsClosed(t *testing.T) {
	ctx := context.Background()
	dead := dynamotest.MustUnreachableClient(t)
	auth := authorizer.New(keysdb.New(dead, "none"), nil, slog.New(slog.DiscardHandler))
	key, _ := apikey.Generate()
	resp, err := auth.Handle(ctx, request(map[string]string{"x-api-key": key}))
	if err == nil || errors.Is(err, authorizer.ErrUnauthorized) {
		t.Fatalf("err = %v, want a failure that API Gateway turns into AUTHORIZER_FAILURE", err)
	}
	if len(resp.PolicyDocument.Statement) != 0 {
		t.Fatalf("a policy was returned with the store down: %+v", resp)
	}
}

func TestWholeAPI(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"covers every method and path of the stage", methodArn, "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*"},
		{"leaves an unexpected ARN as it is", "not-an-arn", "not-an-arn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authorizer.WholeAPI(tt.in); got != tt.want {
				t.Fatalf("WholeAPI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Under sam local (AWS_SAM_LOCAL=true) a refused key reaches the route as an
// Allow with no identity and authcontext.Refused, so the route answers the
// 401 SAM itself cannot; a good key and a store failure are as in AWS.
func TestSAMLocalPassesARefusalOnToTheRoute(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.MustTable(t)
	store := keysdb.New(table.Client, table.Name)
	auth := authorizer.New(store, nil, slog.New(slog.DiscardHandler))
	valid, validKey := mustKey(t, store)
	samLocal := auth.Handler(func(name string) string {
		if name == "AWS_SAM_LOCAL" {
			return "true"
		}
		return ""
	})

	for name, key := range map[string]string{"malformed": "wfk_short", "unknown": mustUnknownKey(t)} {
		t.Run("a "+name+" key", func(t *testing.T) {
			resp, err := samLocal(ctx, request(map[string]string{"x-api-key": key}))
			if err != nil {
				t.Fatalf("err = %v, want the refusal passed on", err)
			}
			if resp.Context[authcontext.Refused] != "true" {
				t.Fatalf("context = %v, want refused", resp.Context)
			}
			for _, field := range []string{authcontext.AccountID, authcontext.KeyID, authcontext.Scopes, authcontext.RateLimitID} {
				if _, ok := resp.Context[field]; ok {
					t.Fatalf("a refused key carries %s: %v", field, resp.Context)
				}
			}
			if _, err := auth.Handle(ctx, request(map[string]string{"x-api-key": key})); !errors.Is(err, authorizer.ErrUnauthorized) {
				t.Fatalf("outside sam local err = %v, want Unauthorized for API Gateway's 401", err)
			}
		})
	}
	t.Run("a good key is the same answer as in AWS", func(t *testing.T) {
		resp, err := samLocal(ctx, request(map[string]string{"x-api-key": valid}))
		if err != nil || resp.Context[authcontext.AccountID] != "acct_auth" || resp.Context[authcontext.KeyID] != validKey.ID {
			t.Fatalf("got %+v, %v", resp, err)
		}
		if _, refused := resp.Context[authcontext.Refused]; refused {
			t.Fatal("a good key is marked refused")
		}
	})
	t.Run("a store failure stays an error", func(t *testing.T) {
		dead := authorizer.New(keysdb.New(dynamotest.MustUnreachableClient(t), "none"), nil, slog.New(slog.DiscardHandler))
		handler := dead.Handler(func(string) string { return "true" })
		resp, err := handler(ctx, request(map[string]string{"x-api-key": mustUnknownKey(t)}))
		if err == nil || len(resp.PolicyDocument.Statement) != 0 {
			t.Fatalf("got %+v, %v; want an error and no policy", resp, err)
		}
	})
	t.Run("outside sam local the handler is Handle", func(t *testing.T) {
		_, err := auth.Handler(func(string) string { return "" })(ctx, request(map[string]string{"x-api-key": "wfk_short"}))
		if !errors.Is(err, authorizer.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
}

func mustUnknownKey(tb testing.TB) string {
	tb.Helper()
	key, err := apikey.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	return key
}
