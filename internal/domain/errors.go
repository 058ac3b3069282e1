// Package domain owns the vocabulary every feature shares: error codes and
// their HTTP statuses, scopes, and the page of a listing. It imports nothing
// from the adapters (DynamoDB, HTTP, Lambda), so every layer can share it.
// Each feature's own model lives in its package (internal/keys, ...).
package domain

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error code of the contract's error envelope.
type Code string

// The contract's error codes. NOT_IMPLEMENTED marks routes whose feature lands
// in a later release; they still authenticate, limit and check scope.
const (
	CodeUnauthorized         Code = "UNAUTHORIZED"
	CodeForbidden            Code = "FORBIDDEN"
	CodeNotFound             Code = "NOT_FOUND"
	CodeMethodNotAllowed     Code = "METHOD_NOT_ALLOWED"
	CodeConflict             Code = "CONFLICT"
	CodePreconditionFailed   Code = "PRECONDITION_FAILED"
	CodeValidation           Code = "VALIDATION_ERROR"
	CodePayloadTooLarge      Code = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	CodeRateLimited          Code = "RATE_LIMITED"
	CodeInternal             Code = "INTERNAL_ERROR"
	CodeNotImplemented       Code = "NOT_IMPLEMENTED"
	CodeServiceUnavailable   Code = "SERVICE_UNAVAILABLE"
)

// statusByCode is the one table from error code to HTTP status.
var statusByCode = map[Code]int{
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeConflict:             http.StatusConflict,
	CodePreconditionFailed:   http.StatusPreconditionFailed,
	CodeValidation:           http.StatusBadRequest,
	CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodeInternal:             http.StatusInternalServerError,
	CodeNotImplemented:       http.StatusNotImplemented,
	CodeServiceUnavailable:   http.StatusServiceUnavailable,
}

// Status returns the HTTP status of an error code; unknown codes are 500.
func (c Code) Status() int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Messages fixed by the authentication page: clients compare these strings.
const (
	MessageUnauthorized = "Invalid or missing API key"
	MessageForbidden    = "Insufficient permissions for this operation"
)

// FieldError names one invalid field of a request body or query.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type that carries a code to the client. Its Message is
// safe to show; anything else (a wrapped cause) is for logs only.
type Error struct {
	Code    Code
	Message string
	Details []FieldError
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error with a formatted, client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds a VALIDATION_ERROR naming the offending fields.
func Invalid(details ...FieldError) *Error {
	msg := "The request is invalid"
	if len(details) == 1 {
		msg = details[0].Field + ": " + details[0].Message
	}
	return &Error{Code: CodeValidation, Message: msg, Details: details}
}

// ErrUnauthorized and ErrForbidden carry the authentication page's bodies.
var (
	ErrUnauthorized = &Error{Code: CodeUnauthorized, Message: MessageUnauthorized}
	ErrForbidden    = &Error{Code: CodeForbidden, Message: MessageForbidden}
)

// ErrNotFound is returned by stores when an item is absent (or belongs to
// another account, which callers must not be able to tell apart).
var ErrNotFound = &Error{Code: CodeNotFound, Message: "The resource was not found"}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// INTERNAL_ERROR otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
