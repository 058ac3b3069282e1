package idempotency

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Digest is the SHA-256 of a JSON value's canonical form, so that two
// bodies that are the same JSON value have one digest however they are
// written. "The same JSON value" is JSON's data model, as Stripe compares
// parameters rather than bytes:
//
//   - whitespace between tokens does not matter;
//   - the order of an object's members does not matter (names are unique:
//     a repeated name is not JSON the API reads);
//   - a string is its characters, however escaped ("\u0041" is "A");
//   - a number is its exact decimal value: 1, 1.0, 1.00, 1e0 and 10E-1 are
//     one number, and so are 0 and -0. Unlike RFC 8785 (JCS), which compares
//     numbers as IEEE doubles, no precision is lost: 9007199254740993 and
//     9007199254740992 are two numbers, as are 0.1 and
//     0.1000000000000000055511151231257827.
//
// Array order, and everything else, matters. Digest does not recurse (a
// stack of open containers, each object holding only its members' names
// and 32-byte digests), so no nesting the decoder admits can exhaust the
// goroutine stack, and its work is linear in the body bar the sorting of
// each object's names.
func Digest(value []byte) ([32]byte, error) {
	d := digester{dec: jsontext.NewDecoder(bytes.NewReader(value)), root: sha256.New()}
	return d.run()
}

// member is one member of an object being read: its name, and the digest of
// its value once read.
type member struct {
	name string
	sum  [32]byte
}

// open is a container being read. An array writes its canonical text into
// the enclosing stream as it goes; an object keeps its members to sort them
// when it closes, each member's value streamed into a hash of its own.
type open struct {
	object  bool
	n       int // values read so far (an array's elements)
	members []member
	name    string    // the current member's name
	value   hash.Hash // the current member's value; nil between members
}

type digester struct {
	dec   *jsontext.Decoder
	root  hash.Hash
	stack []*open
	done  bool
}

var errTrailing = errors.New("idempotency: more than one JSON value")

// out is where the next canonical text goes: the value of the innermost
// object's current member, or the root.
func (d *digester) out() hash.Hash {
	for i := len(d.stack) - 1; i >= 0; i-- {
		if d.stack[i].object {
			return d.stack[i].value
		}
	}
	return d.root
}

// beforeValue writes an array's comma before its next element.
func (d *digester) beforeValue() {
	if n := len(d.stack); n > 0 && !d.stack[n-1].object {
		if d.stack[n-1].n > 0 {
			d.out().Write([]byte{','})
		}
		d.stack[n-1].n++
	}
}

// afterValue ends a value: an object's member is complete, or the root is.
func (d *digester) afterValue() {
	n := len(d.stack)
	if n == 0 {
		d.done = true
		return
	}
	if top := d.stack[n-1]; top.object {
		var m member
		m.name = top.name
		top.value.Sum(m.sum[:0])
		top.members = append(top.members, m)
		top.value = nil
	}
}

func (d *digester) run() ([32]byte, error) {
	var sum [32]byte
	for !d.done {
		n := len(d.stack)
		if n > 0 && d.stack[n-1].object && d.stack[n-1].value == nil {
			// Between members: a name, or the object's end.
			tok, err := d.dec.ReadToken()
			if err != nil {
				return sum, err
			}
			top := d.stack[n-1]
			if tok.Kind() == '}' {
				d.stack = d.stack[:n-1]
				d.closeObject(top)
				continue
			}
			top.name, top.value = tok.String(), sha256.New()
			continue
		}
		kind := d.dec.PeekKind()
		switch kind {
		case '{', '[':
			if _, err := d.dec.ReadToken(); err != nil {
				return sum, err
			}
			d.beforeValue()
			if kind == '[' {
				d.out().Write([]byte{'['})
			}
			d.stack = append(d.stack, &open{object: kind == '{'})
		case ']':
			if _, err := d.dec.ReadToken(); err != nil {
				return sum, err
			}
			d.stack = d.stack[:n-1]
			d.out().Write([]byte{']'})
			d.afterValue()
		default:
			raw, err := d.dec.ReadValue()
			if err != nil {
				return sum, err
			}
			d.beforeValue()
			if err := writeScalar(d.out(), raw); err != nil {
				return sum, err
			}
			d.afterValue()
		}
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return sum, errTrailing
	}
	d.root.Sum(sum[:0])
	return sum, nil
}

// closeObject writes an object whose members are all read: '{', then each
// member by name (byte order of the UTF-8 names), its name quoted and '#'
// and its value's 32-byte digest, then '}'. The '#' can begin no JSON value,
// so the stream stays unambiguous.
func (d *digester) closeObject(o *open) {
	slices.SortFunc(o.members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	w := d.out()
	w.Write([]byte{'{'})
	for i, m := range o.members {
		if i > 0 {
			w.Write([]byte{','})
		}
		quoted, _ := jsontext.AppendQuote(nil, m.name) // a decoded name is valid UTF-8
		w.Write(quoted)
		w.Write([]byte{':', '#'})
		w.Write(m.sum[:])
	}
	w.Write([]byte{'}'})
	// Its comma in an enclosing array was written when it opened.
	d.afterValue()
}

// writeScalar writes a string, number or literal in canonical form.
func writeScalar(w io.Writer, raw jsontext.Value) error {
	switch raw.Kind() {
	case '"':
		s, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			return err
		}
		quoted, err := jsontext.AppendQuote(nil, s)
		if err != nil {
			return err
		}
		_, err = w.Write(quoted)
		return err
	case '0':
		_, err := io.WriteString(w, canonicalNumber(string(raw)))
		return err
	default: // true, false, null: one spelling each
		_, err := w.Write(raw)
		return err
	}
}

// canonicalNumber is a JSON number's exact decimal value in one spelling:
// "0", or an optional "-", the significant digits without leading or
// trailing zeros, "e" and the exponent (1.50 and 15e-1 are both "15e-1").
// The exponent is a big.Int: JSON sets no bound on it.
func canonicalNumber(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mantissa, exponent, hasExp := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return "0" // 0, -0, 0.000e5: zero
	}
	significant := strings.TrimRight(digits, "0")
	shift := int64(len(digits)-len(significant)) - int64(len(frac))
	sign := ""
	if neg {
		sign = "-"
	}
	if !hasExp {
		return sign + significant + "e" + strconv.FormatInt(shift, 10)
	}
	exp, ok := new(big.Int).SetString(exponent, 10)
	if !ok {
		exp = new(big.Int) // the decoder accepted it, so this is unreachable
	}
	exp.Add(exp, big.NewInt(shift))
	return sign + significant + "e" + exp.String()
}
