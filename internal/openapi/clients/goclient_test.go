package clients_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/openapi/clients/goclient"
)

var update = flag.Bool("update", false, "write the generated Go client to goclient/client.gen.go instead of comparing it (make goclient)")

// TestTheGoClientIsGeneratedFromTheServedDocument runs oapi-codegen, pinned
// as a Go tool in go.mod, over the document as GET /api/v1/openapi.json
// serves it, and holds the committed client to its output: the scenario
// below drives the API through exactly what a user would generate today.
// A document that oapi-codegen refuses fails here.
func TestTheGoClientIsGeneratedFromTheServedDocument(t *testing.T) {
	dir := t.TempDir()
	document := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(document, openapi.JSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	generated := filepath.Join(dir, "client.gen.go")
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join("goclient", "oapi-codegen.yaml"), "-o", generated, document)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen refused the document: %v\n%s", err, out)
	} else if len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("oapi-codegen warned:\n%s", out)
	}
	got, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("goclient", "client.gen.go")
	if *update {
		if err := os.WriteFile(committed, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("goclient/client.gen.go is not what oapi-codegen makes of the served document: run make goclient")
	}
}

// TestTheGoClientHasEveryOperation: oapi-codegen skips nothing, each
// operationId (list-workflows) is a typed method (ListWorkflowsWithResponse).
func TestTheGoClientHasEveryOperation(t *testing.T) {
	client := reflect.TypeOf(&goclient.ClientWithResponses{})
	ops := parseDocument(t, openapi.JSON()).operations()
	if len(ops) == 0 {
		t.Fatal("the document has no operations")
	}
	for _, op := range ops {
		var method strings.Builder
		for _, word := range strings.Split(op.id, "-") {
			method.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
		method.WriteString("WithResponse")
		if _, ok := client.MethodByName(method.String()); !ok {
			t.Errorf("%s %s (%s): the Go client has no %s", op.method, op.path, op.id, method.String())
		}
	}
}
