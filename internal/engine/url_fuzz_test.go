package engine

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// FuzzRenderURL: whatever a definition's url and whatever a run's input,
// the URL an http step is sent to has the origin the definition wrote
// (scheme, host, port) and no user name or password, or the step is
// refused. authored is a url whose {{ }} are each replaced by the run's
// value v (`{{@uri}}`: by `v | @uri`), so that the fuzzer moves templates
// and literal text around and never runs jq of its own.
//
// The authored origin is read apart from the renderer: the url with each
// template written as "", "x" and "1", parsed as Go's client parses. When
// those disagree (or do not parse, or name no host), a template is in the
// origin, and the render must be refused. And a value adds no delimiter
// ("/", "?", "#", "&", "=", ";", "@", "\\"): it stays in the part it fills.
func FuzzRenderURL(f *testing.F) {
	for _, seed := range [][2]string{
		{"http://127.0.0.1:8080/x/{{}}", "@localhost:9"},
		{"http://127.0.0.1:8080{{}}", "@localhost:9"},
		{"http://{{}}.localhost:8080/echo", "127.0.0.1:9/k=stolen?"},
		{"http://{{}}/x", "127.0.0.1:9"},
		{"http://127.0.0.1:{{}}/x", "9"},
		{"http://127.0.0.1:8080@{{}}/x", "localhost:9"},
		{"{{}}", "http://127.0.0.1:9/"},
		{"https://api.example.com/orders/{{}}?q={{@uri}}#{{}}", "a/b?c#d"},
		{"https://api.example.com?q={{}}&r={{@uri}}", "%2F%40%3A"},
		{"https://api.example.com#{{}}", `\\evil.example\`},
		{"https://api.example.com/{{}}", "/../"},
		{"https://api.example.com/{{}}", ".."},
		{"http://[::1]:80/{{}}", "bücher.例え"},
		{"http://[::1]:80/{{@uri}}", "xn--bcher-kva@[::2]"},
		{"https://user@api.example.com/{{}}", "x"},
		{"HTTPS://API.EXAMPLE.COM:443/{{}}", "\r\nHost: evil.example"},
		{"http://a.example/{{}}", "\x00\x7f\t "},
		{"http://a.example/{{}}{{}}", "%"},
		{"http://a.example/?{{}}", "#@b.example"},
		{"http:/{{}}", "/b.example/"},
		{"http:{{}}", "//b.example/"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, authored, value string) {
		if len(authored) > 2048 {
			return // the URL is bounded at 8 KiB; a longer one teaches nothing
		}
		tmpl, err := jqtemplate.CompileTemplate(withValueExpressions(authored))
		if err != nil {
			return
		}
		origin, known, stable := placeholderOrigin(tmpl)
		if !known {
			return
		}
		ctx := context.Background()
		jqCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		rendered, authoredOrigin, err := renderURL(jqCtx, ctx, tmpl, runContext(map[string]any{"v": value}))
		if !stable {
			// A template in the origin (or no host): refused by renderURL,
			// or built into a URL that does not parse, which buildRequest
			// refuses.
			if _, parseErr := url.Parse(rendered); err == nil && parseErr == nil {
				t.Fatalf("%q: a template can change the origin, and the renderer built %q with %q", authored, rendered, value)
			}
			return
		}
		if err != nil {
			return // refused
		}
		if urlOrigin(authoredOrigin) != urlOrigin(origin) {
			t.Fatalf("%q: the renderer read the origin %s, the URL with placeholders has %s", authored, urlOrigin(authoredOrigin), urlOrigin(origin))
		}
		u, err := url.Parse(rendered)
		if err != nil {
			return // buildRequest refuses what does not parse (INVALID_REQUEST)
		}
		if u.User != nil && checkOrigin(u, authoredOrigin) == nil {
			t.Fatalf("%q with %q renders %q, which holds a user name, and checkOrigin let it through", authored, value, rendered)
		}
		if origin.User != nil {
			return // refused on write, and by checkOrigin at run time (above)
		}
		if u.User != nil || urlOrigin(u) != urlOrigin(origin) {
			t.Fatalf("%q with %q renders %q: origin %s (user %v), want %s", authored, value, rendered, urlOrigin(u), u.User, urlOrigin(origin))
		}
		// And each value stays in the part it fills: it adds no delimiter of
		// the path, the query or the fragment.
		placeholders := tmpl.WithPlaceholder("x")
		for _, delimiter := range []string{"/", "?", "#", "&", "=", ";", "@", "\\"} {
			if strings.Count(rendered, delimiter) != strings.Count(placeholders, delimiter) {
				t.Fatalf("%q with %q renders %q: the value added a %q", authored, value, rendered, delimiter)
			}
		}
	})
}

// placeholderOrigin is the url's origin with its templates written as "",
// "x" and "1", parsed as Go's client parses. known is false when none of
// the three parses (validation refuses the url on write); stable is true
// when those that parse agree on the origin and the user name, with a host.
func placeholderOrigin(t *jqtemplate.Template) (origin *url.URL, known, stable bool) {
	stable = true
	for _, placeholder := range []string{"", "x", "1"} {
		u, err := url.Parse(t.WithPlaceholder(placeholder))
		if err != nil {
			continue // "%{{ }}41" parses with "" only: no word on the origin
		}
		switch {
		case origin == nil:
			origin = u
		case urlOrigin(u) != urlOrigin(origin) || u.User.String() != origin.User.String():
			stable = false
		}
	}
	return origin, origin != nil, stable && origin != nil && origin.Hostname() != ""
}

// withValueExpressions replaces each {{ }} of s by an expression of the
// run's value: `{{ .input.v | @uri }}` for `{{@uri}}`, `{{ .input.v }}` for
// any other.
func withValueExpressions(s string) string {
	var b strings.Builder
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			break
		}
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			break
		}
		b.WriteString(s[:open])
		if strings.TrimSpace(s[open+2:open+2+end]) == "@uri" {
			b.WriteString("{{ .input.v | @uri }}")
		} else {
			b.WriteString("{{ .input.v }}")
		}
		s = s[open+2+end+2:]
	}
	b.WriteString(s)
	return b.String()
}
