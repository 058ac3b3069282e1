// Package functions_test holds every Lambda function to the route table's
// table of links between features (routes.FeatureLinks): a function links
// its own feature and what that feature is granted, nothing else, so a
// function's size, cold start and blast radius stay its own.
package functions_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/routes"
)

const module = "github.com/workflowsapi/workflows/"

// featureOf names the feature a package belongs to: internal/<feature>/...
// or its adapter internal/store/<feature>db/...; "" for shared packages.
func featureOf(importPath string) routes.Feature {
	rest, ok := strings.CutPrefix(importPath, module+"internal/")
	if !ok {
		return ""
	}
	var found routes.Feature
	for _, f := range routes.Features {
		if rest == string(f) || strings.HasPrefix(rest, string(f)+"/") ||
			rest == "store/"+string(f)+"db" || strings.HasPrefix(rest, "store/"+string(f)+"db/") {
			if len(f) > len(found) {
				found = f // the longest: internal/webhooks/receive is not internal/webhooks
			}
		}
	}
	return found
}

// linkedFeatures runs `go list -deps` over patterns and returns, for each
// package matched, the features its build links (itself excluded).
func linkedFeatures(tb testing.TB, patterns ...string) map[string][]routes.Feature {
	tb.Helper()
	args := append([]string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	linked := map[string][]routes.Feature{}
	scanner := bufio.NewScanner(bytes.NewReader(out))
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		var features []routes.Feature
		for _, dep := range fields[1:] {
			if f := featureOf(dep); f != "" && !slices.Contains(features, f) {
				features = append(features, f)
			}
		}
		slices.Sort(features)
		linked[strings.TrimPrefix(fields[0], module)] = features
	}
	return linked
}

func TestFunctionLinks(t *testing.T) {
	linked := linkedFeatures(t, "./functions/...")
	for _, fn := range routes.Functions() {
		t.Run(fn.Name+" links only what its feature "+string(fn.Feature)+" may", func(t *testing.T) {
			got, ok := linked["functions/"+fn.Name]
			if !ok {
				t.Fatalf("go list did not list functions/%s", fn.Name)
			}
			allowed := fn.Feature.Reachable()
			for _, f := range got {
				if !slices.Contains(allowed, f) {
					t.Errorf("links feature %q; routes.FeatureLinks grants %s only %v", f, fn.Feature, allowed)
				}
			}
			built := fn.Route == nil || fn.Route.Built
			if built && !slices.Contains(got, fn.Feature) {
				t.Errorf("links %v but not its own feature %s: the test cannot see what it links", got, fn.Feature)
			}
			if !built && len(got) != 0 {
				t.Errorf("answers 501 but links %v", got)
			}
		})
	}
}

func TestFeatureLinks(t *testing.T) {
	linked := linkedFeatures(t, "./internal/...")
	for pkg, features := range linked {
		own := featureOf(module + pkg)
		if own == "" {
			continue
		}
		for _, f := range features {
			if f != own && !slices.Contains(own.Reachable(), f) {
				t.Errorf("%s (feature %s) imports feature %s, which routes.FeatureLinks does not grant it", pkg, own, f)
			}
		}
	}
	for _, shared := range []string{"internal/httpapi", "internal/store", "internal/lambdaapp", "internal/domain", "internal/routes", "internal/ratelimit", "internal/store/pipelinedb"} {
		if got := linked[shared]; len(got) != 0 {
			t.Errorf("%s is shared by every function but links features %v", shared, got)
		}
	}
}
