// Package docs_test holds the documents in docs/ to the code they show. It
// is a package of tests only (as functions/links_test.go is), beside the
// documents rather than in internal/routes: what it checks is a document, and
// compiling the document's sample main needs a feature, its adapter and
// lambdaapp, none of which internal/routes may link, not even in its tests.
package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sampleMarker is the HTML comment (invisible once rendered) on the line
// before each ```go block of a document that is a whole Go file to compile;
// ", as <path>" says the block is that file of the repository, byte for byte.
var sampleMarker = regexp.MustCompile(`^<!-- compiled by TestAddingARouteSampleCompiles(?:, as (\S+))? -->$`)

type sample struct {
	line int    // the marker's, 1-based
	as   string // the repository file the block is, if any
	code string
}

// markedSamples returns the marked blocks of the Markdown document doc.
func markedSamples(t *testing.T, doc []byte) []sample {
	t.Helper()
	var out []sample
	lines := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; lines.Scan(); n++ {
		m := sampleMarker.FindStringSubmatch(lines.Text())
		if m == nil {
			continue
		}
		s := sample{line: n, as: m[1]}
		if !lines.Scan() || lines.Text() != "```go" {
			t.Fatalf("line %d: the marker is not followed by a ```go block", s.line)
		}
		n++
		var code strings.Builder
		closed := false
		for lines.Scan() {
			n++
			if lines.Text() == "```" {
				closed = true
				break
			}
			code.WriteString(lines.Text() + "\n")
		}
		if !closed {
			t.Fatalf("line %d: the ```go block is never closed", s.line)
		}
		s.code = code.String()
		out = append(out, s)
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAddingARouteSampleCompiles builds the sample main of
// docs/adding-a-route.md as written: each marked block is the main.go of its
// own package in a scratch module that requires this one (replaced by the
// repository itself, as infra/ does, so internal/ packages resolve), and go
// vet type-checks it. A sample naming the file it shows must also be that
// file, so the document shows the shape the functions have today.
func TestAddingARouteSampleCompiles(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "adding-a-route.md"))
	if err != nil {
		t.Fatal(err)
	}
	samples := markedSamples(t, doc)
	if len(samples) == 0 {
		t.Fatalf("docs/adding-a-route.md marks no ```go block with %q", "<!-- compiled by TestAddingARouteSampleCompiles -->")
	}

	for _, s := range samples {
		if s.as == "" {
			continue
		}
		file, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(s.as)))
		if err != nil {
			t.Errorf("docs/adding-a-route.md:%d: the sample says it is %s: %v", s.line, s.as, err)
		} else if string(file) != s.code {
			t.Errorf("docs/adding-a-route.md:%d: the sample is not %s as it is; copy the file into the document", s.line, s.as)
		}
	}

	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The scratch module is this one's go.mod under another name, so it
	// needs no go.mod update (it requires what the repository requires),
	// plus the repository itself.
	scratchMod, renamed := bytes.CutPrefix(goMod, []byte("module github.com/workflowsapi/workflows\n"))
	if !renamed {
		t.Fatal("go.mod does not begin with the module line github.com/workflowsapi/workflows")
	}
	scratchMod = fmt.Appendf([]byte("module github.com/workflowsapi/workflows/docsamples\n"), "%s\n"+
		"require github.com/workflowsapi/workflows v0.0.0-00010101000000-000000000000\n\n"+
		"replace github.com/workflowsapi/workflows => %s\n", scratchMod, root)
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"go.mod": scratchMod, "go.sum": goSum}
	for i, s := range samples {
		files[filepath.Join(fmt.Sprintf("sample%d", i+1), "main.go")] = []byte(s.code)
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// go is the toolchain running this test (go test puts its bin first on
	// PATH); the build cache is the usual one, so only the samples compile.
	// No module may be fetched: everything is in the module cache already.
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = dir
	vet.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("the sample main of docs/adding-a-route.md does not compile as written (%v):\n%s", err, inDocument(out, samples))
	}
}

// samplePosition is a position in a sample's file as the go command prints it.
var samplePosition = regexp.MustCompile(`(?:\./)?sample(\d+)/main\.go:(\d+)`)

// inDocument rewrites the positions in the samples' files in out as
// positions in the document: a sample's first line is two lines below its
// marker.
func inDocument(out []byte, samples []sample) []byte {
	return samplePosition.ReplaceAllFunc(out, func(pos []byte) []byte {
		m := samplePosition.FindSubmatch(pos)
		i, _ := strconv.Atoi(string(m[1]))
		line, _ := strconv.Atoi(string(m[2]))
		if i < 1 || i > len(samples) {
			return pos
		}
		return fmt.Appendf(nil, "docs/adding-a-route.md:%d", samples[i-1].line+1+line)
	})
}
