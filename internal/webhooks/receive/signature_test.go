package receive_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ratelimit"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
)

// TestTwoSignaturesAre401ThroughTheGateway: a delivery carrying
// X-Webhook-Signature twice (two values, or two spellings of the name) is
// 401 and starts no run, even when one of the two is a good signature
// (locally net/http's Get would take the first; API Gateway's headers map
// holds the last).
func TestTwoSignaturesAre401ThroughTheGateway(t *testing.T) {
	a := mustAPI(t)
	id, secret := a.mustWorkflow(t, "webhook", true)
	body := []byte(`{"a":1}`)
	good := webhooks.Sign(secret, time.Now(), body)
	other := webhooks.Sign(secret, time.Now().Add(-time.Second), body) // good too
	for name, header := range map[string]http.Header{
		"good then bad":  {"X-Webhook-Signature": {good, "t=1,v1=00"}},
		"bad then good":  {"X-Webhook-Signature": {"t=1,v1=00", good}},
		"two good":       {"X-Webhook-Signature": {good, other}},
		"the same twice": {"X-Webhook-Signature": {good, good}},
		"two spellings":  {"X-Webhook-Signature": {good}, "x-webhook-signature": {other}},
	} {
		t.Run(name, func(t *testing.T) {
			r := gatewaytest.CallWith(t, "POST", a.env.URL+routes.BasePath+"/webhooks/"+id, "", "application/json", header, body)
			if r.Status != http.StatusUnauthorized || r.ErrorCode(t) != string(domain.CodeUnauthorized) {
				t.Fatalf("%d %s, want 401", r.Status, r.Body)
			}
		})
	}
	if n := a.runCount(t); n != 0 {
		t.Fatalf("%d runs started, want 0", n)
	}
	// One good signature is still a delivery.
	accepted(t, a.deliver(t, id, good, body))
}

type admitAll struct{}

func (admitAll) Allow(context.Context, string, ratelimit.Category) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Now().Add(time.Minute)}
}

// TestTwoSignaturesAre401InAnAPIGatewayEvent runs the route's Lambda
// handler as its main builds it on API Gateway-shaped events: two values in
// multiValueHeaders, two spellings in headers, and the two maps disagreeing
// (headers naming a signature multiValueHeaders lacks, which the proxy
// adapter alone would never see) are all 401, before the signature is
// checked; an event whose maps agree on one signature is delivered.
func TestTwoSignaturesAre401InAnAPIGatewayEvent(t *testing.T) {
	body := `{"a":1}`
	good := webhooks.Sign(testSecret, time.Now(), []byte(body))
	other := webhooks.Sign(testSecret, time.Now().Add(-time.Second), []byte(body))
	var starts atomic.Int32
	start := func(_ context.Context, d receive.Delivery) (string, error) {
		starts.Add(1)
		return d.RunID, nil
	}
	route := &routes.ReceiveWebhook
	handler := receive.OneSignatureEvent(httpapi.Lambda(httpapi.Handler(route, receive.New(fakeVerifier{workflowID: workflowID}, start, nil),
		httpapi.Deps{Limiter: admitAll{}, Logger: slog.New(slog.DiscardHandler)})))
	deliver := func(headers map[string]string, multi map[string][]string) int {
		t.Helper()
		resp, err := handler(context.Background(), events.APIGatewayProxyRequest{
			Resource: route.Path, Path: strings.Replace(route.Path, "{workflowId}", workflowID, 1), HTTPMethod: route.Method,
			PathParameters: map[string]string{"workflowId": workflowID},
			Headers:        headers, MultiValueHeaders: multi, Body: body,
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "sig", Identity: events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1"}},
		})
		if err != nil {
			t.Fatalf("handler error: %v", err)
		}
		return resp.StatusCode
	}
	ct := "application/json"
	for name, c := range map[string]struct {
		headers map[string]string
		multi   map[string][]string
	}{
		"two values in multiValueHeaders": {
			map[string]string{"Content-Type": ct, "X-Webhook-Signature": other},
			map[string][]string{"Content-Type": {ct}, "X-Webhook-Signature": {good, other}}},
		"two spellings in headers": {
			map[string]string{"Content-Type": ct, "X-Webhook-Signature": good, "x-webhook-signature": other}, nil},
		"two spellings in multiValueHeaders": {
			map[string]string{"Content-Type": ct, "x-webhook-signature": other},
			map[string][]string{"Content-Type": {ct}, "X-Webhook-Signature": {good}, "x-webhook-signature": {other}}},
		"the maps disagree": {
			map[string]string{"Content-Type": ct, "X-Webhook-Signature": other},
			map[string][]string{"Content-Type": {ct}, "X-Webhook-Signature": {good}}},
		"only headers has one": {
			map[string]string{"Content-Type": ct, "X-Webhook-Signature": good},
			map[string][]string{"Content-Type": {ct}}},
		"only multiValueHeaders has one": {
			map[string]string{"Content-Type": ct},
			map[string][]string{"Content-Type": {ct}, "X-Webhook-Signature": {good}}},
	} {
		if status := deliver(c.headers, c.multi); status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, status)
		}
	}
	if n := starts.Load(); n != 0 {
		t.Fatalf("%d runs started, want 0", n)
	}
	// API Gateway's own shape of one signature: the last value in headers,
	// every value in multiValueHeaders (here one), and headers alone.
	if status := deliver(map[string]string{"Content-Type": ct, "x-webhook-signature": good},
		map[string][]string{"Content-Type": {ct}, "X-Webhook-Signature": {good}}); status != http.StatusAccepted {
		t.Errorf("one signature, maps agreeing: %d, want 202", status)
	}
	if status := deliver(map[string]string{"Content-Type": ct, "X-Webhook-Signature": good}, nil); status != http.StatusAccepted {
		t.Errorf("one signature in headers alone: %d, want 202", status)
	}
}
