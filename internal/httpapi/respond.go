package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

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

// writeJSON encodes the answer before anything is written, so that a value
// that cannot be encoded (one nested deeper than encoding/json's limit, a
// NaN) is a 500 envelope with a log line, never a 200 with an empty body.
// The log line names the failure's type only: its text may quote the value.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, body envelope) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(body); err != nil {
		loggerFor(w, r).Error("response not encoded", "status", status, "error_type", fmt.Sprintf("%T", err))
		b.Reset()
		_ = json.NewEncoder(&b).Encode(envelope{Error: &errBody{Code: domain.CodeInternal, Message: "An internal error occurred"}})
		status = domain.CodeInternal.Status()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// WriteData answers with the success envelope.
func WriteData(w http.ResponseWriter, status int, data any) {
	writeJSON(w, nil, status, envelope{Success: true, Data: data})
}

// WritePage answers 200 with one page of a listing, each item shown by view,
// and meta.nextCursor (null on the last page).
func WritePage[T, V any](w http.ResponseWriter, page domain.Page[T], view func(T) V) {
	items := make([]V, len(page.Items))
	for i, it := range page.Items {
		items[i] = view(it)
	}
	meta := &listMeta{}
	if page.NextCursor != "" {
		meta.NextCursor = &page.NextCursor
	}
	writeJSON(w, nil, http.StatusOK, envelope{Success: true, Data: items, Meta: meta})
}

// WriteError is the one function that writes error responses. A
// *domain.Error is shown as it is; anything else is logged with its detail and
// answered with a plain INTERNAL_ERROR, so no internal text reaches a client.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *domain.Error
	if !errors.As(err, &e) {
		Logger(r).ErrorContext(r.Context(), "internal error", "error", err)
		e = &domain.Error{Code: domain.CodeInternal, Message: "An internal error occurred"}
	}
	writeJSON(w, r, e.Code.Status(), envelope{Error: &errBody{Code: e.Code, Message: e.Message, Details: e.Details}})
}

type loggerKey struct{}

// loggerFor is the request's logger, from r or, for a write without it,
// from the pipeline's writer.
func loggerFor(w http.ResponseWriter, r *http.Request) *slog.Logger {
	if r != nil {
		return Logger(r)
	}
	if rec, ok := w.(*statusRecorder); ok && rec.log != nil {
		return rec.log
	}
	return slog.Default()
}

// Logger is the request's logger: it carries the request id and route.
func Logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// TimeFormat is how the API writes times: RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// FormatOptionalTime writes t in TimeFormat, or null for nil.
func FormatOptionalTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatTime(*t)
	return &s
}
