package receive_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/webhooks"
	"github.com/workflowsapi/workflows/internal/webhooks/receive"
)

const testSecret = webhooks.SecretPrefix + "q3Jb0oZ5m2vTq0y6cX1kYwq7m0l9x3fV8bJ2nH4sD6E"

// fakeVerifier checks signatures with testSecret for one workflow, or
// fails as told.
type fakeVerifier struct {
	workflowID string
	fail       error
}

func (f fakeVerifier) Verify(_ context.Context, workflowID, header string, body []byte, now time.Time) (string, error) {
	if f.fail != nil {
		return "", f.fail
	}
	sig, err := webhooks.ParseSignatureHeader(header)
	if err != nil || !sig.FreshAt(now) {
		return "", webhooks.ErrBadSignature
	}
	if workflowID != f.workflowID {
		return "", webhooks.ErrNoWebhook
	}
	if !sig.Matches([]byte(testSecret), body) {
		return "", webhooks.ErrBadSignature
	}
	return "acct_a", nil
}

// serve hands one delivery to the route's handler (the pipeline before it,
// limiter and body checks, is the gateway tests' part).
func serve(t testing.TB, v receive.Verifier, start receive.Starter, workflowID, signature string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", routes.BasePath+"/webhooks/"+workflowID, bytes.NewReader(body))
	req.SetPathValue("workflowId", workflowID)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(webhooks.SignatureHeader, signature)
	}
	rec := httptest.NewRecorder()
	receive.New(v, start, nil).ServeHTTP(rec, req)
	return rec
}

const workflowID = "wf_01jer3s4n0eybg5ex99q9mx0qt"

func TestASecretThatCannotBeReadIs503AndStartsNothing(t *testing.T) {
	started := 0
	start := func(context.Context, receive.Delivery) (string, error) { started++; return "run_x", nil }
	body := []byte(`{}`)
	rec := serve(t, fakeVerifier{fail: errors.New("kms: throttled")}, start, workflowID, webhooks.Sign(testSecret, time.Now(), body), body)
	if rec.Code != http.StatusServiceUnavailable || bytes.Contains(rec.Body.Bytes(), []byte("kms")) {
		t.Fatalf("%d %s, want 503 saying nothing of the cause", rec.Code, rec.Body)
	}
	if started != 0 {
		t.Fatal("a run was started")
	}
}

func TestTheDeliveryHandedToTheStarterIsTheVerifiedOne(t *testing.T) {
	var got receive.Delivery
	start := func(_ context.Context, d receive.Delivery) (string, error) { got = d; return d.RunID, nil }
	body := []byte(`[1, "two", {"three": 3}]`)
	at := time.Now()
	rec := serve(t, fakeVerifier{workflowID: workflowID}, start, workflowID, webhooks.Sign(testSecret, at, body), body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got.AccountID != "acct_a" || got.WorkflowID != workflowID || !bytes.Equal(got.Input, body) {
		t.Fatalf("delivery %+v", got)
	}
	sig, _ := webhooks.ParseSignatureHeader(webhooks.Sign(testSecret, at, body))
	if got.RunID != receive.DeliveryRunID(workflowID, sig) {
		t.Fatalf("run id %s, want the delivery's", got.RunID)
	}
}

// TestABodyThatIsNotOneJSONValueStartsNothing: a delivery's body is the
// run's input, taken as the signed bytes it is, so it is never read as {}:
// no body and a body of only whitespace (issue 19) are refused on body as
// not JSON, however well signed, while numbers reach the input as written.
func TestABodyThatIsNotOneJSONValueStartsNothing(t *testing.T) {
	for _, body := range []string{"", "  \n", " ", "\t\r\n"} {
		started := 0
		start := func(context.Context, receive.Delivery) (string, error) { started++; return "run_x", nil }
		rec := serve(t, fakeVerifier{workflowID: workflowID}, start, workflowID, webhooks.Sign(testSecret, time.Now(), []byte(body)), []byte(body))
		if rec.Code != http.StatusBadRequest || !bytes.Contains(rec.Body.Bytes(), []byte(`"field":"body"`)) || started != 0 {
			t.Errorf("body %q: %d %s, %d runs started; want 400 on body and none", body, rec.Code, rec.Body, started)
		}
	}
	var got receive.Delivery
	start := func(_ context.Context, d receive.Delivery) (string, error) { got = d; return d.RunID, nil }
	body := []byte(`{"n":60.0,"m":1e1}`)
	if rec := serve(t, fakeVerifier{workflowID: workflowID}, start, workflowID, webhooks.Sign(testSecret, time.Now(), body), body); rec.Code != http.StatusAccepted || !bytes.Equal(got.Input, body) {
		t.Errorf("%d %s, input %s; want 202 with the input as sent", rec.Code, rec.Body, got.Input)
	}
}

func TestDeliveryRunIDIsAValidRunIDStableForADeliveryAndDistinctOtherwise(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sig := func(secret string, t time.Time, body string) webhooks.Signature {
		s, _ := webhooks.ParseSignatureHeader(webhooks.Sign(secret, t, []byte(body)))
		return s
	}
	id := receive.DeliveryRunID(workflowID, sig(testSecret, at, "{}"))
	if !ids.Valid(ids.PrefixRun, id) {
		t.Fatalf("%q is not a run id", id)
	}
	if again := receive.DeliveryRunID(workflowID, sig(testSecret, at, "{}")); again != id {
		t.Fatalf("%s then %s for one delivery", id, again)
	}
	others := []string{
		receive.DeliveryRunID(workflowID, sig(testSecret, at, `{"a":1}`)),
		receive.DeliveryRunID(workflowID, sig(testSecret, at.Add(time.Second), "{}")),
		receive.DeliveryRunID("wf_01jer3s4n0eybg5ex99q9mx0qv", sig(testSecret, at, "{}")),
	}
	for _, other := range others {
		if other == id {
			t.Fatalf("another delivery got %s too", id)
		}
	}
	// Its time is the signature's, so runs sort by when they were sent.
	earlier := receive.DeliveryRunID(workflowID, sig(testSecret, at.Add(-time.Minute), "{}"))
	if earlier >= id {
		t.Errorf("%s (a minute earlier) does not sort before %s", earlier, id)
	}
}

// FuzzReceive sends any signature header and body through the route: it
// never panics, answers one of the contract's statuses, and starts a run
// only for a delivery it accepted.
func FuzzReceive(f *testing.F) {
	now := time.Now()
	f.Add(webhooks.Sign(testSecret, now, []byte(`{"a":1}`)), []byte(`{"a":1}`))
	f.Add(webhooks.Sign(testSecret, now, []byte(`{"a":`)), []byte(`{"a":`))
	f.Add("t=1,v1=00", []byte(`{}`))
	f.Add("", []byte(``))
	f.Add(webhooks.Sign(testSecret, now, []byte("\"\xff\"")), []byte("\"\xff\""))
	f.Add(webhooks.Sign(testSecret, now, []byte("  \n")), []byte("  \n"))
	f.Add(webhooks.Sign(testSecret, now, []byte(`{"n":60.0,"m":1e1}`)), []byte(`{"n":60.0,"m":1e1}`))
	f.Fuzz(func(t *testing.T, signature string, body []byte) {
		started := 0
		start := func(_ context.Context, d receive.Delivery) (string, error) { started++; return d.RunID, nil }
		rec := serve(t, fakeVerifier{workflowID: workflowID}, start, workflowID, signature, body)
		switch rec.Code {
		case http.StatusAccepted:
			if started != 1 {
				t.Fatalf("202 with %d runs started", started)
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			if started != 0 {
				t.Fatalf("%d with a run started", rec.Code)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
