package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/workflowsapi/workflows/internal/domain"
)

type envelope struct {
	Success bool      `json:"success"`
	Data    any       `json:"data,omitempty"`
	Meta    *listMeta `json:"meta,omitempty"`
	Error   *errBody  `json:"error,omitempty"`
}

type listMeta struct {
	NextCursor *string `json:"nextCursor"`
}

type errBody struct {
	Code    domain.Code         `json:"code"`
	Message string              `json:"message"`
	Details []domain.FieldError `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeData answers with the success envelope.
func writeData(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, envelope{Success: true, Data: data})
}

// writeList answers with a page and its cursor ("" on the last page).
func writeList(w http.ResponseWriter, data any, nextCursor string) {
	meta := &listMeta{}
	if nextCursor != "" {
		meta.NextCursor = &nextCursor
	}
	writeJSON(w, http.StatusOK, envelope{Success: true, Data: data, Meta: meta})
}

// writeError is the one function that writes error responses. A
// *domain.Error is shown as it is; anything else is logged with its detail and
// answered with a plain INTERNAL_ERROR, so no internal text reaches a client.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *domain.Error
	if !errors.As(err, &e) {
		logger(r).ErrorContext(r.Context(), "internal error", "error", err)
		e = &domain.Error{Code: domain.CodeInternal, Message: "An internal error occurred"}
	}
	writeJSON(w, e.Code.Status(), envelope{Error: &errBody{Code: e.Code, Message: e.Message, Details: e.Details}})
}

type loggerKey struct{}

func logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
