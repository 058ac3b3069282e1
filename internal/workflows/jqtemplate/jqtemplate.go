// Package jqtemplate compiles what a definition holds of jq: programs
// (CompileJQ), strings with {{ }} expressions (CompileTemplate) and an http
// step's url split at its literal origin (SplitURLTemplate). Validation
// (internal/workflows/definition) and the runner (internal/engine) both
// compile with it, so that what was accepted on write is what runs; it is
// apart from the definition's parser and validator so that the runner
// links gojq without them, the cron parser and the time zone database.
package jqtemplate

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// CompileJQ compiles a jq program as the runner runs it: over the run
// context ({"input", "steps", "run", "workflow"}) as its input, with no
// variables, no modules and no input/inputs. It passes no environment
// loader, so $ENV and env are empty: a program must never read the
// function's environment, where Lambda keeps its AWS credentials. The
// runner compiles with this function, never with gojq directly, so that
// what validation accepted is exactly what runs.
func CompileJQ(src string) (*gojq.Code, error) {
	query, err := gojq.Parse(src)
	if err != nil {
		return nil, err
	}
	return gojq.Compile(query)
}

// Template is a string with jq expressions in it, each between {{ and }}:
// "https://shop.example/orders/{{ .input.orderId }}". An expression ends at
// the first "}}" (an object inside one closes with "} }"). There is no
// escape for a literal "{{".
type Template struct {
	Parts []TemplatePart
}

// TemplatePart is literal Text, or an expression (Code, compiled from Expr).
type TemplatePart struct {
	Text string
	Expr string
	Code *gojq.Code
}

// CompileTemplate splits s into text and expressions and compiles each
// expression with CompileJQ. How a value is rendered into the string is the
// runner's to say; it compiles templates with this function.
func CompileTemplate(s string) (*Template, error) {
	t := &Template{}
	for offset := 0; ; {
		open := strings.Index(s, "{{")
		if open < 0 {
			if s != "" {
				t.Parts = append(t.Parts, TemplatePart{Text: s})
			}
			return t, nil
		}
		if open > 0 {
			t.Parts = append(t.Parts, TemplatePart{Text: s[:open]})
		}
		rest := s[open+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, fmt.Errorf(`has a "{{" at character %d without its "}}"`, offset+open+1)
		}
		expr := rest[:end]
		if strings.TrimSpace(expr) == "" {
			return nil, fmt.Errorf(`has an empty "{{ }}" at character %d`, offset+open+1)
		}
		code, err := CompileJQ(expr)
		if err != nil {
			hint := ""
			if strings.Contains(expr, "{") {
				hint = ` (an expression ends at the first "}}": close nested objects with "} }")`
			}
			return nil, fmt.Errorf("has an expression {{%s}} that does not compile: %v%s", shorten(expr), err, hint)
		}
		t.Parts = append(t.Parts, TemplatePart{Expr: expr, Code: code})
		offset += open + 2 + end + 2
		s = rest[end+2:]
	}
}

// WithPlaceholder is the template's text with each expression replaced by
// placeholder: how a URL template's literal parts are checked on write, and
// what the URL renderer's fuzz target compares a render against.
func (t *Template) WithPlaceholder(placeholder string) string {
	var b strings.Builder
	for _, part := range t.Parts {
		if part.Code != nil {
			b.WriteString(placeholder)
		} else {
			b.WriteString(part.Text)
		}
	}
	return b.String()
}

// shorten keeps a message short when it quotes what the user wrote.
func shorten(s string) string {
	const limit = 80
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return string(runes[:limit]) + "…"
}

// URLTemplate is an http step's url as the runner fills it in: the origin
// (scheme, host and port) exactly as written, then the rest, where each
// expression's value fills part of the path, the query or the fragment.
type URLTemplate struct {
	// Origin is the URL's beginning up to (not including) the first "/",
	// "?" or "#" after the host: "https://api.example.com:8443". It holds
	// no expression.
	Origin string
	// Rest is what follows Origin: literal text and expressions.
	Rest []URLTemplatePart
}

// URLTemplatePart is a part of a URLTemplate's Rest.
type URLTemplatePart struct {
	TemplatePart
	// Escaped says that the expression's last step is @uri, so its value
	// is escaped already: the runner takes it as it is when it holds only
	// unreserved characters and %XX, instead of escaping it again.
	Escaped bool
}

// errTemplateInOrigin refuses a template before the end of the URL's host
// and port. Go's parser ends the host at the first "/", "?" or "#": a
// template before those can make the host (http://{{ .h }}/), the port
// (http://h:{{ .p }}/), or, with "@", turn the written host into a user
// name (http://h{{ .path }} with path "@other.example").
var errTemplateInOrigin = errors.New(`may fill only the path, query or fragment with {{ }}: the scheme, host and port must be written out and followed by "/", "?" or "#" before the first template (https://api.example.com/orders/{{ .input.id }}), so that a run's input never chooses where the request and its credentials go`)

// SplitURLTemplate splits an http step's url into its literal origin and
// the rest, or refuses a url whose scheme, user name, host or port holds a
// template, or that does not begin with http:// or https://. Validation and
// the runner both split with it, so that what was accepted on write is
// what runs; a definition stored before the rule fails here at run time.
func SplitURLTemplate(t *Template) (*URLTemplate, error) {
	var literal strings.Builder // the text before the first expression
	first := len(t.Parts)
	for i, part := range t.Parts {
		if part.Code != nil {
			first = i
			break
		}
		literal.WriteString(part.Text)
	}
	prefix := literal.String()
	templated := first < len(t.Parts)
	scheme, afterScheme, found := strings.Cut(prefix, ":")
	if !found || !strings.HasPrefix(afterScheme, "//") {
		if templated {
			return nil, errTemplateInOrigin
		}
		return nil, errors.New("must be an absolute http or https URL")
	}
	if !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return nil, errors.New("must be an absolute http or https URL")
	}
	hostStart := len(scheme) + len("://")
	originEnd := len(prefix)
	if end := strings.IndexAny(prefix[hostStart:], "/?#"); end >= 0 {
		originEnd = hostStart + end
	} else if templated {
		return nil, errTemplateInOrigin
	}
	split := &URLTemplate{Origin: prefix[:originEnd]}
	if rest := prefix[originEnd:]; rest != "" {
		split.Rest = append(split.Rest, URLTemplatePart{TemplatePart: TemplatePart{Text: rest}})
	}
	for _, part := range t.Parts[first:] {
		split.Rest = append(split.Rest, URLTemplatePart{TemplatePart: part, Escaped: part.Code != nil && endsInURIFormat(part.Expr)})
	}
	return split, nil
}

// endsInURIFormat reports whether a jq expression's last step is the @uri
// format (".q | @uri", "(.q | @uri)", `@uri "id-\(.q)"`), whose value
// authors used to put in URLs before the runner escaped values itself.
func endsInURIFormat(expr string) bool {
	q, err := gojq.Parse(expr)
	for err == nil && q != nil {
		switch {
		case q.Op == gojq.OpPipe:
			q = q.Right
		case q.Op != 0 || q.Term == nil || len(q.Term.SuffixList) > 0:
			return false
		case q.Term.Type == gojq.TermTypeFormat:
			return q.Term.Format == "@uri"
		case q.Term.Type == gojq.TermTypeQuery:
			q = q.Term.Query
		default:
			return false
		}
	}
	return false
}
