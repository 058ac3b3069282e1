package webhooks_test

import (
	"context"
	"encoding/json"
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
	"github.com/workflowsapi/workflows/internal/webhooks"
)

type admitAll struct{}

func (admitAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Now().Add(time.Minute)}
}

// FuzzRollWebhookBody runs the roll route's whole Lambda handler (pipeline
// included) on a fuzzed body and holds the answer to the contract: an
// envelope, a status the route documents, a new secret on 201 only, and on
// 400 the field named and the secret left as it was.
func FuzzRollWebhookBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, ``, `{"gracePeriodSeconds":0}`, `{"gracePeriodSeconds":604800}`, `{"gracePeriodSeconds":604801}`,
		`{"gracePeriodSeconds":-1}`, `{"gracePeriodSeconds":1e99}`, `{"gracePeriodSeconds":"60"}`, `{"gracePeriodSeconds":null}`,
		`{"gracePeriodSeconds":1,"gracePeriodSeconds":2}`, `{"grace":1}`, `[]`, `null`, `{`, `"x"`, `{"gracePeriodSeconds":9223372036854775807}`,
	} {
		f.Add(seed)
	}
	sealer := mustLocalSealer(f)
	const account = "acct_fuzz"
	f.Fuzz(func(t *testing.T, body string) {
		store := newMemoryStore()
		service := webhooks.NewSecrets(store, sealer)
		workflowID := "wf_01jc0000000000000000000000"
		store.setTrigger(account, workflowID, "webhook")
		if _, err := service.Create(context.Background(), account, workflowID); err != nil {
			t.Fatal(err)
		}
		before, _ := store.Get(context.Background(), workflowID)
		route := &routes.RollWebhookSecret
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
			t.Fatalf("handler error (API Gateway would answer 502): %v", err)
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
			t.Fatalf("%d: not an envelope: %q", resp.StatusCode, resp.Body)
		}
		after, _ := store.Get(context.Background(), workflowID)
		changed := string(after.Current.Ciphertext) != string(before.Current.Ciphertext)
		switch resp.StatusCode {
		case 201:
			if !*envelope.Success || envelope.Data == nil || !secretPattern.MatchString(envelope.Data.Secret) || !changed {
				t.Fatalf("201 without a new secret: %s", resp.Body)
			}
		case 400, 413, 415:
			if *envelope.Success || envelope.Error == nil || domain.Code(envelope.Error.Code).Status() != resp.StatusCode {
				t.Fatalf("%d with body %s", resp.StatusCode, resp.Body)
			}
			if resp.StatusCode == 400 && len(envelope.Error.Details) == 0 {
				t.Fatalf("400 naming no field: %s", resp.Body)
			}
			if changed {
				t.Fatalf("a refused roll (%d) changed the secret", resp.StatusCode)
			}
		default:
			t.Fatalf("status %d is not one the route answers: %s", resp.StatusCode, resp.Body)
		}
	})
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
