package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/store"
)

// maxKeyNameLength bounds a key's name.
const maxKeyNameLength = 100

// maxGracePeriodSeconds bounds how long a rolled key keeps working: one day.
const maxGracePeriodSeconds = 86400

// keyView is an API key as responses show it. Key is the plaintext, present
// only in the answer that made the key.
type keyView struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Prefix     string         `json:"prefix"`
	Scopes     []domain.Scope `json:"scopes"`
	CreatedAt  string         `json:"createdAt"`
	LastUsedAt *string        `json:"lastUsedAt"`
	ExpiresAt  *string        `json:"expiresAt"`
	Status     string         `json:"status"`
	Key        string         `json:"key,omitempty"`
	RolledFrom string         `json:"rolledFrom,omitempty"`
}

// timeFormat is RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func formatOptionalTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func (h *handlers) viewKey(k domain.APIKey) keyView {
	scopes := k.Scopes
	if scopes == nil {
		scopes = domain.Scopes{}
	}
	return keyView{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: scopes,
		CreatedAt:  formatTime(k.CreatedAt),
		LastUsedAt: formatOptionalTime(k.LastUsedAt),
		ExpiresAt:  formatOptionalTime(k.ExpiresAt),
		Status:     string(k.Status(h.Now())),
	}
}

func (h *handlers) listKeys(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := listParams(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := h.Keys.List(r.Context(), identityOf(r.Context()).AccountID, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) {
		writeError(w, r, domain.Invalid(domain.FieldError{Field: "cursor", Message: "is not a cursor from this listing"}))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	views := make([]keyView, len(page.Items))
	for i, k := range page.Items {
		views[i] = h.viewKey(k)
	}
	writeList(w, views, page.NextCursor)
}

type createKeyRequest struct {
	Name      *string   `json:"name"`
	Scopes    *[]string `json:"scopes"`
	ExpiresAt *string   `json:"expiresAt"`
}

func (h *handlers) createKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	now := h.Now()
	var problems []domain.FieldError
	name := ""
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		problems = append(problems, domain.FieldError{Field: "name", Message: "is required"})
	} else if name = strings.TrimSpace(*req.Name); len([]rune(name)) > maxKeyNameLength {
		problems = append(problems, domain.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxKeyNameLength)})
	}
	var scopes domain.Scopes
	if req.Scopes == nil || len(*req.Scopes) == 0 {
		problems = append(problems, domain.FieldError{Field: "scopes", Message: "must list at least one scope"})
	} else {
		var unknown []string
		scopes, unknown = domain.NormalizeScopes(*req.Scopes)
		for _, u := range unknown {
			problems = append(problems, domain.FieldError{Field: "scopes", Message: fmt.Sprintf("%q is not a scope; scopes are %s", u, domain.Scopes(domain.AllScopes).String())})
		}
	}
	expiresAt, problem := parseExpiry(req.ExpiresAt, now)
	if problem != nil {
		problems = append(problems, *problem)
	}
	if len(problems) > 0 {
		writeError(w, r, domain.Invalid(problems...))
		return
	}
	caller := identityOf(r.Context())
	if !caller.Scopes.Covers(scopes) {
		writeError(w, r, &domain.Error{Code: domain.CodeForbidden, Message: domain.MessageForbidden})
		return
	}
	k := domain.APIKey{
		ID: ids.New(ids.PrefixKey, now), AccountID: caller.AccountID, Name: name, Scopes: scopes,
		CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: expiresAt,
		RateLimitID: ids.New(ids.PrefixRateLimit, now),
	}
	view, err := h.issueKey(r, k)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", r.URL.Path+"/"+k.ID)
	writeData(w, http.StatusCreated, view)
}

// issueKey makes the plaintext for k, stores k with its hash, and returns the
// view that shows the plaintext this once.
func (h *handlers) issueKey(r *http.Request, k domain.APIKey) (keyView, error) {
	k, plaintext, hash, err := apikey.Issue(k)
	if err != nil {
		return keyView{}, err
	}
	if err := h.Keys.Create(r.Context(), k, hash); err != nil {
		return keyView{}, err
	}
	logger(r).InfoContext(r.Context(), "api key created", "new_key_id", k.ID, "scopes", k.Scopes.String())
	view := h.viewKey(k)
	view.Key = plaintext
	return view, nil
}

func parseExpiry(raw *string, now time.Time) (*time.Time, *domain.FieldError) {
	if raw == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *raw)
	if err != nil {
		return nil, &domain.FieldError{Field: "expiresAt", Message: "must be an RFC 3339 timestamp"}
	}
	if !t.After(now) {
		return nil, &domain.FieldError{Field: "expiresAt", Message: "must be in the future"}
	}
	t = t.UTC().Truncate(time.Millisecond)
	return &t, nil
}

func (h *handlers) revokeKey(w http.ResponseWriter, r *http.Request) {
	caller := identityOf(r.Context())
	keyID := r.PathValue("id")
	if !ids.Valid(ids.PrefixKey, keyID) {
		writeError(w, r, domain.ErrNotFound)
		return
	}
	k, err := h.Keys.Revoke(r.Context(), caller.AccountID, keyID, h.Now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).InfoContext(r.Context(), "api key revoked", "revoked_key_id", keyID)
	writeData(w, http.StatusOK, h.viewKey(k))
}

type rollKeyRequest struct {
	GracePeriodSeconds *int64  `json:"gracePeriodSeconds"`
	ExpiresAt          *string `json:"expiresAt"`
}

// rollKey issues a new key with the old one's name, scopes and rate-limit
// identity (so rolling does not reset the window), and makes the old one
// expire when the grace period ends. A caller may only roll a key whose
// scopes it holds itself: otherwise rolling would hand it a stronger key.
func (h *handlers) rollKey(w http.ResponseWriter, r *http.Request) {
	var req rollKeyRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	now := h.Now()
	grace := int64(0)
	var problems []domain.FieldError
	if req.GracePeriodSeconds != nil {
		grace = *req.GracePeriodSeconds
		if grace < 0 || grace > maxGracePeriodSeconds {
			problems = append(problems, domain.FieldError{Field: "gracePeriodSeconds", Message: fmt.Sprintf("must be from 0 to %d", maxGracePeriodSeconds)})
		}
	}
	expiresAt, problem := parseExpiry(req.ExpiresAt, now)
	if problem != nil {
		problems = append(problems, *problem)
	}
	if len(problems) > 0 {
		writeError(w, r, domain.Invalid(problems...))
		return
	}
	caller := identityOf(r.Context())
	oldID := r.PathValue("id")
	if !ids.Valid(ids.PrefixKey, oldID) {
		writeError(w, r, domain.ErrNotFound)
		return
	}
	old, err := h.Keys.ByID(r.Context(), caller.AccountID, oldID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !caller.Scopes.Covers(old.Scopes) {
		writeError(w, r, &domain.Error{Code: domain.CodeForbidden, Message: domain.MessageForbidden})
		return
	}
	if status := old.Status(now); status != domain.KeyActive {
		writeError(w, r, domain.Errorf(domain.CodeConflict, "Only an active key can be rolled; this key is %s", status))
		return
	}
	next := domain.APIKey{
		ID: ids.New(ids.PrefixKey, now), AccountID: caller.AccountID, Name: old.Name, Scopes: old.Scopes,
		CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: expiresAt, RateLimitID: old.RateLimitID,
	}
	view, err := h.issueKey(r, next)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := h.Keys.ExpireBy(r.Context(), caller.AccountID, oldID, now.Add(time.Duration(grace)*time.Second)); err != nil {
		writeError(w, r, err)
		return
	}
	view.RolledFrom = oldID
	writeData(w, http.StatusCreated, view)
}
