package openapi_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/workflowsapi/workflows/internal/domain"
)

// nameCorpus holds names around every rule of domain.CheckName: spaces
// around, inside and alone, every C0 and C1 control, DEL, each
// bidirectional formatting character, and ordinary letters beside them.
func nameCorpus() []string {
	out := []string{"a", "Orders", " padded ", "\tleading tab", "trailing newline\n", "two  spaces", " ", "   ", "", "é", "日本", "a b c",
		"name\u00a0nbsp", "\u00a0", "\u2003em space\u2003", "\ufeffbom"}
	for r := rune(0); r <= 0x9f; r++ {
		if unicode.IsControl(r) {
			out = append(out, "x"+string(r)+"y", string(r)+"lead", "trail"+string(r))
		}
	}
	for _, r := range []rune{0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069} {
		out = append(out, "x"+string(r)+"y", string(r), "rtl"+string(r))
	}
	return out
}

// TestNamePatternsSayWhatTheServerDoes: a client that checks a name against
// the document's pattern refuses what the server refuses and sends what it
// accepts (the three names: a key's, a workflow's, a connection's).
func TestNamePatternsSayWhatTheServerDoes(t *testing.T) {
	doc := loadDocument(t)
	schemas := map[string]*openapi3.Schema{
		"CreateApiKeyRequest.name": doc.Components.Schemas["CreateApiKeyRequest"].Value.Properties["name"].Value,
		"WorkflowDefinition.name":  doc.Components.Schemas["WorkflowDefinition"].Value.Properties["name"].Value,
		"ConnectionName":           doc.Components.Schemas["ConnectionName"].Value,
	}
	for where, schema := range schemas {
		for _, name := range nameCorpus() {
			if len(name) > 100 {
				continue
			}
			_, problem := domain.CheckName("name", name, 100)
			docErr := schema.VisitJSON(name, openapi3.EnableJSONSchema2020())
			if (problem == nil) != (docErr == nil) {
				t.Errorf("%s: %q: the server says %v, the document says %v", where, name, problem, docErr)
			}
		}
	}
}

// TestCredentialPatternSaysWhatTheServerDoes: no control character, C1
// included, in a credential, as connections' validation refuses them.
func TestCredentialPatternSaysWhatTheServerDoes(t *testing.T) {
	schema := loadDocument(t).Components.Schemas["CredentialString"].Value
	for _, value := range nameCorpus() {
		serverAccepts := !strings.ContainsFunc(value, unicode.IsControl)
		docErr := schema.VisitJSON(value, openapi3.EnableJSONSchema2020())
		if serverAccepts != (docErr == nil) {
			t.Errorf("%q: the server accepts it: %v, the document says %v", value, serverAccepts, docErr)
		}
	}
}

// TestVersionParameterHasTheServersMaximum: ?version= is bounded in the
// document by the bound versionParam applies.
func TestVersionParameterHasTheServersMaximum(t *testing.T) {
	op := loadDocument(t).Paths.Find("/workflows/{id}").Get
	for _, p := range op.Parameters {
		if p.Value.Name != "version" {
			continue
		}
		s := p.Value.Schema.Value
		if s.Max == nil || *s.Max != 2147483647 || s.Min == nil || *s.Min != 1 || !s.Type.Is("integer") {
			t.Fatalf("version's schema is %+v, want an integer from 1 to 2147483647", s)
		}
		return
	}
	t.Fatal("GET /workflows/{id} has no version parameter")
}
