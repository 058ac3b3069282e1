package stack_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/routes"
)

// cfnTemplate is a synthesized template as plain JSON values, with what
// cdk-nag found in it.
type cfnTemplate struct {
	assertions assertions.Template
	Resources  map[string]resource
	Parameters map[string]map[string]any
	Outputs    map[string]map[string]any
	// nagErrors and nagWarnings are cdk-nag's findings (AwsSolutions and
	// Serverless) that no suppression covers, as "path: message".
	nagErrors, nagWarnings []string
}

type resource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
	// UpdateReplacePolicy is what happens to the old resource when an
	// update replaces it.
	UpdateReplacePolicy string
	Metadata            map[string]any
	DependsOn           []string
	Condition           string
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*cfnTemplate{}
)

// MustSynthesize returns the stack's template for stage with the default
// settings.
func MustSynthesize(tb testing.TB, stage string) *cfnTemplate {
	tb.Helper()
	return MustSynthesizeWith(tb, stack.Props{Stage: stage})
}

// MustSynthesizeWith returns the stack's template for props, synthesizing it
// once per props and test binary: a synth takes seconds. The function code
// comes from empty placeholder binaries, so the tests need no `make lambdas`.
//
// Every synthesis runs cdk-nag's AwsSolutions and Serverless packs, as
// `cdk synth` does (stack.AddRuleChecks), and fails the test on any error
// they report that no suppression covers: whichever stage or settings a
// test synthesizes is checked.
func MustSynthesizeWith(tb testing.TB, props stack.Props) *cfnTemplate {
	tb.Helper()
	props.LambdaAssetDir = placeholderAssets(tb)
	runner := "default"
	if props.RunnerReservedConcurrency != nil {
		runner = fmt.Sprint(*props.RunnerReservedConcurrency)
	}
	key := fmt.Sprintf("%s/%d/%+v/%s/runner=%s", props.Stage, props.AuthorizerCacheSeconds, props.Edge, props.LogLevel, runner)
	synthMu.Lock()
	defer synthMu.Unlock()
	t, ok := synthCache[key]
	if !ok {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &stack.FeatureFlags})
		s, err := stack.NewWorkflowsStack(app, "Workflows-"+props.Stage, &props)
		if err != nil {
			tb.Fatalf("NewWorkflowsStack(%+v): %v", props, err)
		}
		stack.AddRuleChecks(app)
		tpl := assertions.Template_FromStack(s, nil)
		t = &cfnTemplate{assertions: tpl}
		mustRemarshal(tb, *tpl.ToJSON(), t)
		annotations := assertions.Annotations_FromStack(s)
		t.nagErrors = findings(annotations.FindError(jsii.String("*"), assertions.Match_AnyValue()))
		t.nagWarnings = findings(annotations.FindWarning(jsii.String("*"), assertions.Match_AnyValue()))
		synthCache[key] = t
	}
	if len(t.nagErrors) > 0 {
		tb.Fatalf("cdk-nag reports %d unsuppressed errors on %s: fix them, or suppress each with its reason (stack/nag.go):\n%s",
			len(t.nagErrors), key, strings.Join(t.nagErrors, "\n"))
	}
	return t
}

// findings turns synthesis messages into "path: message" lines, sorted.
// They are read through their JSON form: the Go fields of cxapi's message
// type are marked deprecated (it moved to another package), the JSON is not.
func findings(messages any) []string {
	b, err := json.Marshal(messages)
	if err != nil {
		panic(err)
	}
	var decoded []struct {
		ID    string `json:"id"`
		Entry struct {
			Data any `json:"data"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &decoded); err != nil {
		panic(err)
	}
	var out []string
	for _, m := range decoded {
		out = append(out, fmt.Sprintf("%s: %v", m.ID, m.Entry.Data))
	}
	slices.Sort(out)
	return out
}

var (
	assetsOnce sync.Once
	assetsDir  string
	assetsErr  error
)

// placeholderAssets makes <dir>/<function>/bootstrap for every function. The
// directory outlives one test, as the synthesized apps share it.
func placeholderAssets(tb testing.TB) string {
	tb.Helper()
	assetsOnce.Do(func() {
		assetsDir, assetsErr = os.MkdirTemp("", "workflows-infra-assets-")
		for _, fn := range routes.Functions() {
			if assetsErr != nil {
				return
			}
			dir := filepath.Join(assetsDir, fn.Name)
			if assetsErr = os.MkdirAll(dir, 0o755); assetsErr == nil {
				assetsErr = os.WriteFile(filepath.Join(dir, stack.BootstrapName), nil, 0o755)
			}
		}
	})
	if assetsErr != nil {
		tb.Fatalf("placeholder assets: %v", assetsErr)
	}
	return assetsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	if assetsDir != "" {
		_ = os.RemoveAll(assetsDir)
	}
	os.Exit(code)
}

// resourcesOfType returns the logical ids and resources of one type.
func (t *cfnTemplate) resourcesOfType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range t.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

func mustRemarshal(tb testing.TB, from, to any) {
	tb.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		tb.Fatalf("unmarshal: %v", err)
	}
}

// refTo returns the logical id of {"Ref": id}, or "".
func refTo(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	id, _ := m["Ref"].(string)
	return id
}

// getAttOf returns the logical id of {"Fn::GetAtt": [id, attribute]}, or "".
func getAttOf(v any, attribute string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	parts, ok := m["Fn::GetAtt"].([]any)
	if !ok || len(parts) != 2 || parts[1] != attribute {
		return ""
	}
	id, _ := parts[0].(string)
	return id
}

// firstGetAttArn finds the first {"Fn::GetAtt": [id, "Arn"]} inside v (an
// integration URI is a Fn::Join around the function's ARN).
func firstGetAttArn(v any) string {
	if id := getAttOf(v, "Arn"); id != "" {
		return id
	}
	switch v := v.(type) {
	case map[string]any:
		for _, key := range slices.Sorted(maps.Keys(v)) {
			if id := firstGetAttArn(v[key]); id != "" {
				return id
			}
		}
	case []any:
		for _, e := range v {
			if id := firstGetAttArn(e); id != "" {
				return id
			}
		}
	}
	return ""
}

// apiRoute is one method of the API as a template declares it, in the
// route table's terms, so templates and the route table can be compared.
type apiRoute struct {
	Method        string
	Path          string
	Function      string
	Authenticated bool
}

func (r apiRoute) String() string {
	return fmt.Sprintf("%s %s -> %s (authenticated: %v)", r.Method, r.Path, r.Function, r.Authenticated)
}

// functionNames maps each Lambda's logical id to its name in
// routes.Functions().
func (t *cfnTemplate) functionNames(tb testing.TB, stage string) map[string]string {
	tb.Helper()
	prefix := "workflows-" + stage + "-"
	names := map[string]string{}
	for id, r := range t.resourcesOfType("AWS::Lambda::Function") {
		name, _ := r.Properties["FunctionName"].(string)
		if !strings.HasPrefix(name, prefix) {
			tb.Fatalf("function %s is named %q, without the prefix %q", id, name, prefix)
		}
		names[id] = strings.TrimPrefix(name, prefix)
	}
	return names
}

// resourcePath rebuilds an API Gateway resource's full path from its parents.
func (t *cfnTemplate) resourcePath(tb testing.TB, id string) string {
	tb.Helper()
	var parts []string
	for id != "" {
		r, ok := t.Resources[id]
		if !ok || r.Type != "AWS::ApiGateway::Resource" {
			tb.Fatalf("%s is not an API Gateway resource", id)
		}
		parts = append([]string{r.Properties["PathPart"].(string)}, parts...)
		id = refTo(r.Properties["ParentId"]) // "" at the root: a GetAtt RootResourceId
	}
	return "/" + strings.Join(parts, "/")
}

// lambdaRoutes lists the API's Lambda proxy methods, sorted.
func (t *cfnTemplate) lambdaRoutes(tb testing.TB, stage string) []apiRoute {
	tb.Helper()
	names := t.functionNames(tb, stage)
	var out []apiRoute
	for id, m := range t.resourcesOfType("AWS::ApiGateway::Method") {
		integration, _ := m.Properties["Integration"].(map[string]any)
		if integration["Type"] != "AWS_PROXY" {
			continue
		}
		fn, ok := names[firstGetAttArn(integration["Uri"])]
		if !ok {
			tb.Fatalf("method %s integrates no function of the stack", id)
		}
		out = append(out, apiRoute{
			Method:        m.Properties["HttpMethod"].(string),
			Path:          t.resourcePath(tb, refTo(m.Properties["ResourceId"])),
			Function:      fn,
			Authenticated: m.Properties["AuthorizationType"] == "CUSTOM",
		})
	}
	sortRoutes(out)
	return out
}

// routeTable is routes.All as apiRoutes, sorted.
func routeTable() []apiRoute {
	var out []apiRoute
	for _, r := range routes.All {
		out = append(out, apiRoute{Method: r.Method, Path: r.Path, Function: r.Function, Authenticated: r.Authenticated()})
	}
	sortRoutes(out)
	return out
}

func sortRoutes(rs []apiRoute) {
	slices.SortFunc(rs, func(a, b apiRoute) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
}

// assertSameRoutes fails with the routes that only one side has.
func assertSameRoutes(tb testing.TB, what string, got, want []apiRoute) {
	tb.Helper()
	if slices.Equal(got, want) {
		return
	}
	for _, r := range want {
		if !slices.Contains(got, r) {
			tb.Errorf("%s lacks %s", what, r)
		}
	}
	for _, r := range got {
		if !slices.Contains(want, r) {
			tb.Errorf("%s has %s, which the route table does not", what, r)
		}
	}
}

// functionNamesInOrder is routes.Functions()' names: the authorizer, then
// one per route.
func functionNamesInOrder() []string {
	var out []string
	for _, fn := range routes.Functions() {
		out = append(out, fn.Name)
	}
	return out
}

// actionsOf is the function's exact actions on the table, from the one table
// of functions.
func actionsOf(tb testing.TB, name string) []string {
	tb.Helper()
	fn, ok := routes.FunctionByName(name)
	if !ok {
		tb.Fatalf("%s is no function of routes.Functions()", name)
	}
	return fn.TableActions
}

// keyActionsOf is the function's exact actions on the secrets' KMS key, from
// the one table of functions; none for most.
func keyActionsOf(tb testing.TB, name string) []string {
	tb.Helper()
	fn, ok := routes.FunctionByName(name)
	if !ok {
		tb.Fatalf("%s is no function of routes.Functions()", name)
	}
	return fn.KeyActions
}

// signalKeyActionsOf is the function's exact actions on the signal tokens'
// HMAC key, from the one table of functions; none for most.
func signalKeyActionsOf(tb testing.TB, name string) []string {
	tb.Helper()
	fn, ok := routes.FunctionByName(name)
	if !ok {
		tb.Fatalf("%s is no function of routes.Functions()", name)
	}
	return fn.SignalKeyActions
}

// secretsKey is the logical id of the secrets' KMS key: of the stack's two
// keys, the one that is not an HMAC key.
func (t *cfnTemplate) secretsKey(tb testing.TB) string {
	tb.Helper()
	return t.kmsKey(tb, false)
}

// signalKey is the logical id of the signal tokens' KMS key, the stack's
// one HMAC key.
func (t *cfnTemplate) signalKey(tb testing.TB) string {
	tb.Helper()
	return t.kmsKey(tb, true)
}

func (t *cfnTemplate) kmsKey(tb testing.TB, hmac bool) string {
	tb.Helper()
	keys := t.resourcesOfType("AWS::KMS::Key")
	if len(keys) != 2 {
		tb.Fatalf("%d KMS keys, want 2: the secrets' and the signal tokens'", len(keys))
	}
	var found []string
	for id, k := range keys {
		if (k.Properties["KeyUsage"] == "GENERATE_VERIFY_MAC") == hmac {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%d KMS keys with HMAC %v, want 1", len(found), hmac)
	}
	return found[0]
}

// sortedStrings returns v ("a" or ["a", "b"]) as a sorted list.
func sortedStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, e := range v {
			s, _ := e.(string)
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
