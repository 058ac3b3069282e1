package webhooks

import (
	"net/http"
	"time"

	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Handlers are the HTTP handlers of one kind of secret's routes. Each
// function's main hands one of them to the pipeline.
type Handlers struct {
	secrets *Secrets
}

// NewHandlers returns the handlers on the secrets service (NewSecrets for
// the webhook roll, NewNotifySecrets for the notify roll).
func NewHandlers(secrets *Secrets) *Handlers { return &Handlers{secrets: secrets} }

// URLPath is the path of a workflow's receiving route, for PublicURL.
func URLPath(workflowID string) string { return routes.BasePath + "/webhooks/" + workflowID }

// rolledView is the answer to a roll: the one place the new secret is shown.
type rolledView struct {
	WorkflowID string `json:"workflowId"`
	// Secret is the new secret.
	Secret string `json:"secret"`
	// URL is where deliveries go, for a kind the API receives (webhook);
	// absent for one the API sends (notify: the workflow's notify.url says
	// where, and GET /workflows/{id} shows it).
	URL string `json:"url,omitempty"`
	// PreviousSecretExpiresAt is when the replaced secret stops working;
	// null when it stopped at once (no grace period).
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
}

// RollRequest is the body of a roll: POST /workflows/{id}/webhook/roll and
// POST /workflows/{id}/notify/roll.
type RollRequest struct {
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
}

// ParseRollRequest reads a roll's body (an empty one means no grace period)
// and returns the grace period it asks for. Anything but an object with at
// most an integer gracePeriodSeconds from 0 to 604800 is a VALIDATION_ERROR.
func ParseRollRequest(r *http.Request) (time.Duration, error) {
	var req RollRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return 0, err
	}
	if req.GracePeriodSeconds == nil {
		return 0, nil
	}
	seconds := *req.GracePeriodSeconds
	// Checked in seconds before converting, so a huge value cannot overflow
	// into a valid-looking duration.
	if seconds < 0 || seconds > int64(MaxGracePeriod/time.Second) {
		return 0, errGracePeriod()
	}
	return time.Duration(seconds) * time.Second, nil
}

// Roll is POST /workflows/{id}/webhook/roll or /workflows/{id}/notify/roll,
// by the kind of the handlers' secrets.
func (h *Handlers) Roll(w http.ResponseWriter, r *http.Request) {
	grace, err := ParseRollRequest(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	workflowID := r.PathValue("id")
	secret, previousValidUntil, err := h.secrets.Roll(r.Context(), httpapi.IdentityOf(r.Context()).AccountID, workflowID, grace)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	view := rolledView{WorkflowID: workflowID, Secret: secret}
	if receivedAt := h.secrets.kind.receivedAt; receivedAt != nil {
		view.URL = httpapi.PublicURL(r, receivedAt(workflowID))
	}
	if !previousValidUntil.IsZero() {
		view.PreviousSecretExpiresAt = httpapi.FormatOptionalTime(&previousValidUntil)
	}
	httpapi.Logger(r).InfoContext(r.Context(), h.secrets.kind.name+" rolled", "workflow_id", workflowID, "grace_period_seconds", int64(grace/time.Second))
	httpapi.WriteData(w, http.StatusCreated, view)
}
