// Package functions_test holds every Lambda function to the route table's
// table of links between features (routes.FeatureLinks): a function links
// its own feature and what that feature is granted, nothing else, so a
// function's size, cold start and blast radius stay its own. It holds them
// to the route table's grants too: a function links an AWS client (KMS, Step
// Functions, EventBridge Scheduler) only if it is granted that client's
// actions, and none links the SDK's default config chain.
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

// goList runs `go list args...` from the module's root and returns its
// output.
func goList(tb testing.TB, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	return out
}

// linkedFeatures runs `go list -deps` over patterns and returns, for each
// package matched, the features its build links (itself excluded).
func linkedFeatures(tb testing.TB, patterns ...string) map[string][]routes.Feature {
	tb.Helper()
	out := goList(tb, append([]string{"-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)...)
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

// importGraph runs `go list -deps` over patterns and returns every package
// their builds link, each with the packages it imports, so that a test can
// say through which imports a package is linked.
func importGraph(tb testing.TB, patterns ...string) map[string][]string {
	tb.Helper()
	out := goList(tb, append([]string{"-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}, patterns...)...)
	graph := map[string][]string{}
	scanner := bufio.NewScanner(bytes.NewReader(out))
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		graph[fields[0]] = fields[1:]
	}
	return graph
}

// importChain is the shortest chain of imports by which from links to
// (from, ..., to), or nil if it does not.
func importChain(graph map[string][]string, from, to string) []string {
	cameFrom := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		if pkg == to {
			var chain []string
			for p := to; p != ""; p = cameFrom[p] {
				chain = append(chain, strings.TrimPrefix(p, module))
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imported := range graph[pkg] {
			if _, seen := cameFrom[imported]; !seen {
				cameFrom[imported] = pkg
				queue = append(queue, imported)
			}
		}
	}
	return nil
}

// grantedActionOf reports whether fn's ServiceActions hold an action of the
// service whose actions start with prefix ("states:", "scheduler:").
func grantedActionOf(prefix string) func(routes.Function) bool {
	return func(fn routes.Function) bool {
		return slices.ContainsFunc(fn.ServiceActions, func(a string) bool { return strings.HasPrefix(a, prefix) })
	}
}

// grantedKMS reports whether fn may call KMS at all: on the secrets' key or
// on the signal key.
func grantedKMS(fn routes.Function) bool {
	return len(fn.KeyActions) > 0 || len(fn.SignalKeyActions) > 0
}

// clientLinks are the packages a function may link only when the route table
// grants it what they call (a nil granted: never). A client's package is
// megabytes of a bootstrap and part of every cold start (issue 17), and a
// function that links one it may not call pays for it and can only fail with
// it.
var clientLinks = []struct {
	pkg     string
	granted func(routes.Function) bool
	why     string
}{
	{"github.com/aws/aws-sdk-go-v2/config", nil,
		"the SDK's default config chain (shared files, SSO, STS, IMDS), which a Lambda never runs: functions read their config from the environment (internal/awsconfig)"},
	{module + "internal/awsconfig/defaultchain", nil,
		"the SDK's default config chain, for wfctl run by a person"},
	{"github.com/aws/aws-sdk-go-v2/service/kms", nil,
		"the SDK's KMS client, whose package initialisation builds the schema of every KMS shape (0.38 MiB, 0.6 to 1.2 ms of a cold start): functions call KMS through internal/awskms"},
	{module + "internal/awskms", grantedKMS,
		"the KMS client, which only a function with KeyActions or SignalKeyActions may call"},
	{module + "internal/secrets/kmssealer", func(fn routes.Function) bool { return len(fn.KeyActions) > 0 },
		"the KMS sealer, which only a function with KeyActions may call"},
	{module + "internal/signaltoken/kmsmac", func(fn routes.Function) bool { return len(fn.SignalKeyActions) > 0 },
		"the KMS signal MAC, which only a function with SignalKeyActions may call"},
	{"github.com/aws/aws-sdk-go-v2/service/sfn", grantedActionOf("states:"),
		"the Step Functions client, which only a function with a states: action may call"},
	{"github.com/aws/aws-sdk-go-v2/service/scheduler", grantedActionOf("scheduler:"),
		"the EventBridge Scheduler client, which only a function with a scheduler: action may call"},
	{module + "internal/schedules/eventbridge", grantedActionOf("scheduler:"),
		"the EventBridge Scheduler adapter, which only a function with a scheduler: action may call"},
	// The definition's rules and compilers: a read of a workflow or a run
	// (and every other function that parses and compiles nothing) links
	// no validator, jq compiler, schema compiler or time zone database.
	// Of those that compile, the starts check a run's input against its
	// schema and compile nothing else (internal/workflows/inputschema), and
	// the runner compiles jq (internal/workflows/jqtemplate): only the
	// routes that write a definition parse and validate it, cron and time
	// zones included.
	{module + "internal/workflows/definition", writesDefinitions,
		"the definition's parser and validator, which only the routes that write a definition may link"},
	{"github.com/itchyny/gojq", compilesJQ, "the jq compiler, which only a function that Compiles jq (not the starts) may link"},
	{"github.com/santhosh-tekuri/jsonschema/v6", compiles,
		"the JSON Schema compiler (milliseconds of package initialisation), which only a function that Compiles may link"},
	{"time/tzdata", writesDefinitions, "the time zone database (about 450 KB), which only the routes that write a definition (a schedule's timezone) may link"},
}

func compiles(fn routes.Function) bool { return fn.Compiles }

// checksInputOnly are the functions that Compile only a run's input schema:
// the starts.
var checksInputOnly = map[string]bool{"run-workflow": true, "retry-run": true, "scheduled-run": true, "receive-webhook": true}

func compilesJQ(fn routes.Function) bool { return fn.Compiles && !checksInputOnly[fn.Name] }

func writesDefinitions(fn routes.Function) bool {
	return fn.Name == routes.CreateWorkflow.Function || fn.Name == routes.UpdateWorkflow.Function
}

// Each function links an AWS client only if the route table grants it the
// client's actions, and none links the SDK's default config chain. So a
// read route that takes a sealer's interface links no KMS client, and a
// feature package that names an adapter type fails here, with the imports
// that link it.
func TestFunctionsLinkOnlyTheClientsTheyAreGranted(t *testing.T) {
	graph := importGraph(t, "./functions/...")
	for _, fn := range routes.Functions() {
		t.Run(fn.Name, func(t *testing.T) {
			main := module + "functions/" + fn.Name
			if _, ok := graph[main]; !ok {
				t.Fatalf("go list did not list functions/%s", fn.Name)
			}
			for _, link := range clientLinks {
				if link.granted != nil && link.granted(fn) {
					continue
				}
				if chain := importChain(graph, main, link.pkg); chain != nil {
					t.Errorf("links %s, %s (KeyActions %v, SignalKeyActions %v, ServiceActions %v, Compiles %v), through %s",
						link.pkg, link.why, fn.KeyActions, fn.SignalKeyActions, fn.ServiceActions, fn.Compiles, strings.Join(chain, " -> "))
				}
			}
		})
	}
	// A package no function links at all would pass above whatever the
	// grants: a path that was renamed or mistyped.
	for _, link := range clientLinks {
		if _, linked := graph[link.pkg]; link.granted != nil && !linked {
			t.Errorf("no function links %s: has it moved? Then this test no longer sees it", link.pkg)
		}
	}
}
