// Package receive is the receiving route of webhook workflows, POST
// /api/v1/webhooks/{workflowId}: it checks a delivery's signature with
// internal/webhooks and starts a run of the workflow with the body as its
// input. It is its own feature (routes.FeatureWebhookReceive) so that
// internal/webhooks stays a leaf the workflow routes can link without runs.
//
// A replay of a delivery starts no second run: the run id is derived from
// the workflow and the delivery's signature (DeliveryRunID), so the same
// delivery always asks for the same run and the run store, which refuses a
// second run with a taken id, answers the run it already has. A signature is
// accepted only within webhooks.SignatureTolerance of its time, so the run
// (kept for the runs' retention, 30 days by default) outlives every replay
// that could be accepted; no delivery record is needed beside it.
package receive

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// Delivery is a verified delivery, as the run start takes it.
type Delivery struct {
	AccountID  string
	WorkflowID string
	// RunID is the run this delivery starts: DeliveryRunID of it.
	RunID string
	// Input is the raw body, a valid JSON value.
	Input jsontext.Value
}

// Starter starts the run of a verified delivery with its RunID, trigger
// "webhook", and returns the run's id. A run id already taken is not an
// error: the run that has it is answered (a replay). A workflow that is
// gone is domain.ErrNotFound and a disabled one CONFLICT; an input its
// schema refuses is a VALIDATION_ERROR. The mains wire runs.Service here
// (FromRuns): this package reaches runs only through this function type.
type Starter func(ctx context.Context, d Delivery) (runID string, err error)

// Verifier checks a delivery's signature: webhooks.Secrets.Verify.
type Verifier interface {
	Verify(ctx context.Context, workflowID, signatureHeader string, body []byte, now time.Time) (account string, err error)
}

// Handler is the receiving route's handler.
type Handler struct {
	verifier Verifier
	start    Starter
	now      func() time.Time
}

// New returns the handler; now nil is the wall clock.
func New(verifier Verifier, start Starter, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	return &Handler{verifier: verifier, start: start, now: now}
}

// acceptedView is the answer to a delivery: the run it started (or, for a
// replay, had started).
type acceptedView struct {
	RunID string `json:"runId"`
}

// errUnavailable answers a delivery whose signature could not be checked
// because the secret could not be read or opened: the sender is told to try
// again (senders retry 5xx), and no detail of the failure is shown.
var errUnavailable = domain.Errorf(domain.CodeServiceUnavailable, "The webhook could not be received right now; retry shortly")

// errNotJSON refuses a signed body that is not one JSON value.
var errNotJSON = domain.Invalid(domain.FieldError{Field: "body", Message: "must be a JSON value (the run's input)"})

// ServeHTTP is POST /webhooks/{workflowId}. The pipeline has limited the
// source IP, checked the id's form and the body's size (413) and type. The
// signature is checked before anything else is said about the workflow or
// the body: a caller without the secret learns whether a webhook workflow
// of that id exists (404) and nothing more, never that it is disabled.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	workflowID := r.PathValue("workflowId")
	// One signature per delivery: two, or an event whose header maps
	// disagree on it, are 401, before any read.
	header, err := webhooks.SignatureHeaderOf(r.Header)
	if err == nil && r.Context().Value(disagreeingMapsKey{}) != nil {
		err = webhooks.ErrBadSignature
	}
	if err != nil {
		httpapi.Logger(r).InfoContext(r.Context(), "webhook refused", "workflow_id", workflowID, "reason", "more than one signature")
		httpapi.WriteError(w, r, err)
		return
	}
	account, err := h.verifier.Verify(r.Context(), workflowID, header, body, h.now())
	switch {
	case errors.Is(err, webhooks.ErrBadSignature), errors.Is(err, webhooks.ErrNoWebhook):
		httpapi.WriteError(w, r, err)
		return
	case err != nil:
		httpapi.Logger(r).ErrorContext(r.Context(), "webhook signature not checked", "workflow_id", workflowID, "error", err)
		httpapi.WriteError(w, r, errUnavailable)
		return
	}
	if !jsontext.Value(body).IsValid() {
		httpapi.WriteError(w, r, errNotJSON)
		return
	}
	// Verify accepted the header, so it parses.
	sig, _ := webhooks.ParseSignatureHeader(header)
	delivery := Delivery{AccountID: account, WorkflowID: workflowID, RunID: DeliveryRunID(workflowID, sig), Input: jsontext.Value(body)}
	runID, err := h.start(r.Context(), delivery)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "webhook received", "workflow_id", workflowID, "run_id", runID)
	httpapi.WriteData(w, http.StatusAccepted, acceptedView{RunID: runID})
}

// OneSignatureEvent wraps the route's Lambda handler so that an event
// whose two header maps disagree on X-Webhook-Signature is refused (401),
// as one with two signatures is. API Gateway passes a header given more than
// once with its last value in headers and every value in multiValueHeaders,
// and the proxy adapter reads only multiValueHeaders when there is one: a
// signature in headers that multiValueHeaders lacks would never be seen by
// the handler, which would check another than the one a reader of headers
// takes. The authorizer reads x-api-key from both maps for the same reason.
// The mark rides on the context, which the adapter hands to the request.
func OneSignatureEvent(next httpapi.LambdaHandler) httpapi.LambdaHandler {
	return func(ctx context.Context, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if signatureMapsDisagree(event) {
			ctx = context.WithValue(ctx, disagreeingMapsKey{}, true)
		}
		return next(ctx, event)
	}
}

type disagreeingMapsKey struct{}

// signatureMapsDisagree reports whether headers holds a signature that
// multiValueHeaders does not, or lacks one that it holds. With no
// multiValueHeaders the adapter reads headers itself, every spelling.
func signatureMapsDisagree(event events.APIGatewayProxyRequest) bool {
	if event.MultiValueHeaders == nil {
		return false
	}
	var multi, single []string
	for name, vs := range event.MultiValueHeaders {
		if strings.EqualFold(name, webhooks.SignatureHeader) {
			multi = append(multi, vs...)
		}
	}
	for name, v := range event.Headers {
		if strings.EqualFold(name, webhooks.SignatureHeader) {
			single = append(single, v)
		}
	}
	if len(single) == 0 {
		return len(multi) > 0
	}
	for _, v := range single {
		if !slices.Contains(multi, v) {
			return true
		}
	}
	return false
}

// DeliveryRunID is the id of the run a delivery starts: a run id (a ULID)
// whose time is the signature's t and whose random part is the first 80
// bits of SHA-256 over the workflow id and the signature in its one
// canonical spelling (so "v1=…,t=…" and "t=…, v1=…" are one delivery). The
// same delivery always gets the same id; another delivery (another body,
// time or workflow) gets another, but for a collision of 80 bits among the
// deliveries of one workflow in one millisecond. Its time is the sender's,
// within the 5-minute tolerance of the arrival, so runs sort by when they
// were sent.
func DeliveryRunID(workflowID string, sig webhooks.Signature) string {
	// Verify refused a t more than 5 minutes from now, so the time is far
	// inside what a ULID holds.
	return ids.Derived(ids.PrefixRun, time.Unix(sig.Timestamp, 0), "webhook-delivery\x00"+workflowID+"\x00"+sig.String())
}
