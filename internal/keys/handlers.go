package keys

import (
	"net/http"
	"strings"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Handlers are the HTTP handlers of the key routes. Each function's main
// hands one of them to the pipeline.
type Handlers struct {
	service *Service
}

// NewHandlers returns the handlers on service.
func NewHandlers(service *Service) *Handlers { return &Handlers{service: service} }

// view is a key as responses show it. Key is the plaintext, present only in
// the answer that made the key.
type view struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Prefix     string         `json:"prefix"`
	Scopes     []domain.Scope `json:"scopes"`
	CreatedAt  string         `json:"createdAt"`
	LastUsedAt *string        `json:"lastUsedAt"`
	ExpiresAt  *string        `json:"expiresAt"`
	Status     Status         `json:"status"`
	Key        string         `json:"key,omitempty"`
	RolledFrom string         `json:"rolledFrom,omitempty"`
}

func (h *Handlers) view(k Key) view {
	scopes := k.Scopes
	if scopes == nil {
		scopes = domain.Scopes{}
	}
	return view{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: scopes,
		CreatedAt:  httpapi.FormatTime(k.CreatedAt),
		LastUsedAt: httpapi.FormatOptionalTime(k.LastUsedAt),
		ExpiresAt:  httpapi.FormatOptionalTime(k.ExpiresAt),
		Status:     k.Status(h.service.Now()),
	}
}

func callerOf(r *http.Request) Caller {
	id := httpapi.IdentityOf(r.Context())
	return Caller{AccountID: id.AccountID, KeyID: id.KeyID, Scopes: id.Scopes, ExpiresAt: id.ExpiresAt}
}

// List is GET /auth/api-keys.
func (h *Handlers) List(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := httpapi.ListParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	page, err := h.service.List(r.Context(), callerOf(r), limit, cursor)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WritePage(w, page, h.view)
}

type createRequest struct {
	Name      *string   `json:"name"`
	Scopes    *[]string `json:"scopes"`
	ExpiresAt *string   `json:"expiresAt"`
}

// Create is POST /auth/api-keys.
func (h *Handlers) Create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	issued, err := h.service.Issue(r.Context(), callerOf(r), IssueRequest(req))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "api key created", "new_key_id", issued.Key.ID, "scopes", issued.Key.Scopes.String())
	// Built from the route, not the request, so a request path with a
	// trailing slash still gets a clean Location.
	w.Header().Set("Location", strings.Replace(routes.RevokeAPIKey.Path, "{id}", issued.Key.ID, 1))
	v := h.view(issued.Key)
	v.Key = issued.Plaintext
	httpapi.WriteData(w, http.StatusCreated, v)
}

// Revoke is DELETE /auth/api-keys/{id}.
func (h *Handlers) Revoke(w http.ResponseWriter, r *http.Request) {
	k, err := h.service.Revoke(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "api key revoked", "revoked_key_id", k.ID)
	httpapi.WriteData(w, http.StatusOK, h.view(k))
}

type rollRequest struct {
	GracePeriodSeconds *int64  `json:"gracePeriodSeconds"`
	ExpiresAt          *string `json:"expiresAt"`
}

// Roll is POST /auth/api-keys/{id}/roll.
func (h *Handlers) Roll(w http.ResponseWriter, r *http.Request) {
	var req rollRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	oldID := r.PathValue("id")
	issued, err := h.service.Roll(r.Context(), callerOf(r), oldID, RollRequest(req))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "api key rolled", "new_key_id", issued.Key.ID, "rolled_key_id", oldID)
	v := h.view(issued.Key)
	v.Key, v.RolledFrom = issued.Plaintext, oldID
	httpapi.WriteData(w, http.StatusCreated, v)
}
