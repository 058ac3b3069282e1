package connections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// memoryStore is connections.Store in a map, keeping what was sealed: the
// fuzz target runs the parser, the rules and the sealing many thousand
// times, which the DynamoDB adapter (tested against dynalite) is not needed
// for.
type memoryStore struct {
	mu     sync.Mutex
	conns  map[string]connections.Connection
	sealed map[string]secrets.Sealed
}

func (m *memoryStore) Create(_ context.Context, c connections.Connection, s secrets.Sealed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conns[c.ID], m.sealed[c.ID] = c, s
	return nil
}

func (m *memoryStore) Get(_ context.Context, account, id string) (connections.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[id]
	if !ok || c.AccountID != account {
		return connections.Connection{}, domain.ErrNotFound
	}
	return c, nil
}

func (m *memoryStore) List(context.Context, string, int, string) (domain.Page[connections.Connection], error) {
	return domain.Page[connections.Connection]{}, nil
}

func (m *memoryStore) Replace(ctx context.Context, c connections.Connection, s secrets.Sealed) (connections.Connection, error) {
	old, err := m.Get(ctx, c.AccountID, c.ID)
	if err != nil {
		return connections.Connection{}, err
	}
	c.CreatedAt = old.CreatedAt
	return c, m.Create(ctx, c, s)
}

func (m *memoryStore) Delete(ctx context.Context, account, id string) (connections.Connection, error) {
	c, err := m.Get(ctx, account, id)
	if err != nil {
		return connections.Connection{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, id)
	return c, nil
}

type admitAll struct{}

func (admitAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Now().Add(time.Minute)}
}

// credentialStrings are the secret string values under "credentials" in a
// body, if it parses at all: what must never come back in an answer. A
// header's name is not secret (messages name a refused one), and a value
// that is also the connection's name, or short enough to match by chance,
// proves nothing.
func credentialStrings(body string) []string {
	var parsed struct {
		Name        any            `json:"name"`
		Credentials map[string]any `json:"credentials"`
	}
	_ = json.Unmarshal([]byte(body), &parsed)
	name, _ := parsed.Name.(string)
	var out []string
	for field, v := range parsed.Credentials {
		if s, ok := v.(string); ok && field != "name" && len(s) >= 12 && !strings.Contains(name, s) {
			out = append(out, s)
		}
	}
	return out
}

// FuzzConnectionBody runs POST /connections' whole Lambda handler (pipeline,
// strict decoding, validation, sealing) on a fuzzed body. No input may
// panic or fail the handler; every answer is 201 (exactly one connection
// stored, and its sealed value opens to credentials that pass the rules) or
// a 400 VALIDATION_ERROR with details (nothing stored), or the pipeline's
// 413/415; and no answer repeats a credential.
func FuzzConnectionBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Shop API","type":"bearer","credentials":{"token":"example-token"}}`,
		`{"name":"ERP","type":"basic","credentials":{"username":"u","password":""}}`,
		`{"name":"N","type":"header","credentials":{"name":"X-Api-Key","value":"v"}}`,
		`{"name":"N","type":"header","credentials":{"name":"Host","value":"v"}}`,
		`{"name":"N","type":"bearer","credentials":{"token":"a\r\nb"}}`,
		`{"name":"N","type":"bearer","credentials":{"token":"x","username":"y"}}`,
		`{"name":"N","type":"basic","credentials":{"username":"a:b","password":"p"}}`,
		`{"name":"","type":"oauth","credentials":{}}`, `{"name":"N","type":"bearer","credentials":null}`,
		`{"name":"N","type":"bearer","credentials":{"token":null}}`, `{"name":"N","type":"bearer","credentials":[]}`,
		`{"name":"N","type":"bearer","credentials":{"token":"x"},"name":"M"}`, `[]`, `{`, ``, `null`, `"x"`,
		"  \n", " ",
	} {
		f.Add(seed)
	}
	sealer, err := secrets.NewLocal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		store := &memoryStore{conns: map[string]connections.Connection{}, sealed: map[string]secrets.Sealed{}}
		handlers := connections.NewHandlers(connections.NewService(store, sealer, nil))
		route := &routes.CreateConnection
		lambdaHandler := httpapi.Lambda(httpapi.Handler(route, http.HandlerFunc(handlers.Create), httpapi.Deps{Limiter: admitAll{}, Logger: slog.New(slog.DiscardHandler)}))
		resp, err := lambdaHandler(context.Background(), events.APIGatewayProxyRequest{
			Resource: route.Path, Path: route.Path, HTTPMethod: route.Method,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    body,
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID: "fuzz",
				Authorizer: map[string]any{
					"accountId": "acct_fuzz", "keyId": "key_caller", "rateLimitId": "rl_fuzz",
					"scopes": "connections:read connections:write", "lastUsedAt": "0",
				},
			},
		})
		if err != nil {
			t.Fatalf("handler error (API Gateway would answer 502): %v", err)
		}
		var envelope struct {
			Success *bool           `json:"success"`
			Data    json.RawMessage `json:"data"`
			Error   *struct {
				Code    string              `json:"code"`
				Details []domain.FieldError `json:"details"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &envelope); err != nil || envelope.Success == nil {
			t.Fatalf("%d: not an envelope: %q", resp.StatusCode, resp.Body)
		}
		for _, s := range credentialStrings(body) {
			if strings.Contains(resp.Body, s) {
				t.Fatalf("the answer repeats a credential: %s", resp.Body)
			}
		}
		switch resp.StatusCode {
		case 201:
			if !*envelope.Success || len(store.conns) != 1 {
				t.Fatalf("201 without exactly one connection stored: %s", resp.Body)
			}
			for id, c := range store.conns {
				plaintext, err := sealer.Open(context.Background(), store.sealed[id], connections.EncryptionContext("acct_fuzz", id))
				if err != nil {
					t.Fatalf("the stored credentials do not open: %v", err)
				}
				if !bytes.Contains(plaintext, []byte(`"type":"`+string(c.Type)+`"`)) {
					t.Fatalf("the sealed credentials are not of the connection's type %s", c.Type)
				}
			}
		case 400:
			if *envelope.Success || envelope.Error == nil || envelope.Error.Code != string(domain.CodeValidation) || len(envelope.Error.Details) == 0 {
				t.Fatalf("a 400 that is not a VALIDATION_ERROR with details: %s", resp.Body)
			}
			for _, d := range envelope.Error.Details {
				if d.Field == "" || d.Message == "" {
					t.Fatalf("a detail without a field or message: %s", resp.Body)
				}
			}
			if len(store.conns) != 0 {
				t.Fatal("a refused body stored a connection")
			}
		case 413, 415:
			if len(store.conns) != 0 {
				t.Fatal("a refused body stored a connection")
			}
		default:
			t.Fatalf("status %d is not one the route answers: %s", resp.StatusCode, resp.Body)
		}
	})
}
