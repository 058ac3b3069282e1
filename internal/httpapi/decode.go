package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsonbody"
	"github.com/workflowsapi/workflows/internal/jsonfield"
)

// DecodeJSON reads the (already size- and type-checked) body into dst.
// Names are matched exactly, a name given twice and an unknown name are
// refused, as are malformed JSON, invalid UTF-8 and wrongly typed values: each
// a VALIDATION_ERROR naming the field by its path (scopes[0], steps[2].with).
// The decoding is go-json-experiment/json's (the design of encoding/json/v2),
// which does all of this itself. The body is read by jsonbody's rules: no
// body at all reads as {}, one of only whitespace is refused, and an integer
// field takes any number whose value is an integer (60.0, 6e1).
func DecodeJSON(r *http.Request, dst any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if body, err = jsonbody.Text(body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst, json.RejectUnknownMembers(true), jsonbody.Integers()); err != nil {
		return jsonError(err)
	}
	if trimmed := bytes.Trim(body, jsonbody.Whitespace); trimmed[0] != '{' {
		// null decodes into a struct without error, as nothing at all.
		return domain.Invalid(domain.FieldError{Field: "body", Message: "must be a JSON object"})
	}
	return rejectNullMembers(body)
}

// rejectNullMembers refuses a field of the body given as null. Decoding
// reads null as "absent", but a caller who sends "expiresAt": null may mean
// "never" (what null means in a response), and the API must not guess: leave
// the field out, or give it a value. Only the body's own members are held to
// this; values that are any JSON (a step's body) keep their nulls.
func rejectNullMembers(body []byte) error {
	var members map[string]jsontext.Value
	if err := json.Unmarshal(body, &members); err != nil {
		return nil // not an object; the decoding above has said what it had to
	}
	var problems []domain.FieldError
	for name, value := range members {
		if value.Kind() == 'n' {
			problems = append(problems, domain.FieldError{Field: name, Message: "must not be null; leave the field out instead"})
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.SortFunc(problems, func(a, b domain.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return domain.Invalid(problems...)
}

func jsonError(err error) error {
	var syntactic *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &syntactic) && errors.Is(syntactic.Err, jsontext.ErrDuplicateName):
		return domain.Invalid(domain.FieldError{Field: jsonfield.OrBody(jsonfield.Pointer("", syntactic.JSONPointer)), Message: "appears more than once"})
	case errors.As(err, &semantic) && errors.Is(semantic.Err, json.ErrUnknownName):
		return domain.Invalid(domain.FieldError{Field: jsonfield.OrBody(jsonfield.Pointer("", semantic.JSONPointer)), Message: "is not a known field"})
	case errors.As(err, &semantic) && semantic.GoType != nil && semantic.JSONKind != 0:
		field := jsonfield.OrBody(jsonfield.Pointer("", semantic.JSONPointer))
		if field == "body" {
			return domain.Invalid(domain.FieldError{Field: "body", Message: "must be a JSON object"})
		}
		return domain.Invalid(domain.FieldError{Field: field, Message: "must be " + jsonfield.TypeName(semantic.GoType)})
	default:
		return domain.Invalid(domain.FieldError{Field: "body", Message: "is not valid JSON"})
	}
}

// ListParams reads ?limit= (an integer from 1 to 100, default 20) and
// ?cursor=. Anything else in limit, a value that is not a number or a limit
// given twice included, is a VALIDATION_ERROR rather than a default page.
func ListParams(r *http.Request) (limit int, cursor string, err error) {
	limit = 20
	query := r.URL.Query()
	if raw, given := query["limit"]; given {
		if len(raw) > 1 {
			return 0, "", domain.Invalid(domain.FieldError{Field: "limit", Message: "must be given once"})
		}
		n, convErr := strconv.Atoi(raw[0])
		if convErr != nil || n < 1 || n > 100 {
			return 0, "", domain.Invalid(domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		}
		limit = n
	}
	return limit, query.Get("cursor"), nil
}
