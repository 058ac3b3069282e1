package idempotency

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzDigest holds Digest to its rule on any input: no panic; a JSON value
// has the digest of itself indented, compacted and with every string
// escaped differently (what a client re-serializing the same value writes),
// and what the decoder refuses has no digest.
func FuzzDigest(f *testing.F) {
	for _, seed := range []string{`{}`, `{"input":{"x":1}}`, `[1,"a",null,true,{"b":[]}]`, `1.0e-3`, `"\u00e9\ud83d\ude00"`, `{"a":{"a":{"a":1}}}`, `{"a":1,"a":2}`, `[`, `01`, ``} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Digest(b)
		valid := jsontext.Value(b).IsValid()
		if (err == nil) != valid {
			t.Fatalf("%q: digest error %v, but valid is %v", b, err, valid)
		}
		if err != nil {
			return
		}
		for _, reformat := range []func(*jsontext.Value) error{
			func(v *jsontext.Value) error { return v.Indent() },
			func(v *jsontext.Value) error { return v.Compact() },
			func(v *jsontext.Value) error {
				return v.Format(jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true))
			},
		} {
			v := jsontext.Value(append([]byte(nil), b...))
			if err := reformat(&v); err != nil {
				t.Fatalf("%q: reformat: %v", b, err)
			}
			if again, err := Digest(v); err != nil || again != d {
				t.Fatalf("%q and %q (the same value): digests differ (%v)", b, v, err)
			}
		}
	})
}
