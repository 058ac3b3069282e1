package jsonbody

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
)

func TestTextReadsNoBodyAsAnEmptyObjectAndRefusesOnlyWhitespace(t *testing.T) {
	if got, err := Text(nil); err != nil || string(got) != "{}" {
		t.Errorf("no body: %q, %v; want {}", got, err)
	}
	if got, err := Text([]byte{}); err != nil || string(got) != "{}" {
		t.Errorf("zero bytes: %q, %v; want {}", got, err)
	}
	for _, body := range []string{" ", "  \n", "\t\r\n ", "\n"} {
		got, err := Text([]byte(body))
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.CodeValidation || len(e.Details) != 1 || e.Details[0].Field != "body" {
			t.Errorf("body %q: %q, %v; want a VALIDATION_ERROR on body", body, got, err)
		}
	}
	// Anything else goes to the decoder as it was sent: \v and a no-break
	// space are not JSON whitespace, and the decoder refuses them.
	for _, body := range []string{"{}", " {} ", "\x0b", "\u00a0", "null", "[]"} {
		if got, err := Text([]byte(body)); err != nil || string(got) != body {
			t.Errorf("body %q: %q, %v; want it unchanged", body, got, err)
		}
	}
}

type integerFields struct {
	Int     int            `json:"int"`
	Ptr     *int           `json:"ptr"`
	Int64   *int64         `json:"int64"`
	Int8    int8           `json:"int8"`
	Uint8   uint8          `json:"uint8"`
	Float   float64        `json:"float"`
	Any     any            `json:"any"`
	Raw     jsontext.Value `json:"raw"`
	Strings map[string]int `json:"strings"`
}

func TestIntegersTakeEveryIntegralSpelling(t *testing.T) {
	for _, number := range []string{"60", "60.0", "6e1", "6E1", "6e+1", "6e01", "60.000", "600e-1", "0.6e2", "6.0e1"} {
		var got integerFields
		body := `{"int":` + number + `,"ptr":` + number + `,"int64":` + number + `,"int8":` + number + `,"uint8":` + number + `,"strings":{"a":` + number + `}}`
		if err := json.Unmarshal([]byte(body), &got, Integers()); err != nil {
			t.Errorf("%s: %v", number, err)
			continue
		}
		if got.Int != 60 || got.Ptr == nil || *got.Ptr != 60 || got.Int64 == nil || *got.Int64 != 60 || got.Int8 != 60 || got.Uint8 != 60 || got.Strings["a"] != 60 {
			t.Errorf("%s read as %+v", number, got)
		}
	}
	for number, want := range map[string]int{"1E1": 10, "-3.0": -3, "-0.0": 0, "0e5": 0, "0.0e-99999999999": 0, "1.5e1": 15, "2147483647.0": math.MaxInt32} {
		var got integerFields
		if err := json.Unmarshal([]byte(`{"int":`+number+`}`), &got, Integers()); err != nil || got.Int != want {
			t.Errorf("%s: %d, %v; want %d", number, got.Int, err, want)
		}
	}
}

// TestIntegersRefuseAsTheDefaultDoes: a number that is not an integer of the
// field's range is refused with the error the default decoding gives 1.5,
// so that the message a caller reads ("must be an integer") and its field
// are what they were.
func TestIntegersRefuseAsTheDefaultDoes(t *testing.T) {
	cases := []struct{ field, number string }{
		{"int", "1.5"}, {"int", "-0.5"}, {"int", "1e400"}, {"int", "1e-1"}, {"int", "15e-1"}, {"int", "1e999999999999"},
		{"int", "99999999999999999999"}, {"int", "9223372036854775808.0"}, {"int8", "128.0"}, {"int8", "1.28e2"},
		{"uint8", "-1.0"}, {"uint8", "256"}, {"ptr", "0.1"}, {"int64", "1e19"},
	}
	for _, c := range cases {
		body := []byte(`{"` + c.field + `":` + c.number + `}`)
		var with, without integerFields
		errWith := json.Unmarshal(body, &with, Integers())
		var semantic *json.SemanticError
		if !errors.As(errWith, &semantic) {
			t.Errorf("%s %s: %v, want a semantic error", c.field, c.number, errWith)
			continue
		}
		if semantic.JSONPointer != jsontext.Pointer("/"+c.field) || semantic.JSONKind != '0' || semantic.GoType == nil || !strings.Contains(semantic.GoType.String(), "int") {
			t.Errorf("%s %s: refused at %q as %v (%q), want at /%s as an integer", c.field, c.number, semantic.JSONPointer, semantic.GoType, semantic.JSONKind, c.field)
		}
		// The default decoding refuses the same number the same way.
		var plain *json.SemanticError
		if err := json.Unmarshal(body, &without); !errors.As(err, &plain) || plain.JSONPointer != semantic.JSONPointer || plain.JSONKind != semantic.JSONKind ||
			reflect.Indirect(reflect.New(plain.GoType)).Kind() != reflect.Indirect(reflect.New(semantic.GoType)).Kind() {
			t.Errorf("%s %s: default %v, with Integers %v", c.field, c.number, err, errWith)
		}
	}
}

// TestIntegersLeaveOtherValuesAlone: only integer destinations are read
// differently; a float, any JSON and a value kept raw hold the number as
// written, and what is not a number is refused as before.
func TestIntegersLeaveOtherValuesAlone(t *testing.T) {
	var got integerFields
	body := `{"float":60.0,"any":{"n":60.0},"raw":{"n":6e1,"m":[1.0]}}`
	if err := json.Unmarshal([]byte(body), &got, Integers()); err != nil {
		t.Fatal(err)
	}
	if got.Float != 60 || !reflect.DeepEqual(got.Any, map[string]any{"n": 60.0}) || string(got.Raw) != `{"n":6e1,"m":[1.0]}` {
		t.Errorf("read as %+v", got)
	}
	for _, value := range []string{`"60"`, `true`, `{}`, `[60]`} {
		var with, without integerFields
		errWith := json.Unmarshal([]byte(`{"int":`+value+`}`), &with, Integers())
		errWithout := json.Unmarshal([]byte(`{"int":`+value+`}`), &without)
		if errWith == nil || errWithout == nil || errWith.Error() != errWithout.Error() {
			t.Errorf("int %s: %v with Integers, %v without", value, errWith, errWithout)
		}
	}
	// null reads as the default reads it: as nothing (DecodeJSON refuses a
	// member given as null before this matters).
	got = integerFields{Int: 5}
	if err := json.Unmarshal([]byte(`{"int":null,"ptr":null}`), &got, Integers()); err != nil || got.Int != 0 || got.Ptr != nil {
		t.Errorf("null: %+v, %v", got, err)
	}
}

// FuzzIntegers holds Integers and Text to their rules on any input. A JSON
// number is taken into an int64 (and an int8) exactly when its value,
// computed with big.Rat, is an integer in range, and then as that value.
// Text refuses exactly the non-empty bodies of only JSON whitespace.
func FuzzIntegers(f *testing.F) {
	for _, seed := range []string{"60", "60.0", "1e1", "6E1", "60.000", "-0.0", "1.5", "-0.5", "1e400", "1e-400", "0e999999999999",
		"9223372036854775807", "9223372036854775807.0", "9223372036854775808", "-9223372036854775808e0", "127.0e0", "1.28e2",
		"", "  \n", " ", "{}", "\x0b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		text, err := Text([]byte(input))
		onlyWhitespace := input != "" && strings.Trim(input, Whitespace) == ""
		switch {
		case onlyWhitespace && !errors.Is(err, ErrOnlyWhitespace):
			t.Fatalf("Text(%q) = %q, %v; want ErrOnlyWhitespace", input, text, err)
		case !onlyWhitespace && err != nil:
			t.Fatalf("Text(%q): %v", input, err)
		case input == "" && string(text) != "{}", input != "" && !onlyWhitespace && string(text) != input:
			t.Fatalf("Text(%q) = %q", input, text)
		}

		number := jsontext.Value(input)
		if !number.IsValid() || number.Kind() != '0' || strings.ContainsAny(input, Whitespace) {
			return
		}
		want, exact := exactValue(input)
		if !exact {
			return // an exponent too large for big.Rat to be quick
		}
		var n64 int64
		err64 := json.Unmarshal(number, &n64, Integers())
		fits64 := want.IsInt() && want.Num().IsInt64()
		if (err64 == nil) != fits64 || (fits64 && n64 != want.Num().Int64()) {
			t.Fatalf("%s into int64: %d, %v; its value is %s", input, n64, err64, want.RatString())
		}
		var n8 int8
		err8 := json.Unmarshal(number, &n8, Integers())
		fits8 := fits64 && want.Num().Int64() >= math.MinInt8 && want.Num().Int64() <= math.MaxInt8
		if (err8 == nil) != fits8 || (fits8 && int64(n8) != want.Num().Int64()) {
			t.Fatalf("%s into int8: %d, %v; its value is %s", input, n8, err8, want.RatString())
		}
	})
}

// exactValue is the value of a JSON number, exactly; false when its exponent
// is too large to compute it quickly.
func exactValue(number string) (*big.Rat, bool) {
	if _, exponent, ok := strings.Cut(strings.ToLower(number), "e"); ok {
		if e, err := strconv.Atoi(exponent); err != nil || e > 10000 || e < -10000 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(number)
	return r, ok
}
