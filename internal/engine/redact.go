package engine

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/workflowsapi/workflows/internal/connections"
)

// redactedText stands in the step's output and errors for a credential the
// engine added to the request.
const redactedText = "[REDACTED]"

// redactor removes from an http step's output and error the credentials
// the engine put on its request, in every form a target is likely to echo
// them in. A target that echoes its request (an echo service, a debug
// endpoint, an error page quoting the Authorization header) would
// otherwise hand the connection's secret to every key that may read runs,
// which may not read connections.
//
// There is no minimum length: a credential of any length is redacted,
// since a threshold would leave exactly the short, weak ones in the output.
// The cost falls on the workflow that chose a short credential: every
// occurrence of it in the output is replaced, however innocent. A string
// that still holds a form after the replacement (a form made anew where
// the replacement meets the text around it, or a credential the placeholder
// itself contains, such as "ACT") is replaced whole, and by "" when even
// the placeholder would hold one.
//
// A nil *redactor (a step without a connection) redacts nothing.
type redactor struct {
	forms    []string // longest first
	replacer *strings.Replacer
}

// newRedactor knows the exact strings applyCredentials sends: the header
// value as sent ("Bearer <token>", "Basic <base64>", a header connection's
// value) and the secrets inside it (the token; the password, "user:pass"
// and its base64).
func newRedactor(creds connections.Credentials) *redactor {
	var secrets []string
	switch creds.Type {
	case connections.TypeBearer:
		secrets = []string{"Bearer " + creds.Token, creds.Token}
	case connections.TypeBasic:
		userPass := creds.Username + ":" + creds.Password
		encoded := base64.StdEncoding.EncodeToString([]byte(userPass))
		secrets = []string{"Basic " + encoded, encoded, userPass, creds.Password}
	case connections.TypeHeader:
		secrets = []string{creds.Value}
	}
	return newRedactorOf(secrets...)
}

func newRedactorOf(secrets ...string) *redactor {
	var forms []string
	for _, s := range secrets {
		if s != "" {
			forms = append(forms, credentialForms(s)...)
		}
	}
	// Longest first, so that where two forms start at the same place the
	// longer is replaced whole (strings.Replacer tries its pairs in order).
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redactedText)
	}
	return &redactor{forms: forms, replacer: strings.NewReplacer(pairs...)}
}

// credentialForms are a secret as it may come back: plain; base64 in the
// standard and URL-safe alphabets, padded and raw; percent-encoded for a
// query (space as "+" and as "%20") and for a path; hex; and escaped inside
// a JSON string (with and without HTML escaping), for a text body quoting
// JSON.
func credentialForms(secret string) []string {
	b := []byte(secret)
	forms := []string{
		secret,
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(secret), strings.ReplaceAll(url.QueryEscape(secret), "+", "%20"), url.PathEscape(secret),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
	}
	if quoted, err := json.Marshal(secret); err == nil {
		forms = append(forms, string(quoted[1:len(quoted)-1]))
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if enc.Encode(secret) == nil {
		quoted := bytes.TrimSuffix(plain.Bytes(), []byte("\n"))
		forms = append(forms, string(quoted[1:len(quoted)-1]))
	}
	return forms
}

func (r *redactor) holdsAny(s string) bool {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// redactString is s without any form of the credentials.
func (r *redactor) redactString(s string) string {
	if r == nil || !r.holdsAny(s) {
		return s
	}
	out := r.replacer.Replace(s)
	if r.holdsAny(out) {
		out = redactedText
		if r.holdsAny(out) {
			out = ""
		}
	}
	return out
}

// redactScalar redacts a string, or a number whose text holds a credential
// (a numeric token echoed as a JSON number), which then becomes a string.
// Anything else comes back as it is.
func (r *redactor) redactScalar(v any) any {
	switch s := v.(type) {
	case string:
		return r.redactString(s)
	case json.Number:
		if r.holdsAny(string(s)) {
			return r.redactString(string(s))
		}
	}
	return v
}

// redactValue redacts a step's output: every string and number in it, and
// every object member's name, however deep. Objects and arrays are changed
// in place (the output is the engine's own, freshly decoded) and walked
// with a stack of their own, not by recursion: the depth of a target's
// JSON must not decide how deep the goroutine's stack grows. Where two
// names of one object redact to the same name, the member whose name sorts
// first keeps it and the other is dropped.
func (r *redactor) redactValue(root any) any {
	if r == nil {
		return root
	}
	root = r.redactScalar(root)
	pending := []any{root}
	for len(pending) > 0 {
		v := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		switch container := v.(type) {
		case map[string]any:
			var renamed []string
			for name, child := range container {
				container[name] = r.redactScalar(child)
				pending = appendContainer(pending, child)
				if r.holdsAny(name) {
					renamed = append(renamed, name)
				}
			}
			slices.Sort(renamed)
			moved := make(map[string]any, len(renamed))
			for _, name := range renamed {
				moved[name] = container[name]
				delete(container, name)
			}
			for _, name := range renamed {
				if newName := r.redactString(name); !hasKey(container, newName) {
					container[newName] = moved[name]
				}
			}
		case []any:
			for i, child := range container {
				container[i] = r.redactScalar(child)
				pending = appendContainer(pending, child)
			}
		}
	}
	return root
}

func appendContainer(pending []any, v any) []any {
	switch v.(type) {
	case map[string]any, []any:
		return append(pending, v)
	}
	return pending
}

func hasKey(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

// redactError redacts a step error's message (a refused redirect names
// its host, and a target may put anything there). Other errors are the
// engine's own or the caller's and come back as they are.
func (r *redactor) redactError(err error) error {
	var se *StepError
	if r == nil || !errors.As(err, &se) {
		return err
	}
	redacted := *se
	redacted.Message = r.redactString(se.Message)
	return &redacted
}
