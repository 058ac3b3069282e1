package workflows

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
)

// FuzzVersionParam holds ?version= to its rule on any query: no panic; a
// refusal is a VALIDATION_ERROR naming `version`; an accepted value is a
// positive integer given once in its canonical spelling (the value read
// prints back as the text given: no leading zero, sign, space, fraction or
// exponent), and absent means 0 (the current version).
func FuzzVersionParam(f *testing.F) {
	for _, seed := range []string{"", "version=1", "version=0", "version=-1", "version=abc", "version=1&version=2", "version=%zz", "version=", "version=99999999999999999999", "version=+3", "version=1%00",
		"version=01", "version=%2B1", "version=+1", "version=%201", "version=1%20", "version=1.0", "version=1e0", "version=00", "version=0x1", "version=1_000", "version=12", "version=9223372036854775807", "version=2147483647", "version=2147483648"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/api/v1/workflows/wf_x", nil)
		r.URL.RawQuery = rawQuery
		n, err := versionParam(r)
		values, given := r.URL.Query()["version"]
		if err != nil {
			var e *domain.Error
			if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) != 1 || e.Details[0].Field != "version" {
				t.Fatalf("refused %q with %#v, want a VALIDATION_ERROR on version", rawQuery, err)
			}
			return
		}
		switch {
		case !given && n != 0:
			t.Fatalf("no version in %q, got %d", rawQuery, n)
		case given && (len(values) != 1 || n < 1 || n > MaxWorkflowStepVersion):
			t.Fatalf("accepted %q as %d", rawQuery, n)
		case given:
			if strconv.Itoa(n) != values[0] {
				t.Fatalf("%q read as %d: only the canonical spelling of an integer is a version", rawQuery, n)
			}
		}
	})
}

// FuzzIfMatch holds If-Match to RFC 9110's strong comparison: a header
// matches version v only if one of its comma-separated tags is "v" exactly
// or *, never a weak tag, and reading it never panics.
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"1"`, `W/"1"`, `*`, `"1", "2"`, `"01"`, ``, `"`, `""`, `1`, `"1",`, ` "1" `} {
		f.Add(seed, 1)
	}
	f.Fuzz(func(t *testing.T, header string, version int) {
		if version < 1 {
			return
		}
		got := IfMatch([]string{header}).matches(version)
		want := false
		for _, tag := range strings.Split(header, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || tag == `"`+strconv.Itoa(version)+`"` {
				want = true
			}
		}
		if got != want {
			t.Fatalf("If-Match %q at version %d: matches %v, want %v", header, version, got, want)
		}
		if strings.HasPrefix(strings.TrimSpace(header), "W/") && !strings.Contains(header, ",") && got {
			t.Fatalf("a weak tag %q matched", header)
		}
	})
}
