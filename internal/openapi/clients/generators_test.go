package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/openapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// These tests hold the document, written as GET /api/v1/openapi.json serves
// it (openapi.JSON()) to a temporary file, to the linters and generators its
// users run on it: spectral and redocly, openapi-python-client and
// openapi-typescript. Each is the repository's pinned copy, run from
// node_modules/.bin or .venv/bin, never through npx (which may download).
//
// Nothing may reach the network: every tool runs with offlineEnv, spectral
// with a local ruleset (testdata/spectral.yaml), openapi-python-client
// without post hooks (testdata/openapi-python-client.yaml), and the API the
// Python client is held to runs in-process on loopback (TestMain, in
// main_test.go, starts its dynalite).

// The pinned tools, relative to the repository's root (package.json and
// requirements-dev.txt pin them; scripts/ensure-deps.sh installs them).
const (
	spectralBin            = "node_modules/.bin/spectral"
	redoclyBin             = "node_modules/.bin/redocly"
	openapiTypeScriptBin   = "node_modules/.bin/openapi-typescript"
	typeScriptCompilerBin  = "node_modules/.bin/tsc"
	openapiPythonClientBin = ".venv/bin/openapi-python-client"
	pythonBin              = ".venv/bin/python"
)

// pythonPackage is the package name testdata/openapi-python-client.yaml
// gives the generated client.
const pythonPackage = "workflows_client"

// ---------------------------------------------------------------------------
// The linters

// allowedWarning is a lint warning the document is known to draw, at a JSON
// pointer or anywhere under it.
type allowedWarning struct{ tool, rule, at string }

// allowedWarnings is every warning the linters may report. Any other fails
// the test, and so does an entry here that is no longer reported (so the
// list never outlives its reasons).
var allowedWarnings = []allowedWarning{
	// The document names no contact (info.contact): there is no support address to publish.
	{"spectral", "info-contact", "/info"},
	// OpenAPI 3.1 lets an apiKey requirement list role names; ours name the scope the operation needs.
	{"spectral", "oas3-operation-security-defined", "/paths"},
	// ErrorEnvelope is the common shape the contract checker validates every error body against; no response names it.
	{"spectral", "oas3-unused-component", "/components/schemas/ErrorEnvelope"},
	{"redocly", "no-unused-components", "/components/schemas/ErrorEnvelope"},
	// NotImplemented is the 501 of a route whose feature is not built; every route is built now.
	{"spectral", "oas3-unused-component", "/components/responses/NotImplemented"},
	{"redocly", "no-unused-components", "/components/responses/NotImplemented"},
	// The repository has no licence to name.
	{"redocly", "info-license", "/info"},
}

// lintFinding is one result of either linter.
type lintFinding struct {
	tool, rule, pointer, message string
	isError                      bool
}

func (f lintFinding) String() string {
	return fmt.Sprintf("%s %s at %s: %s", f.tool, f.rule, f.pointer, f.message)
}

func TestSpectralAndRedoclyFindNoErrors(t *testing.T) {
	t.Parallel()
	for _, p := range lintProblems(t, openapi.JSON()) {
		t.Error(p)
	}

	// The same checks see an error the document could have: two operations
	// with one operationId (a client generator would name two functions the same).
	t.Run("a repeated operationId fails", func(t *testing.T) {
		doc := mutatedDocument(t, func(doc map[string]any) {
			jsonAt(doc, "paths", "/workflows/{id}", "get").(map[string]any)["operationId"] = "list-workflows"
		})
		problems := lintProblems(t, doc)
		for _, tool := range []string{"spectral", "redocly"} {
			if !slices.ContainsFunc(problems, func(p string) bool {
				return strings.Contains(p, "error: "+tool+" operation-operationId-unique")
			}) {
				t.Errorf("%s reported no operation-operationId-unique error; problems: %q", tool, problems)
			}
		}
	})
}

// lintProblems runs both linters on doc and says what is wrong: every
// error, every warning allowedWarnings does not list, and every entry of
// allowedWarnings no warning matched.
func lintProblems(t *testing.T, doc []byte) []string {
	t.Helper()
	dir := t.TempDir()
	docPath := writeDocument(t, dir, doc)
	findings := append(spectralFindings(t, docPath), redoclyFindings(t, docPath)...)
	used := make([]bool, len(allowedWarnings))
	var problems []string
	for _, f := range findings {
		if f.isError {
			problems = append(problems, "error: "+f.String())
			continue
		}
		i := slices.IndexFunc(allowedWarnings, func(a allowedWarning) bool {
			return a.tool == f.tool && a.rule == f.rule && (f.pointer == a.at || strings.HasPrefix(f.pointer, a.at+"/"))
		})
		if i < 0 {
			problems = append(problems, "warning not in allowedWarnings: "+f.String())
			continue
		}
		used[i] = true
	}
	for i, a := range allowedWarnings {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("allowedWarnings lists %s %s at %s, which is no longer reported: remove it", a.tool, a.rule, a.at))
		}
	}
	return problems
}

// spectralFindings runs spectral lint --format json --ruleset
// testdata/spectral.yaml on docPath. Spectral exits 1 when it reports an
// error (its default --fail-severity) and 2 when it could not lint.
func spectralFindings(t *testing.T, docPath string) []lintFinding {
	t.Helper()
	ruleset := testdataFile(t, "spectral.yaml")
	out := runTool(t, filepath.Dir(docPath), nil, pinnedTool(t, spectralBin), "lint", "--format", "json", "--ruleset", ruleset, docPath)
	if out.code != 0 && out.code != 1 {
		t.Fatalf("spectral exited %d: %s", out.code, out.combined())
	}
	var results []struct {
		Code     string `json:"code"`
		Path     []any  `json:"path"`
		Message  string `json:"message"`
		Severity int    `json:"severity"` // 0 error, 1 warning, 2 information, 3 hint
	}
	if err := json.Unmarshal(out.stdout, &results); err != nil {
		t.Fatalf("spectral's output is not its JSON format (%v): %s", err, out.combined())
	}
	var findings []lintFinding
	for _, r := range results {
		segments := make([]string, len(r.Path))
		for i, s := range r.Path {
			segments[i] = fmt.Sprint(s)
		}
		findings = append(findings, lintFinding{tool: "spectral", rule: r.Code, pointer: jsonPointer(segments), message: r.Message, isError: r.Severity == 0})
	}
	if out.code == 1 && !slices.ContainsFunc(findings, func(f lintFinding) bool { return f.isError }) {
		t.Fatalf("spectral exited 1 but reported no error: %s", out.combined())
	}
	return findings
}

// redoclyFindings runs redocly lint --format json on docPath, with its
// built-in recommended rules (there is no redocly.yaml). It exits 1 when it
// reports an error.
func redoclyFindings(t *testing.T, docPath string) []lintFinding {
	t.Helper()
	out := runTool(t, filepath.Dir(docPath), nil, pinnedTool(t, redoclyBin), "lint", "--format", "json", docPath)
	if out.code != 0 && out.code != 1 {
		t.Fatalf("redocly exited %d: %s", out.code, out.combined())
	}
	var report struct {
		Totals struct {
			Errors int `json:"errors"`
		} `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"` // error, warn
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(out.stdout, &report); err != nil {
		t.Fatalf("redocly's output is not its JSON format (%v): %s", err, out.combined())
	}
	var findings []lintFinding
	for _, p := range report.Problems {
		pointer := ""
		if len(p.Location) > 0 {
			pointer = strings.TrimPrefix(p.Location[0].Pointer, "#")
		}
		findings = append(findings, lintFinding{tool: "redocly", rule: p.RuleID, pointer: pointer, message: p.Message, isError: p.Severity != "warn"})
	}
	if (out.code == 1) != (report.Totals.Errors > 0) {
		t.Fatalf("redocly exited %d with %d errors: %s", out.code, report.Totals.Errors, out.combined())
	}
	return findings
}

// jsonPointer writes path segments as a JSON pointer, as redocly reports them.
func jsonPointer(segments []string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The Python client

// anyJSONFields are the fields the document describes as any JSON: a run's
// and a step's input and output, an http step's body. Only there may the
// generated models leave a JSON object as a plain dict.
var anyJSONFields = []string{"input", "output", "body"}

func TestPythonClientHasEveryOperationAndSchema(t *testing.T) {
	t.Parallel()
	doc := openapi.JSON()
	answers := collectAnswers(t, parseDocument(t, doc), t.TempDir())
	baseline := pythonClientProblems(t, doc, answers)
	for _, p := range baseline {
		t.Error(p)
	}

	// Both ways a list can lose its item type: the generator refuses an
	// array without items, and leaves the items of items: {} as dicts.
	for _, c := range []struct {
		name, want string
		items      any
	}{
		{"a list without items fails", "Unable to process schema /components/schemas/WorkflowListEnvelope", nil},
		{"a list of anything fails", "$.data[0] comes back as a plain dict", map[string]any{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems := pythonClientProblems(t, withListItems(t, "WorkflowListEnvelope", "data", c.items), answers)
			added := slices.DeleteFunc(problems, func(p string) bool { return slices.Contains(baseline, p) })
			if !slices.ContainsFunc(added, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("no problem saying %q; problems: %q", c.want, problems)
			}
		})
	}
}

// savedAnswer is a body the API sent, saved as JSON in file.
type savedAnswer struct {
	operationID string
	status      int
	schema      string // the components.schemas entry the document gives for it
	file        string
}

// collectAnswers drives a real API (in-process, on loopback, runs driven as
// make dev drives them) through the calls a client makes most, and saves
// each answer in dir with the schema the document gives for it.
func collectAnswers(t *testing.T, doc openAPIDocument, dir string) []savedAnswer {
	t.Helper()
	env := gatewaytest.MustStart(t, gatewaytest.Options{DriveRuns: true})
	key, _ := env.MustKey(t, "acct_py") // every scope
	var answers []savedAnswer
	call := func(operationID, apiKey, method, path, body string, want int) gatewaytest.Response {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := gatewaytest.Call(t, method, env.URL+routes.BasePath+path, apiKey, "application/json", b)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
		}
		schema, err := doc.responseSchema(operationID, want)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, fmt.Sprintf("%02d-%s-%d.json", len(answers)+1, operationID, want))
		if err := os.WriteFile(file, r.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		answers = append(answers, savedAnswer{operationID: operationID, status: want, schema: schema, file: file})
		return r
	}
	id := func(r gatewaytest.Response) string { return r.Data(t)["id"].(string) }

	echo := id(call("create-workflow", key, "POST", "/workflows", `{"name": "Echo the input", "trigger": {"type": "manual"},
		"steps": [{"id": "t", "type": "transform", "with": {"jq": ".input"}}]}`, 201))
	// A second workflow, on the other branches of the trigger and step
	// unions; its schedule fires only when a test asks, so its http step,
	// to a loopback port nothing listens on, never runs.
	scheduled := id(call("create-workflow", key, "POST", "/workflows", `{"name": "Every quarter hour", "description": "Posts the order",
		"trigger": {"type": "schedule", "every": "15m"}, "timeoutSeconds": 60,
		"steps": [{"id": "post", "type": "http", "with": {"method": "POST", "url": "http://127.0.0.1:9/orders",
			"headers": {"X-Trace": "1"}, "body": {"order": "{{ .input.id }}"}}, "retry": {"maxAttempts": 2}, "timeoutSeconds": 5}]}`, 201))
	if n := len(call("list-workflows", key, "GET", "/workflows", "", 200).JSON(t)["data"].([]any)); n != 2 {
		t.Fatalf("GET /workflows lists %d workflows, want 2", n)
	}
	call("get-workflow", key, "GET", "/workflows/"+echo, "", 200)
	call("get-workflow", key, "GET", "/workflows/"+scheduled, "", 200)

	call("create-connection", key, "POST", "/connections", `{"name": "CRM", "type": "bearer", "credentials": {"token": "tok-123"}}`, 201)
	call("list-connections", key, "GET", "/connections", "", 200)
	call("list-api-keys", key, "GET", "/auth/api-keys", "", 200)

	run := id(call("run-workflow", key, "POST", "/workflows/"+echo+"/run", `{"input": {"orderId": "o-1", "total": 120}}`, 202))
	waitForSuccess(t, env.URL+routes.BasePath+"/runs/"+run, key)
	call("get-run", key, "GET", "/runs/"+run, "", 200)
	call("get-run-step", key, "GET", "/runs/"+run+"/steps/t", "", 200)
	call("list-runs", key, "GET", "/runs", "", 200)

	invalid := call("create-workflow", key, "POST", "/workflows", `{"name": "", "trigger": {"type": "manual"}, "steps": []}`, 400)
	if details, _ := invalid.JSON(t)["error"].(map[string]any)["details"].([]any); len(details) == 0 {
		t.Fatalf("the 400 has no details, so it shows nothing of them surviving: %s", invalid.Body)
	}
	call("get-workflow", key, "GET", "/workflows/wf_"+gatewaytest.SomeID, "", 404)
	call("list-workflows", "", "GET", "/workflows", "", 401)
	return answers
}

// waitForSuccess polls a run until it has succeeded: the driver runs it in
// the background.
func waitForSuccess(t *testing.T, runURL, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := gatewaytest.Call(t, "GET", runURL, key, "", nil)
		switch status := r.Data(t)["status"]; status {
		case "succeeded":
			return
		case "queued", "running":
		default:
			t.Fatalf("the run ended %v: %s", status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run has not succeeded within 30s: %s", r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pythonClientProblems generates the Python client from doc and says what
// is wrong with it: warnings while generating, an operation without its
// module, a schema without its model, and each answer that the client's
// models do not parse and write back as it was.
func pythonClientProblems(t *testing.T, docJSON []byte, answers []savedAnswer) []string {
	t.Helper()
	dir := t.TempDir()
	docPath := writeDocument(t, dir, docJSON)
	doc := parseDocument(t, docJSON)
	outDir := filepath.Join(dir, "client")
	out := runTool(t, dir, nil, pinnedTool(t, openapiPythonClientBin), "generate",
		"--path", docPath, "--output-path", outDir, "--config", testdataFile(t, "openapi-python-client.yaml"), "--fail-on-warning")
	var problems []string
	if out.code != 0 {
		return append(problems, fmt.Sprintf("openapi-python-client exited %d: %s", out.code, out.combined()))
	}
	for _, bad := range []string{"Warning", "WARNING", "Unable to process", "Cannot parse", "removal of"} {
		if strings.Contains(out.combined(), bad) {
			problems = append(problems, fmt.Sprintf("openapi-python-client says %q: %s", bad, out.combined()))
		}
	}
	pkgDir := filepath.Join(outDir, pythonPackage)
	classes, err := pythonModelClasses(filepath.Join(pkgDir, "models", "__init__.py"))
	if err != nil {
		return append(problems, err.Error())
	}

	// Every operation has its module: api/<first tag>/<operationId>.py, both
	// in the generator's snake_case.
	type operationEntry struct {
		OperationID string `json:"operationId"`
		Module      string `json:"module"`
	}
	var operations []operationEntry
	moduleOf := map[string]string{}
	for _, op := range doc.operations() {
		if len(op.tags) == 0 {
			problems = append(problems, op.id+" has no tag: the generator files it under api/default")
			continue
		}
		rel := filepath.Join("api", pythonModuleName(op.tags[0]), pythonModuleName(op.id)+".py")
		if _, err := os.Stat(filepath.Join(pkgDir, rel)); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s %s) has no module %s", op.id, op.method, op.path, rel))
			continue
		}
		module := pythonPackage + "." + strings.ReplaceAll(strings.TrimSuffix(rel, ".py"), string(filepath.Separator), ".")
		moduleOf[op.id] = module
		operations = append(operations, operationEntry{op.id, module})
	}

	// Every schema that is an object (or an allOf of one) or a string enum
	// has its model. A oneOf has none of its own (the generator writes a
	// Union where it is used); each schema it refers to must have one.
	modelOf := func(schema string) (string, error) {
		class, ok := classes[pythonModuleName(schema)]
		if !ok || (class != pythonClassName(schema) && class != pythonClassName(schema)+"_") {
			return "", fmt.Errorf("components.schemas.%s has no model %s.models.%s", schema, pythonPackage, pythonModuleName(schema))
		}
		return class, nil
	}
	for _, name := range doc.schemaNames() {
		s := doc.Components.Schemas[name]
		needsModel := s["type"] == "object" || s["allOf"] != nil || (s["type"] == "string" && s["enum"] != nil)
		if needsModel {
			if _, err := modelOf(name); err != nil {
				problems = append(problems, err.Error())
			}
		}
		branches, _ := s["oneOf"].([]any)
		for _, b := range branches {
			ref, _ := b.(map[string]any)["$ref"].(string)
			if target, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
				if _, err := modelOf(target); err != nil {
					problems = append(problems, fmt.Sprintf("a branch of oneOf %s: %v", name, err))
				}
			}
		}
	}

	// The round trip, in testdata/roundtrip.py.
	type answerEntry struct {
		File      string `json:"file"`
		Operation string `json:"operation"`
		Status    int    `json:"status"`
		Class     string `json:"class"`
		Module    string `json:"module"`
	}
	manifest := struct {
		Operations []operationEntry `json:"operations"`
		Answers    []answerEntry    `json:"answers"`
	}{Operations: operations}
	for _, a := range answers {
		class, err := modelOf(a.schema)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", filepath.Base(a.file), err))
			continue
		}
		manifest.Answers = append(manifest.Answers, answerEntry{a.file, a.operationID, a.status, class, moduleOf[a.operationID]})
	}
	manifestPath := filepath.Join(dir, "manifest.json")
	b, _ := json.Marshal(manifest)
	if err := os.WriteFile(manifestPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PYTHONPATH=" + outDir, "PYTHONDONTWRITEBYTECODE=1"}
	out = runTool(t, dir, env, pinnedTool(t, pythonBin), testdataFile(t, "roundtrip.py"), pythonPackage, manifestPath)
	if out.code != 0 {
		return append(problems, fmt.Sprintf("roundtrip.py exited %d: %s", out.code, out.combined()))
	}
	var report struct {
		Operations []struct {
			OperationID string `json:"operationId"`
			Module      string `json:"module"`
			Error       string `json:"error"`
		} `json:"operations"`
		Answers []struct {
			File         string   `json:"file"`
			Operation    string   `json:"operation"`
			Status       int      `json:"status"`
			Class        string   `json:"class"`
			DispatchedTo string   `json:"dispatchedTo"`
			Error        string   `json:"error"`
			Difference   *string  `json:"difference"`
			Untyped      []string `json:"untyped"`
		} `json:"answers"`
	}
	if err := json.Unmarshal(out.stdout, &report); err != nil {
		return append(problems, fmt.Sprintf("roundtrip.py printed no report (%v): %s", err, out.combined()))
	}
	for _, op := range report.Operations {
		if op.Error != "" {
			problems = append(problems, fmt.Sprintf("%s: %s: %s", op.OperationID, op.Module, op.Error))
		}
	}
	if len(report.Answers) != len(manifest.Answers) {
		problems = append(problems, fmt.Sprintf("roundtrip.py reported %d answers of %d", len(report.Answers), len(manifest.Answers)))
	}
	for _, a := range report.Answers {
		name := fmt.Sprintf("%s (%s %d, %s)", filepath.Base(a.File), a.Operation, a.Status, a.Class)
		switch {
		case a.Error != "":
			problems = append(problems, name+": "+a.Error)
		case a.DispatchedTo != a.Class:
			problems = append(problems, fmt.Sprintf("%s: the generated operation parses it as %s", name, a.DispatchedTo))
		case a.Difference != nil:
			problems = append(problems, fmt.Sprintf("%s: from_dict then to_dict changes it at %s", name, *a.Difference))
		}
		for _, p := range a.Untyped {
			if !isAnyJSONField(p) {
				problems = append(problems, fmt.Sprintf("%s: %s comes back as a plain dict, not a model: the document types nothing there", name, p))
			}
		}
	}
	return problems
}

var trailingIndexes = regexp.MustCompile(`(\[[^]]*\])+$`)

// isAnyJSONField reports whether an untyped path (in Python attribute
// names, such as $.data.steps[0].output or $.data.input_) is one of
// anyJSONFields, or an item of one.
func isAnyJSONField(path string) bool {
	p := trailingIndexes.ReplaceAllString(path, "")
	// The generator adds _ to a name Python has already (input_).
	return slices.Contains(anyJSONFields, strings.TrimSuffix(p[strings.LastIndex(p, ".")+1:], "_"))
}

var modelImport = regexp.MustCompile(`^from \.(\w+) import (\w+)$`)

// pythonModelClasses reads the generated models/__init__.py, which imports
// every model: module name to class name.
func pythonModelClasses(initPath string) (map[string]string, error) {
	f, err := os.Open(initPath)
	if err != nil {
		return nil, fmt.Errorf("the generated client has no models package: %w", err)
	}
	defer f.Close()
	classes := map[string]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if m := modelImport.FindStringSubmatch(lines.Text()); m != nil {
			classes[m[1]] = m[2]
		}
	}
	return classes, lines.Err()
}

// lowercaseRun is what openapi-python-client's split_words cuts names at
// (strings.py): a capital followed by small letters, or small letters.
var lowercaseRun = regexp.MustCompile(`[A-Z]?[a-z]+`)

// pythonWords splits a name into words as openapi-python-client does.
func pythonWords(name string) []string {
	if strings.ContainsFunc(name, unicode.IsUpper) {
		name = lowercaseRun.ReplaceAllString(name, " $0 ")
	}
	return strings.FieldsFunc(name, func(r rune) bool { return strings.ContainsRune(". _-", r) })
}

// pythonModuleName is openapi-python-client's snake_case: ApiKeyEnvelope is
// api_key_envelope, list-workflows list_workflows.
func pythonModuleName(name string) string {
	return strings.ToLower(strings.Join(pythonWords(name), "_"))
}

// pythonClassName is openapi-python-client's pascal_case: each word
// capitalised unless it is all capitals. A class that would shadow a Python
// builtin (NotImplementedError) gets a trailing _, which callers allow.
func pythonClassName(name string) string {
	var b strings.Builder
	for _, w := range pythonWords(name) {
		if strings.ContainsFunc(w, unicode.IsUpper) && !strings.ContainsFunc(w, unicode.IsLower) {
			b.WriteString(w)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + strings.ToLower(w[1:]))
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// The TypeScript types

func TestTypeScriptTypesEveryListAndError(t *testing.T) {
	t.Parallel()
	baseline := typeScriptProblems(t, openapi.JSON())
	for _, p := range baseline {
		t.Error(p)
	}

	t.Run("a list typed by nothing fails", func(t *testing.T) {
		problems := typeScriptProblems(t, withListItems(t, "WorkflowListEnvelope", "data", nil))
		added := slices.DeleteFunc(problems, func(p string) bool { return slices.Contains(baseline, p) })
		if !slices.ContainsFunc(added, func(p string) bool { return strings.Contains(p, "usage.ts(") }) {
			t.Errorf("usage.ts compiles no worse than with the document; problems: %q", problems)
		}
	})
}

// typeScriptProblems generates schema.d.ts from doc with openapi-typescript
// and says what is wrong: anything it warns of, an operation missing from
// its operations interface, and every diagnostic of tsc --strict on
// testdata/usage.ts beside it.
func typeScriptProblems(t *testing.T, doc []byte) []string {
	t.Helper()
	dir := t.TempDir()
	docPath := writeDocument(t, dir, doc)
	schemaPath := filepath.Join(dir, "schema.d.ts")
	out := runTool(t, dir, nil, pinnedTool(t, openapiTypeScriptBin), docPath, "--output", schemaPath)
	var problems []string
	if out.code != 0 {
		return append(problems, fmt.Sprintf("openapi-typescript exited %d: %s", out.code, out.combined()))
	}
	// It prints its name (✨) and what it wrote (🚀); any other line is a
	// warning about the document.
	for line := range strings.Lines(out.combined()) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "✨") && !strings.HasPrefix(line, "🚀") {
			problems = append(problems, "openapi-typescript: "+line)
		}
	}
	generated, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	declared := typeScriptOperations(generated)
	for _, op := range parseDocument(t, doc).operations() {
		if !declared[op.id] {
			problems = append(problems, fmt.Sprintf("%s (%s %s) is not in schema.d.ts's operations", op.id, op.method, op.path))
		}
	}

	usage, err := os.ReadFile(testdataFile(t, "usage.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usage.ts"), usage, 0o644); err != nil {
		t.Fatal(err)
	}
	// --lib es2022: the standard library only (no DOM), which the flags
	// check too (--skipLibCheck false).
	out = runTool(t, dir, nil, pinnedTool(t, typeScriptCompilerBin), "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022",
		"--moduleResolution", "node", "--skipLibCheck", "false", "usage.ts")
	if out.code != 0 || len(bytes.TrimSpace(out.stdout)) > 0 {
		for line := range strings.Lines(out.combined()) {
			if line = strings.TrimSpace(line); line != "" {
				problems = append(problems, "tsc: "+line)
			}
		}
	}
	return problems
}

var operationKey = regexp.MustCompile(`^    "?([\w-]+)"?: \{$`)

// typeScriptOperations is the set of keys of schema.d.ts's operations
// interface (openapi-typescript names them by operationId).
func typeScriptOperations(generated []byte) map[string]bool {
	keys := map[string]bool{}
	inside := false
	for line := range strings.Lines(string(generated)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "export interface operations {":
			inside = true
		case inside && line == "}":
			return keys
		case inside:
			if m := operationKey.FindStringSubmatch(line); m != nil {
				keys[m[1]] = true
			}
		}
	}
	return keys
}

// ---------------------------------------------------------------------------
// The document

// openAPIDocument is the part of the OpenAPI document these tests walk.
type openAPIDocument struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]map[string]any `json:"schemas"`
		Responses map[string]map[string]any `json:"responses"`
	} `json:"components"`
}

type documentOperation struct {
	method, path, id string
	tags             []string
	responses        map[string]map[string]any
}

func parseDocument(t *testing.T, doc []byte) openAPIDocument {
	t.Helper()
	var d openAPIDocument
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations lists every operation, by path then method.
func (d openAPIDocument) operations() []documentOperation {
	var ops []documentOperation
	for _, p := range sortedKeys(d.Paths) {
		for _, method := range httpMethods {
			raw, ok := d.Paths[p][method]
			if !ok {
				continue
			}
			var op struct {
				OperationID string                    `json:"operationId"`
				Tags        []string                  `json:"tags"`
				Responses   map[string]map[string]any `json:"responses"`
			}
			_ = json.Unmarshal(raw, &op) // the document parsed as a whole already
			ops = append(ops, documentOperation{strings.ToUpper(method), p, op.OperationID, op.Tags, op.Responses})
		}
	}
	return ops
}

func (d openAPIDocument) schemaNames() []string { return sortedKeys(d.Components.Schemas) }

// responseSchema is the components.schemas entry of the application/json
// answer the document gives operationID for status, through a response
// component if the operation refers to one.
func (d openAPIDocument) responseSchema(operationID string, status int) (string, error) {
	i := slices.IndexFunc(d.operations(), func(op documentOperation) bool { return op.id == operationID })
	if i < 0 {
		return "", fmt.Errorf("the document has no operation %s", operationID)
	}
	op := d.operations()[i]
	response, ok := op.responses[fmt.Sprint(status)]
	if !ok {
		return "", fmt.Errorf("%s has no response %d", operationID, status)
	}
	if ref, ok := response["$ref"].(string); ok {
		name, _ := strings.CutPrefix(ref, "#/components/responses/")
		if response, ok = d.Components.Responses[name]; !ok {
			return "", fmt.Errorf("%s %d: no response component %s", operationID, status, ref)
		}
	}
	ref, _ := jsonAt(response, "content", "application/json", "schema", "$ref").(string)
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	if !ok {
		return "", fmt.Errorf("%s %d: the application/json schema is not a components.schemas $ref", operationID, status)
	}
	return name, nil
}

// jsonAt walks nested JSON objects by key; nil when one is missing.
func jsonAt(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// mutatedDocument is a copy of the served document changed by change (its keys
// then in Go's order, which no tool minds).
func mutatedDocument(t *testing.T, change func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withListItems is the document with the items of an array property
// replaced (nil: removed): a list typed by nothing, which every client
// check must catch.
func withListItems(t *testing.T, schema, property string, items any) []byte {
	t.Helper()
	return mutatedDocument(t, func(doc map[string]any) {
		list, ok := jsonAt(doc, "components", "schemas", schema, "properties", property).(map[string]any)
		if !ok || list["items"] == nil {
			t.Fatalf("components.schemas.%s.properties.%s has no items to replace", schema, property)
		}
		if items == nil {
			delete(list, "items")
		} else {
			list["items"] = items
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
// Running the tools

// writeDocument writes doc where a user would save what GET
// /api/v1/openapi.json serves.
func writeDocument(t *testing.T, dir string, doc []byte) string {
	t.Helper()
	p := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// repositoryRoot is the repository's root: the test runs in internal/openapi/clients.
func repositoryRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: the test must run in internal/openapi/clients", root)
	}
	return root
}

// pinnedTool is the path of a pinned tool. A missing one fails the test, never
// skips it: these checks are part of the contract's tests.
func pinnedTool(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(repositoryRoot(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no %s (%v): run `scripts/ensure-deps.sh node python`", rel, err)
	}
	return p
}

func testdataFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// offlineEnv keeps the tools from calling home: redocly's telemetry and
// update notice, and the update check of any npm-installed tool.
var offlineEnv = []string{
	"REDOCLY_TELEMETRY=off",
	"REDOCLY_SUPPRESS_UPDATE_NOTICE=true",
	"NO_UPDATE_NOTIFIER=1",
	"CI=true",
}

type toolOutput struct {
	stdout, stderr []byte
	code           int
}

func (o toolOutput) combined() string { return string(o.stdout) + string(o.stderr) }

// runTool runs a tool in dir with offlineEnv and extraEnv and returns what
// it printed and its exit code; a tool that cannot start fails the test.
func runTool(t *testing.T, dir string, extraEnv []string, name string, args ...string) toolOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = slices.Concat(os.Environ(), offlineEnv, extraEnv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return toolOutput{stdout.Bytes(), stderr.Bytes(), exit.ExitCode()}
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return toolOutput{stdout.Bytes(), stderr.Bytes(), 0}
}
