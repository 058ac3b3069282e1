package engine

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// storedHTTPStep compiles a GET step without validating it: a definition
// stored before the write-time rules it would now break.
func storedHTTPStep(t *testing.T, rawURL, connection string) *Compiled {
	t.Helper()
	def := workflows.Definition{Steps: []workflows.Step{{ID: "call", Type: workflows.StepHTTP, With: workflows.With{Method: "GET", URL: rawURL, Connection: connection}}}}
	c, err := Compile(def)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// renderedURL renders a url template over input as an http step would.
func renderedURL(t *testing.T, template string, input any) (string, error) {
	t.Helper()
	tmpl, err := jqtemplate.CompileTemplate(template)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rendered, _, err := renderURL(ctx, ctx, tmpl, runContext(input))
	return rendered, err
}

func TestURLValuesArePercentEncodedWhereTheyLand(t *testing.T) {
	for _, tc := range []struct {
		template string
		value    any
		want     string
	}{
		{"https://api.example/orders/{{ .input.v }}", "o-17", "https://api.example/orders/o-17"},
		{"https://api.example/orders/{{ .input.v }}", 42.0, "https://api.example/orders/42"},
		{"https://api.example/orders/{{ .input.v }}", map[string]any{"k": "v"}, "https://api.example/orders/%7B%22k%22%3A%22v%22%7D"},
		{"https://api.example/orders/{{ .input.v }}", nil, "https://api.example/orders/null"},
		// A value is one segment: "/" and dot segments stay inside it.
		{"https://api.example/x/{{ .input.v }}", "a/b", "https://api.example/x/a%2Fb"},
		{"https://api.example/x/{{ .input.v }}", "/../admin", "https://api.example/x/%2F..%2Fadmin"},
		{"https://api.example/x/{{ .input.v }}", `\\evil.example\a`, "https://api.example/x/%5C%5Cevil.example%5Ca"},
		{"https://api.example/x/{{ .input.v }}", "@evil.example:81", "https://api.example/x/%40evil.example%3A81"},
		// Encoded input is text, not syntax: "%2F" arrives as the three characters.
		{"https://api.example/x/{{ .input.v }}", "%2F%40%3A", "https://api.example/x/%252F%2540%253A"},
		{"https://api.example/x/{{ .input.v }}", "a?b#c", "https://api.example/x/a%3Fb%23c"},
		{"https://api.example/x/{{ .input.v }}", " a\tb\r\n\x00\x7f", "https://api.example/x/%20a%09b%0D%0A%00%7F"},
		{"https://api.example/x/{{ .input.v }}", "bücher.例え", "https://api.example/x/b%C3%BCcher.%E4%BE%8B%E3%81%88"},
		{"https://api.example/x/{{ .input.v }}", "\xff\xfe", "https://api.example/x/%FF%FE"},
		// In the query a value is one value: no parameter is added.
		{"https://api.example/s?q={{ .input.v }}&page=2", "a b&admin=1#f", "https://api.example/s?q=a%20b%26admin%3D1%23f&page=2"},
		{"https://api.example/s?q={{ .input.v }}", "1+1=2;x", "https://api.example/s?q=1%2B1%3D2%3Bx"},
		{"https://api.example/s#{{ .input.v }}", "a#b?c", "https://api.example/s#a%23b%3Fc"},
		{"https://api.example?q={{ .input.v }}", "x/y", "https://api.example?q=x%2Fy"},
		// Expressions whose last step is @uri were escaped by their authors:
		// not again.
		{"https://api.example/s?q={{ .input.v | @uri }}", "a b&c", "https://api.example/s?q=a%20b%26c"},
		{"https://api.example/s?q={{ (.input.v | @uri) }}", "100%", "https://api.example/s?q=100%25"},
		{`https://api.example/s?q={{ @uri "id-\(.input.v)" }}`, "a/b", "https://api.example/s?q=id-a%2Fb"},
		// ... but what @uri leaves unescaped in its literal text is escaped.
		{`https://api.example/s?q={{ @uri "a/\(.input.v)" }}`, "b c", "https://api.example/s?q=a%2Fb%2520c"},
		// Anything after @uri is a new value, escaped.
		{"https://api.example/s?q={{ .input.v | @uri | . + \"/x\" }}", "a b", "https://api.example/s?q=a%2520b%2Fx"},
		{"https://api.example/s?q={{ .input.v | @base64 }}", "??>", "https://api.example/s?q=Pz8%2B"},
	} {
		got, err := renderedURL(t, tc.template, map[string]any{"v": tc.value})
		if err != nil || got != tc.want {
			t.Errorf("%s with %q:\n got %s (%v)\nwant %s", tc.template, tc.value, got, err, tc.want)
		}
	}
}

// The forms of issue 13: a run's input chose where a bearer token went.
// Stored before the write-time rule, they now fail the step with
// TARGET_REFUSED and neither target is reached; written with the template
// after the host, hostile input stays in the path of the authored target.
func TestARunsInputCannotMoveTheCredentialsOrigin(t *testing.T) {
	attacker := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	own := newTarget(t, func(http.ResponseWriter, *http.Request) {})
	ownPort, attackerPort := portOf(t, own.URL), portOf(t, attacker.URL)
	e := httpEngine(t, Options{Credentials: testCredentials})

	for _, tc := range []struct{ template, input string }{
		{"http://{{ .input.v }}.localhost:" + ownPort + "/echo", "127.0.0.1:" + attackerPort + "/k=stolen?"},
		{"http://127.0.0.1:" + ownPort + "{{ .input.v }}", "@localhost:" + attackerPort},
		{"http://{{ .input.v }}/x", "127.0.0.1:" + attackerPort},
		{"http://127.0.0.1:{{ .input.v }}/x", attackerPort},
		{"{{ .input.v }}", "http://127.0.0.1:" + attackerPort + "/"},
		{"http://127.0.0.1:" + ownPort + "@{{ .input.v }}/", "127.0.0.1:" + attackerPort},
		{"http://user:pw@127.0.0.1:" + ownPort + "/x", ""},
	} {
		c := storedHTTPStep(t, tc.template, bearerConnection)
		_, err := e.Execute(context.Background(), c, 0, runContext(map[string]any{"v": tc.input}), "k")
		if se := stepError(t, err); se.Code != CodeTargetRefused || se.Retryable {
			t.Errorf("%s with %q: %+v", tc.template, tc.input, se)
		}
	}
	received(t, own, 0)

	for _, hostile := range []string{
		"@localhost:" + attackerPort, "/../", "..", "%2F", "%40localhost:" + attackerPort, "%3A" + attackerPort,
		`\\localhost:` + attackerPort, "bücher", "xn--bcher-kva", "?@localhost:" + attackerPort, "#@localhost:" + attackerPort,
		"x y", "\r\nHost: localhost:" + attackerPort,
	} {
		c := httpStep(t, `{"method": "GET", "url": "http://127.0.0.1:`+ownPort+`/x/{{ .input.v }}?q={{ .input.v }}", "connection": "`+bearerConnection+`"}`, "")
		if _, err := e.Execute(context.Background(), c, 0, runContext(map[string]any{"v": hostile}), "k"); err != nil {
			t.Errorf("%q: %v", hostile, err)
		}
	}
	got := received(t, own, 13)
	for _, r := range got {
		u, err := url.ParseRequestURI(r.uri)
		if err != nil || !strings.HasPrefix(u.EscapedPath(), "/x/") || strings.Count(u.EscapedPath(), "/") != 2 || len(u.Query()) != 1 {
			t.Errorf("request URI %q: the value left its path segment or query value", r.uri)
		}
		if r.header.Get("Authorization") != "Bearer tok-123" {
			t.Errorf("%s: the authored origin did not get the credentials", r.uri)
		}
	}
	received(t, attacker, 0)
}

func portOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func TestCheckOriginComparesSchemeHostAndPort(t *testing.T) {
	authored, _ := url.Parse("https://API.example.com")
	for rendered, ok := range map[string]bool{
		"https://api.example.com/x":      true,
		"https://api.example.com:443/x":  true,
		"HTTPS://api.EXAMPLE.com/x?y#z":  true,
		"http://api.example.com/x":       false,
		"https://api.example.com:8443/x": false,
		"https://api.example.com.evil/":  false,
		"https://evil.example/":          false,
		"https://u@api.example.com/":     false,
		"https://u:p@api.example.com/":   false,
		"https://:@api.example.com/":     false,
	} {
		u, err := url.Parse(rendered)
		if err != nil {
			t.Fatal(err)
		}
		err = checkOrigin(u, authored)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", rendered, err, ok)
		}
		if err != nil {
			if se := stepError(t, err); se.Code != CodeTargetRefused || strings.Contains(se.Message, "evil") {
				t.Errorf("%s: %+v (the message must not quote the rendered URL)", rendered, se)
			}
		}
	}
}

func TestSplitURLTemplateKeepsTheOriginLiteral(t *testing.T) {
	for template, origin := range map[string]string{
		"https://api.example.com/orders/{{ .id }}": "https://api.example.com",
		"https://api.example.com:8443?q={{ .q }}":  "https://api.example.com:8443",
		"http://[::1]:8080#{{ .f }}":               "http://[::1]:8080",
		"HTTP://h.example/":                        "HTTP://h.example",
		"https://h.example":                        "https://h.example",
	} {
		tmpl, err := jqtemplate.CompileTemplate(template)
		if err != nil {
			t.Fatal(err)
		}
		split, err := jqtemplate.SplitURLTemplate(tmpl)
		if err != nil || split.Origin != origin {
			t.Errorf("%s: %+v %v, want origin %s", template, split, err, origin)
		}
	}
	for _, template := range []string{
		"https://{{ .h }}/x", "https://h.example:{{ .p }}/", "https://h.example{{ .path }}", "https://{{ .u }}@h.example/",
		"{{ .scheme }}://h.example/", "http{{ .s }}://h.example/", "http:{{ .rest }}", "http:/{{ .rest }}", "{{ .url }}",
		"ftp://h.example/{{ .x }}",
	} {
		tmpl, err := jqtemplate.CompileTemplate(template)
		if err != nil {
			t.Fatal(err)
		}
		if split, err := jqtemplate.SplitURLTemplate(tmpl); err == nil {
			t.Errorf("%s split as %+v", template, split)
		}
	}
}
