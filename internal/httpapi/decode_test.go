package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
)

// TestOnlyJSONWhitespaceIsAnEmptyBody: a body of JSON's own whitespace
// reads as {}; one of other spaces (\v, \f, a no-break space) is not JSON
// and is refused, as schemathesis found a \v body taken for none.
func TestOnlyJSONWhitespaceIsAnEmptyBody(t *testing.T) {
	for _, body := range []string{"", " ", "\t\r\n "} {
		var dst struct{ A string }
		if err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &dst); err != nil {
			t.Errorf("body %q: %v, want read as {}", body, err)
		}
	}
	for _, body := range []string{"\x0b", "\f", "\u00a0", " \x0b{}"} {
		var dst struct{ A string }
		err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &dst)
		var derr *domain.Error
		if !errors.As(err, &derr) || derr.Code != domain.CodeValidation {
			t.Errorf("body %q: %v, want a VALIDATION_ERROR", body, err)
		}
	}
}
