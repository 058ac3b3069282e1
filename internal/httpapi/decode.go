package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/workflowsapi/workflows/internal/domain"
)

// DecodeJSON reads the (already size- and type-checked) body into dst.
// Malformed JSON, unknown fields and wrongly typed fields are
// VALIDATION_ERRORs naming the field. An empty body reads as {}.
func DecodeJSON(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return domain.Invalid(domain.FieldError{Field: "body", Message: "must hold a single JSON object"})
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid(domain.FieldError{Field: "body", Message: "is not valid JSON"})
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return domain.Invalid(domain.FieldError{Field: "body", Message: "must be a JSON object"})
		}
		return domain.Invalid(domain.FieldError{Field: field, Message: "must be of type " + jsonTypeName(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return domain.Invalid(domain.FieldError{Field: name, Message: "is not a known field"})
	default:
		return domain.Invalid(domain.FieldError{Field: "body", Message: "is not valid JSON"})
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

// ListParams reads ?limit= (1–100, default 20) and ?cursor=.
func ListParams(r *http.Request) (limit int, cursor string, err error) {
	limit = 20
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, convErr := strconv.Atoi(raw)
		if convErr != nil || n < 1 || n > 100 {
			return 0, "", domain.Invalid(domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		}
		limit = n
	}
	return limit, r.URL.Query().Get("cursor"), nil
}
