// Package jsonbody holds two rules for reading a JSON request body: what a
// body with nothing in it means, and which numbers a field of an integer
// type takes. httpapi.DecodeJSON (every route's struct-decoded body) and the
// workflow definition parser, which decodes by hand, both follow them, so the
// routes cannot drift apart on either.
package jsonbody

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Whitespace is what RFC 8259 counts as whitespace, which may surround a
// body's value. bytes.TrimSpace would also trim \v, \f and Unicode spaces,
// which JSON does not allow anywhere.
const Whitespace = " \t\n\r"

// None reports whether a request has no body: zero bytes, and nothing else.
// A body of only whitespace is a body (one that Text refuses), so the
// media-type check, the depth check and the idempotency fingerprint all
// take it as sent.
func None(body []byte) bool { return len(body) == 0 }

// ErrOnlyWhitespace refuses a body that has bytes, all of them whitespace.
var ErrOnlyWhitespace = domain.Invalid(domain.FieldError{
	Field:   "body",
	Message: "must be a JSON value; a body of only whitespace is not JSON — send no body at all, or {}",
})

// Text is the JSON text a request body is read as. A body of zero bytes is
// {}: a POST with nothing to say (curl -X POST …/cancel) sends no body, and
// means no options. A body of only whitespace is refused (ErrOnlyWhitespace):
// RFC 8259 has no empty JSON text, and a client that sent bytes meant to send
// something (the fuzzer found "  \n" started a run as if it were {}). Any
// other body is returned as it is, for the decoder to judge.
func Text(body []byte) ([]byte, error) {
	if None(body) {
		return []byte("{}"), nil
	}
	if len(bytes.Trim(body, Whitespace)) == 0 {
		return nil, ErrOnlyWhitespace
	}
	return body, nil
}

// Integers is the decoding option by which a field of a Go integer type
// takes any JSON number whose value is an integer in the field's range: 60,
// and also 60.0, 6e1 and 60.000. JSON has one number type (RFC 8259), so
// these are all the same number, and clients write them (Python's
// json.dumps(60.0) sends 60.0). A number with a fraction (1.5, -0.5), or out
// of the field's range (1e400), is refused as the default decoding refuses
// 1.5, with the same error ("must be an integer").
//
// It is an option of the decoder, not a rewrite of the body, so it applies
// only where the destination is an integer: values kept as any JSON (a
// step's body, a run's input, an input schema's enum) keep the numbers as
// they were written. It matches the built-in integer types only (int, int64,
// uint8, …), not named ones (type Seconds int), as type-specific unmarshalers
// do; and no request field is tagged `,string`, whose quoted numbers it
// leaves to the default decoding.
//
// It is a function, built on first use, and not a package variable: a
// variable's initializer runs in every binary that imports this package,
// so it linked go-json-experiment/json's whole decoder, about 0.5 MiB, into
// the functions that never decode a body (the read routes) and built the
// option at each of their starts. functions/links_test.go holds them to it.
func Integers() json.Options {
	integersOnce.Do(func() {
		integers = json.WithUnmarshalers(json.JoinUnmarshalers(
			json.UnmarshalFromFunc(integer[int]),
			json.UnmarshalFromFunc(integer[int8]),
			json.UnmarshalFromFunc(integer[int16]),
			json.UnmarshalFromFunc(integer[int32]),
			json.UnmarshalFromFunc(integer[int64]),
			json.UnmarshalFromFunc(integer[uint]),
			json.UnmarshalFromFunc(integer[uint8]),
			json.UnmarshalFromFunc(integer[uint16]),
			json.UnmarshalFromFunc(integer[uint32]),
			json.UnmarshalFromFunc(integer[uint64]),
			json.UnmarshalFromFunc(integer[uintptr]),
		))
	})
	return integers
}

var (
	integersOnce sync.Once
	integers     json.Options
)

// integerType is every Go integer type Integers decodes.
type integerType interface {
	int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64 | uintptr
}

// integer decodes a JSON number into dst by way of its plain integer
// spelling, so that the default decoding, given 60 for 60.0, checks the
// range and reports errors exactly as it does for a number written 60.
// Anything but a number (null, a string, an object) is left to the default
// decoding untouched, with its own answer.
func integer[T integerType](dec *jsontext.Decoder, dst *T) error {
	if dec.PeekKind() != '0' {
		return errors.ErrUnsupported // read nothing: the default decoding takes over
	}
	number, err := dec.ReadValue()
	if err != nil {
		return err
	}
	// Unmarshal without Integers: the default's integer decoding, no loop.
	return json.Unmarshal(integerLiteral(number), dst)
}

// maxIntegerDigits is the most digits a value of any Go integer type has
// (uint64's 18446744073709551615 has 20). A number that would need more is
// out of every field's range; it is left as written, for the default
// decoding to refuse, so that 1e999999999 never becomes a billion digits.
const maxIntegerDigits = 20

// maxExponent bounds the exponent read from a number: beyond it the value
// has far more than maxIntegerDigits digits, or is far below 1.
const maxExponent = 1 << 20

// integerLiteral returns number, a well-formed JSON number, written as a
// plain integer (digits, a leading - if negative) when it has a fraction
// or an exponent and its value is an integer of at most maxIntegerDigits
// digits: 60.0, 6e1, 600e-1 and 60.000 are 60, -0.0 is 0. Any other number
// is returned as it is (60, 1.5, 1e400), for the default decoding to take
// or refuse.
func integerLiteral(number []byte) []byte {
	text := string(number)
	mantissa, exponent, hasExponent := strings.Cut(strings.ToLower(text), "e")
	whole, fraction, hasFraction := strings.Cut(mantissa, ".")
	if !hasExponent && !hasFraction {
		return number
	}
	negative := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	// The value is digits × 10^shift.
	digits := strings.TrimLeft(whole+fraction, "0")
	if digits == "" {
		return []byte("0") // 0.0, -0e5, 0e-99999999999: zero, whatever the exponent
	}
	shift := -len(fraction)
	significant := strings.TrimRight(digits, "0")
	shift += len(digits) - len(significant)
	if hasExponent {
		e, err := strconv.Atoi(exponent) // JSON allows e+5 and e05; Atoi reads both
		if err != nil || e > maxExponent || e < -maxExponent {
			return number // far out of range, or far below 1
		}
		shift += e
	}
	if shift < 0 || len(significant)+shift > maxIntegerDigits {
		return number // a fraction (1.5, 15e-1), or too many digits for any field
	}
	var plain strings.Builder
	if negative {
		plain.WriteByte('-')
	}
	plain.WriteString(significant)
	plain.WriteString(strings.Repeat("0", shift))
	return []byte(plain.String())
}
