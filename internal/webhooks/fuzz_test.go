package webhooks_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

type admitAll struct{}

func (admitAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Now().Add(time.Minute)}
}

// FuzzRollSecretBody runs each roll route's whole Lambda handler (pipeline
// included: the webhook roll and the notify roll, one parser and one
// handler) on a fuzzed body and holds the answer to the contract: an
// envelope, a status the route documents, a new secret of the route's kind
// on 201 only, and on 400 the field named and the secret left as it was.
func FuzzRollSecretBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, ``, `{"gracePeriodSeconds":0}`, `{"gracePeriodSeconds":604800}`, `{"gracePeriodSeconds":604801}`,
		`{"gracePeriodSeconds":-1}`, `{"gracePeriodSeconds":1e99}`, `{"gracePeriodSeconds":"60"}`, `{"gracePeriodSeconds":null}`,
		`{"gracePeriodSeconds":1,"gracePeriodSeconds":2}`, `{"grace":1}`, `[]`, `null`, `{`, `"x"`, `{"gracePeriodSeconds":9223372036854775807}`,
		"  \n", `{"gracePeriodSeconds":60.0}`, `{"gracePeriodSeconds":1e1}`, `{"gracePeriodSeconds":6.048001e5}`, `{"gracePeriodSeconds":0.5}`,
	} {
		f.Add(seed)
	}
	sealer := mustLocalSealer(f)
	kinds := []struct {
		route      *routes.Route
		newSecrets func(webhooks.Store, secrets.Sealer) *webhooks.Secrets
		pattern    *regexp.Regexp
	}{
		{&routes.RollWebhookSecret, webhooks.NewSecrets, secretPattern},
		{&routes.RollNotifySecret, webhooks.NewNotifySecrets, notifySecretPattern},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, kind := range kinds {
			store := newMemoryStore()
			rollOnce(t, kind.route, store, kind.newSecrets(store, sealer), kind.pattern, body)
		}
	})
}

// rollOnce is one fuzzed roll on route of a workflow that has a secret of
// the service's kind (kept in store), held to the contract.
func rollOnce(t *testing.T, route *routes.Route, store *memoryStore, service *webhooks.Secrets, pattern *regexp.Regexp, body string) {
	t.Helper()
	const account = "acct_fuzz"
	workflowID := "wf_01jc0000000000000000000000"
	store.setHead(account, workflowID, webhooks.Head{TriggerType: "webhook", HasNotify: true})
	if _, err := service.Create(context.Background(), account, workflowID); err != nil {
		t.Fatal(err)
	}
	before, _ := store.Get(context.Background(), workflowID)
	handler := httpapi.Lambda(httpapi.Handler(route, http.HandlerFunc(webhooks.NewHandlers(service).Roll), httpapi.Deps{Limiter: admitAll{}, Logger: slog.New(slog.DiscardHandler)}))
	resp, err := handler(context.Background(), events.APIGatewayProxyRequest{
		Resource: route.Path, Path: strings.Replace(route.Path, "{id}", workflowID, 1), HTTPMethod: route.Method,
		PathParameters: map[string]string{"id": workflowID},
		Headers:        map[string]string{"Content-Type": "application/json"},
		Body:           body,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "fuzz",
			Authorizer: map[string]any{
				"accountId": account, "keyId": "key_caller", "rateLimitId": "rl_fuzz",
				"scopes": "workflows:write", "lastUsedAt": "0",
			},
		},
	})
	if err != nil {
		t.Fatalf("%s: handler error (API Gateway would answer 502): %v", route.Function, err)
	}
	var envelope struct {
		Success *bool `json:"success"`
		Data    *struct {
			Secret string `json:"secret"`
		} `json:"data"`
		Error *struct {
			Code    string
			Details []domain.FieldError
		}
	}
	if err := json.Unmarshal([]byte(resp.Body), &envelope); err != nil || envelope.Success == nil {
		t.Fatalf("%s: %d: not an envelope: %q", route.Function, resp.StatusCode, resp.Body)
	}
	after, _ := store.Get(context.Background(), workflowID)
	changed := string(after.Current.Ciphertext) != string(before.Current.Ciphertext)
	switch resp.StatusCode {
	case 201:
		if !*envelope.Success || envelope.Data == nil || !pattern.MatchString(envelope.Data.Secret) || !changed {
			t.Fatalf("%s: 201 without a new secret: %s", route.Function, resp.Body)
		}
	case 400, 413, 415:
		if *envelope.Success || envelope.Error == nil || domain.Code(envelope.Error.Code).Status() != resp.StatusCode {
			t.Fatalf("%s: %d with body %s", route.Function, resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == 400 && len(envelope.Error.Details) == 0 {
			t.Fatalf("%s: 400 naming no field: %s", route.Function, resp.Body)
		}
		if changed {
			t.Fatalf("%s: a refused roll (%d) changed the secret", route.Function, resp.StatusCode)
		}
	default:
		t.Fatalf("%s: status %d is not one the route answers: %s", route.Function, resp.StatusCode, resp.Body)
	}
}

// FuzzParseSignatureHeader holds the header parser to: no panic; what it
// accepts has a 32-byte MAC and a positive t, and prints back to a header
// that parses to the same signature.
func FuzzParseSignatureHeader(f *testing.F) {
	for _, seed := range []string{
		"t=1795800000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
		" v1=5257A869E7ECEBEDA32AFFA62CDCA3FA51CAD7E77A0E56FF536D0CE8E108D8BD , t=1 ",
		"", "t=", "v1=", ",", "t=1,v1=", "t=01,v1=00", "t=-1,v1=ab", "t=1,t=2", "t=1e9,v1=zz", "t=1,v1=ab,v0=cd",
		"t=999999999999,v1=0000000000000000000000000000000000000000000000000000000000000000",
		"t=9999999999999,v1=0000000000000000000000000000000000000000000000000000000000000000",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := webhooks.ParseSignatureHeader(header)
		if err != nil {
			if sig.Timestamp != 0 || sig.V1 != nil {
				t.Fatalf("an error with a signature: %+v", sig)
			}
			return
		}
		if sig.Timestamp <= 0 || len(sig.V1) != 32 {
			t.Fatalf("accepted %q as %+v", header, sig)
		}
		again, err := webhooks.ParseSignatureHeader(sig.String())
		if err != nil || again.Timestamp != sig.Timestamp || string(again.V1) != string(sig.V1) {
			t.Fatalf("%q printed as %q, which parses to %+v, %v", header, sig.String(), again, err)
		}
		_ = sig.FreshAt(time.Now())
	})
}
