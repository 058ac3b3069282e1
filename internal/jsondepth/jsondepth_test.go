package jsondepth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// depthOf is the reference: the plain recursive definition, for the small
// values the tests and the fuzzer give it.
func depthOf(v any) int {
	deepest := 0
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			deepest = max(deepest, depthOf(c))
		}
		return deepest + 1
	case []any:
		for _, c := range x {
			deepest = max(deepest, depthOf(c))
		}
		return deepest + 1
	}
	return 0
}

func TestDepths(t *testing.T) {
	for _, c := range []struct {
		json  string
		depth int
	}{
		{`1`, 0}, {`"[[[["`, 0}, {`[]`, 1}, {`{}`, 1}, {`[[1]]`, 2}, {`{"a":[{"b":"]]]"}],"c":1}`, 3},
		{`["\"[", ["\\", [[]]]]`, 4}, {`{"[": {"{": "\\\"{"}}`, 2},
	} {
		for limit := range 6 {
			want := c.depth > limit
			if got := Bytes([]byte(c.json), limit); got != want {
				t.Errorf("Bytes(%s, %d) = %v, want %v", c.json, limit, got, want)
			}
			var v any
			if err := json.Unmarshal([]byte(c.json), &v); err != nil {
				t.Fatal(err)
			}
			if got := Exceeds(v, limit); got != want {
				t.Errorf("Exceeds(%s, %d) = %v, want %v", c.json, limit, got, want)
			}
		}
	}
}

// TestRawValuesInsideCount: a raw JSON value inside a decoded one counts at
// the depth where it sits.
func TestRawValuesInsideCount(t *testing.T) {
	v := map[string]any{"a": []any{json.RawMessage(`[[1]]`)}, "b": jsontext.Value(`{}`)}
	if Exceeds(v, 4) || !Exceeds(v, 3) {
		t.Errorf("a 4-deep value with raw parts: Exceeds(4) = %v, Exceeds(3) = %v", Exceeds(v, 4), Exceeds(v, 3))
	}
}

// TestMillionDeep is the value that crashed the gateway: checking it takes
// no stack (the test would die of a stack overflow otherwise) and stops at
// the limit.
func TestMillionDeep(t *testing.T) {
	var v any
	for range 1_000_000 {
		v = []any{v}
	}
	if !Exceeds(v, MaxDepth) {
		t.Error("a million-deep array is within the limit")
	}
	raw := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	if !Bytes([]byte(raw), MaxDepth) {
		t.Error("a million-deep text is within the limit")
	}
	at := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if Bytes([]byte(at), MaxDepth) {
		t.Error("a text exactly MaxDepth deep is refused")
	}
}

// FuzzDepth: on any input, Bytes never panics; on valid JSON it agrees with
// the recursive reference for every limit, and so does Exceeds on the
// decoded value.
func FuzzDepth(f *testing.F) {
	for _, seed := range []string{`[]`, `{"a":[1,{"b":"[\"{"}]}`, `"\\"`, `[[[`, `]]]{`, `{"\u005b":[[]]}`, "[\"\\\\\\\"[\"]"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for limit := range 8 {
			_ = Bytes(b, limit)
		}
		if len(b) > 4096 || !json.Valid(b) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		depth := depthOf(v)
		for limit := range 8 {
			if got := Bytes(b, limit); got != (depth > limit) {
				t.Fatalf("Bytes(%q, %d) = %v; the depth is %d", b, limit, got, depth)
			}
			if got := Exceeds(v, limit); got != (depth > limit) {
				t.Fatalf("Exceeds(%q, %d) = %v; the depth is %d", b, limit, got, depth)
			}
		}
	})
}
