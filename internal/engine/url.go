package engine

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// renderURL fills in an http step's url so that its origin is the one the
// definition wrote. The scheme, host and port are the definition's literal
// text (jqtemplate.SplitURLTemplate refuses a template before the end of the
// port, as validation does on write; a definition stored before that rule
// fails here), and each expression's value is percent-encoded as jq's @uri
// does (escapeURLValue), so no value can end the path, start a query or a
// fragment, or reach the authority. It returns the rendered URL and the
// authored origin, which checkOrigin compares with the URL as parsed for
// the request.
//
// The URL is bounded while it is built (maxRequestURLBytes): a value that
// would make it longer fails the step before the rest is rendered.
func renderURL(jqCtx, ctx context.Context, t *jqtemplate.Template, rc Context) (string, *url.URL, error) {
	split, err := jqtemplate.SplitURLTemplate(t)
	if err != nil {
		return "", nil, &StepError{Code: CodeTargetRefused, Message: "the url " + err.Error() + "; change the workflow"}
	}
	authored, err := url.Parse(split.Origin)
	switch {
	case err != nil || (authored.Scheme != "http" && authored.Scheme != "https") || authored.Hostname() == "":
		return "", nil, &StepError{Code: CodeInvalidRequest, Message: "the url is not an absolute http or https URL with a host"}
	case authored.User != nil:
		return "", nil, refusedURL("holds a user name or password")
	}
	var b strings.Builder
	b.WriteString(split.Origin)
	for _, part := range split.Rest {
		if part.Code == nil {
			b.WriteString(part.Text)
		} else {
			v, err := firstValue(jqCtx, ctx, part.Code, rc)
			if err != nil {
				return "", nil, err
			}
			s, err := interpolated(v)
			if err != nil {
				return "", nil, err
			}
			if !part.Escaped || !isEscaped(s) {
				s = escapeURLValue(s)
			}
			b.WriteString(s)
		}
		if b.Len() > maxRequestURLBytes {
			return "", nil, requestTooLarge("the url, rendered,", maxRequestURLBytes)
		}
	}
	return b.String(), authored, nil
}

// interpolated is a jq value as a template puts it in a string, as jq's
// "\(…)" does: a string as it is, anything else as its compact JSON.
func interpolated(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	out, err := marshalValue(v)
	return string(out), err
}

// escapeURLValue percent-encodes every byte of s but RFC 3986's unreserved
// characters (A-Z a-z 0-9 - . _ ~), a space as %20: exactly jq's @uri.
//
// One rule for the path, the query and the fragment alike. In a path it
// escapes "/" (a value is one segment's worth, never a way up or down the
// tree: "../admin" stays inside its segment), "?", "#", "\" and "%" (a value
// "%2F" arrives as "%2F", not as "/"); in a query "&", "=", "+", ";" and
// "#", so a value is one value and never adds a parameter. Sub-delimiters
// that a path would allow (":", "@", "!", "$", ...) are escaped too: servers
// decode them to the same value, and nothing a value holds is left for a
// server or a proxy to read as syntax. A value of only dots (".." as a
// whole segment) is left as it is: unreserved, and a target that resolves
// dot segments still resolves them within the definition's origin.
func escapeURLValue(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// isEscaped reports whether s holds only unreserved characters and %XX
// triplets: what @uri produces, safe anywhere after the origin as it is.
func isEscaped(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkOrigin is the defence behind renderURL: the URL as parsed for the
// request (what Go's client dials and sends credentials to) must hold no
// user name or password (the client would send them as basic credentials)
// and have the authored origin: scheme, host (compared without case) and
// port (the scheme's default filled in).
func checkOrigin(rendered, authored *url.URL) error {
	switch {
	case rendered.User != nil:
		return refusedURL("holds a user name or password")
	case urlOrigin(rendered) != urlOrigin(authored):
		return refusedURL(fmt.Sprintf("does not keep the origin the definition wrote (%s)", urlOrigin(authored)))
	}
	return nil
}

// refusedURL fails the step before anything is sent. The message never
// quotes the rendered URL: its query may hold secrets.
func refusedURL(why string) *StepError {
	return &StepError{Code: CodeTargetRefused, Message: "the url, rendered, " + why + ": nothing was sent"}
}

// urlOrigin is scheme://host:port, the host lower-cased and the scheme's
// default port filled in.
func urlOrigin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
