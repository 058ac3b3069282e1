package keys_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/keys"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
)

// memoryStore is keys.Store in a map: the fuzz targets run the handlers and
// the service's rules many thousand times, which the DynamoDB adapter
// (tested against dynalite in store/keysdb) is not needed for.
type memoryStore struct {
	mu   sync.Mutex
	keys map[string]keys.Key
}

func (m *memoryStore) Create(_ context.Context, k keys.Key, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

func (m *memoryStore) ByID(_ context.Context, account, id string) (keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok || k.AccountID != account {
		return keys.Key{}, domain.ErrNotFound
	}
	return k, nil
}

func (m *memoryStore) List(context.Context, string, int, string) (domain.Page[keys.Key], error) {
	return domain.Page[keys.Key]{}, nil
}

func (m *memoryStore) Revoke(_ context.Context, account, id string, at time.Time, allow func(keys.Key) error) (keys.Key, error) {
	if allow != nil {
		k, err := m.ByID(context.Background(), account, id)
		if err != nil {
			return keys.Key{}, err
		}
		if err := allow(k); err != nil {
			return keys.Key{}, err
		}
	}
	return m.update(account, id, func(k *keys.Key) { k.RevokedAt = &at })
}

func (m *memoryStore) ExpireBy(_ context.Context, account, id string, at time.Time) (keys.Key, error) {
	return m.update(account, id, func(k *keys.Key) { k.ExpiresAt = &at })
}

func (m *memoryStore) update(account, id string, change func(*keys.Key)) (keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok || k.AccountID != account {
		return keys.Key{}, domain.ErrNotFound
	}
	change(&k)
	m.keys[id] = k
	return k, nil
}

type admitAll struct{}

func (admitAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Now().Add(time.Minute)}
}

// fuzzRoute runs one key route's whole Lambda handler (pipeline included) on
// a fuzzed body and holds the answer to the contract: an envelope, one of
// the statuses the route documents, and no new key unless it says 201.
func fuzzRoute(t *testing.T, route *routes.Route, handler http.HandlerFunc, path string, pathParams map[string]string, store *memoryStore, body string) {
	lambdaHandler := httpapi.Lambda(httpapi.Handler(route, handler, httpapi.Deps{Limiter: admitAll{}, Logger: slog.New(slog.DiscardHandler)}))
	before := len(store.keys)
	resp, err := lambdaHandler(context.Background(), events.APIGatewayProxyRequest{
		Resource: route.Path, Path: path, HTTPMethod: route.Method, PathParameters: pathParams,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    body,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "fuzz",
			Authorizer: map[string]any{
				"accountId": "acct_fuzz", "keyId": "key_caller", "rateLimitId": "rl_fuzz",
				"scopes": "workflows:read keys:read keys:write", "lastUsedAt": "0",
			},
		},
	})
	if err != nil {
		t.Fatalf("handler error (API Gateway would answer 502): %v", err)
	}
	var envelope struct {
		Success *bool           `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(resp.Body), &envelope); err != nil || envelope.Success == nil {
		t.Fatalf("%d: not an envelope: %q", resp.StatusCode, resp.Body)
	}
	switch resp.StatusCode {
	case 201:
		if !*envelope.Success || len(store.keys) != before+1 {
			t.Fatalf("201 without exactly one new key: %s", resp.Body)
		}
	case 400, 403, 404, 409, 413, 415:
		if *envelope.Success || envelope.Error == nil || domain.Code(envelope.Error.Code).Status() != resp.StatusCode {
			t.Fatalf("%d with body %s", resp.StatusCode, resp.Body)
		}
		if len(store.keys) != before {
			t.Fatalf("a refused request (%d) stored a key", resp.StatusCode)
		}
	default:
		t.Fatalf("status %d is not one the route answers: %s", resp.StatusCode, resp.Body)
	}
}

func FuzzCreateKeyBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Production API Key","scopes":["workflows:read"]}`,
		`{"name":"x","scopes":["keys:write"],"expiresAt":"2099-01-01T00:00:00Z"}`,
		`{"name":"","scopes":[]}`, `{"name":5}`, `{"name":"x","scopes":["admin"]}`, `[]`, `{`, ``, `null`,
		`{"name":"x","scopes":["workflows:read"],"name":"y"}`, `{"Name":"x","scopes":["workflows:read"]}`,
		"  \n", " ",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		store := &memoryStore{keys: map[string]keys.Key{}}
		handlers := keys.NewHandlers(keys.NewService(store, nil))
		fuzzRoute(t, &routes.CreateAPIKey, handlers.Create, routes.CreateAPIKey.Path, nil, store, body)
	})
}

func FuzzRollKeyBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"gracePeriodSeconds":60}`, `{"gracePeriodSeconds":-1}`, `{"gracePeriodSeconds":1e99}`,
		`{"expiresAt":"2099-01-01T00:00:00Z"}`, `{"expiresAt":"yesterday"}`, `{"gracePeriodSeconds":"60"}`, ``,
		"  \n", `{"gracePeriodSeconds":60.0}`, `{"gracePeriodSeconds":1e1}`, `{"gracePeriodSeconds":1.5}`,
	} {
		f.Add(seed)
	}
	const oldID = "key_01jc0000000000000000000000"
	f.Fuzz(func(t *testing.T, body string) {
		store := &memoryStore{keys: map[string]keys.Key{oldID: {
			ID: oldID, AccountID: "acct_fuzz", Name: "old", Scopes: domain.Scopes{domain.ScopeWorkflowsRead}, RateLimitID: "rl_old",
		}}}
		handlers := keys.NewHandlers(keys.NewService(store, nil))
		fuzzRoute(t, &routes.RollAPIKey, handlers.Roll, "/api/v1/auth/api-keys/"+oldID+"/roll", map[string]string{"id": oldID}, store, body)
	})
}
