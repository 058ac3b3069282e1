package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
)

// decodeInto runs DecodeJSON on a POST whose body is body.
func decodeInto(body string, dst any) error {
	return DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), dst)
}

// requireRefusal fails unless err is a VALIDATION_ERROR with one detail, at
// field, whose message holds message.
func requireRefusal(t *testing.T, body string, err error, field, message string) {
	t.Helper()
	var derr *domain.Error
	if !errors.As(err, &derr) || derr.Code != domain.CodeValidation || len(derr.Details) != 1 ||
		derr.Details[0].Field != field || !strings.Contains(derr.Details[0].Message, message) {
		t.Errorf("body %q: %#v, want a VALIDATION_ERROR on %s saying %q", body, err, field, message)
	}
}

// TestOnlyNoBodyIsAnEmptyBody: a body of zero bytes reads as {} (curl -X
// POST with no body); one of only JSON whitespace is not JSON and is refused
// on body (the fuzzer found "  \n" taken for {}), as is one of other spaces
// (\v, \f, a no-break space), which schemathesis once found taken for none.
func TestOnlyNoBodyIsAnEmptyBody(t *testing.T) {
	var dst struct{ A string }
	if err := decodeInto("", &dst); err != nil {
		t.Errorf("no body: %v, want read as {}", err)
	}
	for _, body := range []string{" ", "  \n", "\t\r\n "} {
		var dst struct{ A string }
		requireRefusal(t, body, decodeInto(body, &dst), "body", "only whitespace is not JSON")
	}
	for _, body := range []string{"\x0b", "\f", "\u00a0", " \x0b{}"} {
		var dst struct{ A string }
		requireRefusal(t, body, decodeInto(body, &dst), "body", "is not valid JSON")
	}
	// Whitespace around an object is JSON's own and allowed.
	if err := decodeInto(" {\"A\":\"x\"}\n", &dst); err != nil || dst.A != "x" {
		t.Errorf("an object with whitespace around it: %+v, %v", dst, err)
	}
}

type withIntegers struct {
	GracePeriodSeconds *int64           `json:"gracePeriodSeconds"`
	Limit              int              `json:"limit"`
	Nested             *struct{ N int } `json:"nested"`
	Input              jsontext.Value   `json:"input"`
}

// TestIntegerFieldsTakeIntegralNumbers: an integer field takes 60.0, 6e1,
// 1E1 and 60.000 (Python's json.dumps(60.0) sends 60.0); 1.5, -0.5, 1e400
// and a number out of the field's range are still refused, with the
// message and field they had. A value kept as any JSON keeps its number as
// written.
func TestIntegerFieldsTakeIntegralNumbers(t *testing.T) {
	for number, want := range map[string]int64{"60": 60, "60.0": 60, "6e1": 60, "60.000": 60, "1E1": 10, "-2.0": -2} {
		var dst withIntegers
		body := `{"gracePeriodSeconds":` + number + `,"limit":` + number + `,"nested":{"N":` + number + `},"input":{"n":` + number + `}}`
		if err := decodeInto(body, &dst); err != nil {
			t.Errorf("%s: %v", number, err)
			continue
		}
		if dst.GracePeriodSeconds == nil || *dst.GracePeriodSeconds != want || dst.Limit != int(want) || dst.Nested.N != int(want) {
			t.Errorf("%s read as %+v", number, dst)
		}
		if string(dst.Input) != `{"n":`+number+`}` {
			t.Errorf("%s: input rewritten to %s", number, dst.Input)
		}
	}
	for _, number := range []string{"1.5", "-0.5", "1e400", "0.1e0", "9223372036854775808", "9.3e18", "1e-1"} {
		var dst withIntegers
		body := `{"gracePeriodSeconds":` + number + `}`
		requireRefusal(t, body, decodeInto(body, &dst), "gracePeriodSeconds", "must be an integer")
		body = `{"nested":{"N":` + number + `}}`
		requireRefusal(t, body, decodeInto(body, &dst), "nested.N", "must be an integer")
	}
	// What is not a number is refused as before.
	var dst withIntegers
	requireRefusal(t, `{"limit":"60"}`, decodeInto(`{"limit":"60"}`, &dst), "limit", "must be an integer")
	requireRefusal(t, `{"limit":null}`, decodeInto(`{"limit":null}`, &dst), "limit", "must not be null")
}
