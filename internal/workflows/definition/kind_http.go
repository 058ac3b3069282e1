package definition

import (
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"

	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/jsonfield"
)

// httpKind: a request to an outside service, with an optional connection
// of the account's for its credentials.
type httpKind struct{}

func (httpKind) withMembers() []string {
	return []string{"method", "url", "headers", "body", "connection"}
}

func (httpKind) validate(c *stepChecker, path string, _ int, s *workflows.Step) []connectionRef {
	return validateHTTP(c.p, path+".with", &s.With)
}

// httpMethods are the methods an http step may use.
var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

func validateHTTP(p *problems, path string, w *workflows.With) []connectionRef {
	switch {
	case w.Method == "":
		p.add(path+".method", "is required")
	case !slices.Contains(httpMethods, w.Method):
		p.add(path+".method", "must be one of "+strings.Join(httpMethods, ", "))
	}
	checkURL(p, path+".url", w.URL)
	checkHeaders(p, path+".headers", w.Headers)
	if w.Body != nil {
		checkBodyTemplates(p, path+".body", w.Body)
	}
	if w.Connection == "" {
		return nil
	}
	if !ids.Valid(ids.PrefixConnection, w.Connection) {
		p.add(path+".connection", "must be a connection id (conn_…)")
		return nil
	}
	return []connectionRef{{path + ".connection", w.Connection}}
}

// urlPlaceholder stands in for each {{ }} when a URL is checked: a digit,
// so that it reads as a path segment or a query value.
const urlPlaceholder = "1"

// checkURL holds the URL, with its templates replaced, to http or https
// with a host, and holds its templates to the path, query and fragment
// (SplitURLTemplate): the scheme, host and port are written out, so no
// template can turn an http step into a file: or gopher: one, and no run
// input can choose where the request, and a connection's credentials, go.
// A user name or password in the URL is refused too: it would be readable
// by every key that reads workflows, and Go's client would send it as basic
// credentials of the step's own.
func checkURL(p *problems, field, raw string) {
	if raw == "" {
		p.add(field, "is required")
		return
	}
	t, err := jqtemplate.CompileTemplate(raw)
	if err != nil {
		p.add(field, err.Error())
		return
	}
	u, err := url.Parse(t.WithPlaceholder(urlPlaceholder))
	var urlErr *url.Error
	switch {
	case errors.As(err, &urlErr):
		// Only the inner error: the whole URL may hold credentials.
		p.add(field, "is not a valid URL: "+urlErr.Err.Error())
		return
	case err != nil:
		p.add(field, "is not a valid URL")
		return
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(field, "must be an absolute http or https URL")
		return
	case u.Hostname() == "":
		p.add(field, "must name a host (http://host/...)")
		return
	}
	split, err := jqtemplate.SplitURLTemplate(t)
	if err != nil {
		p.add(field, err.Error())
		return
	}
	switch origin, err := url.Parse(split.Origin); {
	case err != nil || origin.Hostname() == "":
		p.add(field, "must name a host (http://host/...)")
	case origin.User != nil:
		p.add(field, "must not hold a user name or password (user:password@host): credentials belong in a connection")
	}
}

func checkHeaders(p *problems, path string, headers map[string]string) {
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names) // a map has no order; the details should have one
	seen := map[string]string{}
	for _, name := range names {
		field := jsonfield.Join(path, name)
		if !isToken(name) {
			p.add(field, "is not a valid header name")
			continue
		}
		lower := strings.ToLower(name)
		if other, dup := seen[lower]; dup {
			p.add(field, fmt.Sprintf("is the same header as %s: header names ignore case", other))
			continue
		}
		seen[lower] = name
		t, err := jqtemplate.CompileTemplate(headers[name])
		if err != nil {
			p.add(field, err.Error())
			continue
		}
		for _, part := range t.Parts {
			if part.Code == nil && strings.ContainsFunc(part.Text, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				p.add(field, "must not contain control characters (a line break would start another header)")
				break
			}
		}
	}
}

// isToken reports whether s is an HTTP header name (RFC 9110's token), which
// the runner's http.Client would otherwise refuse at run time.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// checkBodyTemplates compiles every {{ }} in the string values anywhere in
// body (member names are sent as written), reporting each at its path
// (steps[4].with.body.order.id).
func checkBodyTemplates(p *problems, path string, body jsontext.Value) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		token, err := dec.ReadToken()
		if err != nil {
			return // io.EOF: body was checked well formed by Parse
		}
		if token.Kind() != '"' {
			continue
		}
		if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 {
			continue // a member name: an odd count means a name was read last
		}
		s := token.String()
		if !strings.Contains(s, "{{") {
			continue
		}
		if _, err := jqtemplate.CompileTemplate(s); err != nil {
			p.add(jsonfield.Pointer(path, dec.StackPointer()), err.Error())
		}
	}
}
