package samtemplate_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/samtemplate"
	"github.com/workflowsapi/workflows/internal/routes"
)

// repoRoot is where template.yaml and the Makefile are.
var repoRoot = filepath.Join("..", "..")

// The committed template.yaml is the generator's, byte for byte: a change
// to the tables it is written from, or to the generator, is regenerated in
// the same change.
func TestTheCommittedTemplateIsGenerated(t *testing.T) {
	want, err := samtemplate.Generate()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatalf("read template.yaml: %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("template.yaml is not what the generator writes (first difference at line %d:\n have %q\n want %q);\n"+
				"regenerate it with `%s -o ../template.yaml` (or `make samtemplate`) and commit the result", i+1, g, w, samtemplate.Command)
			return
		}
	}
}

// sam build builds each function with `make build-<LogicalId>`
// (infra/infra.mk), whose rule turns the logical id back into the
// function's folder: this holds the rule to every function's logical id.
func TestTheSAMBuildTargetBuildsEachFunctionFromItsFolder(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	artifacts := t.TempDir()
	for _, fn := range routes.Functions() {
		id := samtemplate.FunctionID(fn.Name)
		// -n prints the recipe without running it.
		cmd := exec.Command("make", "-n", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+artifacts)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", id, err, out)
			continue
		}
		for _, want := range []string{
			"-o bin/.build/" + fn.Name + " ./functions/" + fn.Name + "\n",
			"cp bin/" + fn.Name + "/bootstrap \"" + artifacts + "/bootstrap\"",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("make build-%s does not run %q:\n%s", id, want, out)
			}
		}
	}
}
