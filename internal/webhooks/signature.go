package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header a delivery carries its signature in.
const SignatureHeader = "X-Webhook-Signature"

// SignatureTolerance is how far a delivery's t may be from the time it
// arrives, either way: past it the signature is stale and refused, which
// bounds how long a captured delivery can be replayed (the receiving route
// refuses a replay within it).
const SignatureTolerance = 5 * time.Minute

// maxSignatureHeader bounds the header the parser reads: a well-formed one
// is under 100 bytes, so anything far longer is refused before it is split.
const maxSignatureHeader = 256

// maxTimestampDigits keeps t within what int64 seconds and time.Time hold
// (12 digits reach the year 33658).
const maxTimestampDigits = 12

// Signature is a parsed X-Webhook-Signature: `t=<unix seconds>,v1=<hex
// HMAC-SHA256(secret, "<t>.<body>")>`.
type Signature struct {
	// Timestamp is t, in Unix seconds, as the sender wrote it.
	Timestamp int64
	// V1 is the 32-byte HMAC-SHA256.
	V1 []byte
}

var errMalformed = errors.New("webhooks: malformed signature header")

// SignatureHeaderOf reads a delivery's X-Webhook-Signature from h: "" if it
// has none, and ErrBadSignature if it has more than one (two values, or two
// spellings of the name). One signature per delivery, as one key per
// request: with two, which is checked and which names the delivery's run
// would depend on the reader (net/http's Get takes the first, API Gateway's
// single-value map the last), and a sender that signs correctly never sends
// two.
func SignatureHeaderOf(h http.Header) (string, error) {
	var values []string
	for name, vs := range h {
		if strings.EqualFold(name, SignatureHeader) {
			values = append(values, vs...)
		}
	}
	switch len(values) {
	case 0:
		return "", nil
	case 1:
		return values[0], nil
	}
	return "", ErrBadSignature
}

// ParseSignatureHeader reads an X-Webhook-Signature. It takes exactly the
// two fields t and v1, each once, in either order, separated by a comma
// (spaces around a field are allowed): t is a positive decimal number of
// seconds with no sign and no leading zero, v1 is 64 hexadecimal digits. Anything else, an unknown
// field included, is an error.
func ParseSignatureHeader(header string) (Signature, error) {
	if len(header) > maxSignatureHeader {
		return Signature{}, errMalformed
	}
	var sig Signature
	seenT, seenV1 := false, false
	for field := range strings.SplitSeq(header, ",") {
		name, value, ok := strings.Cut(strings.Trim(field, " \t"), "=")
		if !ok {
			return Signature{}, errMalformed
		}
		switch name {
		case "t":
			// No leading zero: the signature covers t as written, so t
			// must have one spelling.
			if seenT || !isDecimal(value) || value[0] == '0' || len(value) > maxTimestampDigits {
				return Signature{}, errMalformed
			}
			t, err := strconv.ParseInt(value, 10, 64)
			if err != nil || t <= 0 {
				return Signature{}, errMalformed
			}
			sig.Timestamp, seenT = t, true
		case "v1":
			if seenV1 || len(value) != hex.EncodedLen(sha256.Size) {
				return Signature{}, errMalformed
			}
			mac, err := hex.DecodeString(value)
			if err != nil {
				return Signature{}, errMalformed
			}
			sig.V1, seenV1 = mac, true
		default:
			return Signature{}, errMalformed
		}
	}
	if !seenT || !seenV1 {
		return Signature{}, errMalformed
	}
	return sig, nil
}

func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FreshAt reports whether the signature's time is within SignatureTolerance
// of now, either way.
func (s Signature) FreshAt(now time.Time) bool {
	tolerance := int64(SignatureTolerance / time.Second)
	delta := now.Unix() - s.Timestamp
	return delta <= tolerance && delta >= -tolerance
}

// Matches reports, in constant time, whether the signature is secret's over
// body at the signature's own time.
func (s Signature) Matches(secret, body []byte) bool {
	return hmac.Equal(s.V1, mac(secret, s.Timestamp, body))
}

// mac is HMAC-SHA256(secret, "<t>.<body>").
func mac(secret []byte, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign is the X-Webhook-Signature value a sender holding secret puts on body
// at time t: what the contract describes, for tests and for senders written
// in Go.
func Sign(secret string, t time.Time, body []byte) string {
	return SignAll(t, body, secret)
}

// SignAll is the X-Webhook-Signature value over body at t with one v1 per
// secret, in order: "t=<unix>,v1=<hex>[,v1=<hex>]", as Stripe signs during
// a roll, so a receiver holding either the new secret or the one it
// replaces accepts the request. The API signs its notifications so
// (Secrets.SigningSecrets gives the secrets); a receiver checks each v1
// until one matches. ParseSignatureHeader, for deliveries the API receives,
// takes one v1 only: a sender signs with the one secret it holds.
func SignAll(t time.Time, body []byte, secrets ...string) string {
	unix := t.Unix()
	var b strings.Builder
	b.WriteString("t=" + strconv.FormatInt(unix, 10))
	for _, secret := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac([]byte(secret), unix, body)))
	}
	return b.String()
}

// String is the signature as a header value.
func (s Signature) String() string {
	return "t=" + strconv.FormatInt(s.Timestamp, 10) + ",v1=" + hex.EncodeToString(s.V1)
}
