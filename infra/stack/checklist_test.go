package stack_test

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/infra/stack"
	"github.com/workflowsapi/workflows/internal/routes"
)

// repoRoot is the repository root, two folders above infra/stack.
var repoRoot = filepath.Join("..", "..")

// checklistLines is the shell block of docs/infrastructure.md's "First
// deploy" section, one command a line.
func checklistLines(tb testing.TB) []string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "infrastructure.md"))
	if err != nil {
		tb.Fatal(err)
	}
	_, section, found := strings.Cut(string(raw), "\n### First deploy")
	if !found {
		tb.Fatal(`docs/infrastructure.md has no "### First deploy" section`)
	}
	_, block, found := strings.Cut(section, "```sh\n")
	block, _, closed := strings.Cut(block, "```")
	if !found || !closed {
		tb.Fatal("the First deploy section has no ```sh block")
	}
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

var (
	cdkLine     = regexp.MustCompile(`^\(cd infra && \.\./node_modules/\.bin/cdk (bootstrap|deploy|destroy)((?: \S+)*)\)$`)
	contextFlag = regexp.MustCompile(`^([A-Za-z]+)=(\S+)$`)
	// An output read from the deploy's outputs file: ."<stack>".<output>.
	outputRead = regexp.MustCompile(`\$\(jq -r '\."([^"]+)"\.([A-Za-z]+)' (\S+)\)`)
	awsLine    = regexp.MustCompile(`^aws ([a-z0-9-]+) ([a-z-]+)((?: .+)?)$`)
	wfctlLine  = regexp.MustCompile(`^go run \./cmd/wfctl keys create((?: --[a-z-]+ \S+)+)$`)
	curlLine   = regexp.MustCompile(`^curl "(\$\(jq[^)]*\))(/[a-z/{}-]+)" -H "([a-z-]+): \$KEY"$`)
)

// The first-deploy checklist in docs/infrastructure.md is held, line by
// line, to what it runs against: the stack's context keys and outputs, the
// pinned CDK CLI's options, the AWS APIs' models, wfctl's flags and the
// route table. A line the test does not know how to check fails it.
func TestTheFirstDeployChecklistIsTheStacks(t *testing.T) {
	lines := checklistLines(t)
	var deployed *stack.Props
	var outputsFile string
	var reads [][]string // stack, output, file
	var commands []string
	for _, line := range lines {
		for _, m := range outputRead.FindAllStringSubmatch(line, -1) {
			reads = append(reads, m[1:])
		}
		switch {
		case line == "scripts/ensure-deps.sh node":
			commands = append(commands, "tools")
			info, err := os.Stat(filepath.Join(repoRoot, "scripts", "ensure-deps.sh"))
			if err != nil || info.Mode()&0o111 == 0 {
				t.Errorf("%s: no executable scripts/ensure-deps.sh (%v)", line, err)
			}
		case cdkLine.MatchString(line):
			m := cdkLine.FindStringSubmatch(line)
			sub, args := m[1], strings.Fields(m[2])
			commands = append(commands, "cdk "+sub)
			context := map[string]string{}
			for i := 0; i < len(args); i++ {
				switch {
				case args[i] == "-c" && i+1 < len(args):
					i++
					kv := contextFlag.FindStringSubmatch(args[i])
					if kv == nil || !slices.Contains(stack.ContextKeys, kv[1]) {
						t.Errorf("%s: -c %s is no context value the stack reads (%v)", line, args[i], stack.ContextKeys)
						continue
					}
					context[kv[1]] = kv[2]
				case strings.HasPrefix(args[i], "--") && i+1 < len(args):
					assertCDKOption(t, sub, args[i])
					if args[i] == "--outputs-file" {
						outputsFile = filepath.Clean(filepath.Join("infra", args[i+1]))
					}
					i++
				default:
					t.Errorf("%s: %q is neither a -c value nor an option with its value", line, args[i])
				}
			}
			props, err := stack.PropsFromContext(func(key string) any {
				if v, ok := context[key]; ok {
					return v
				}
				return nil
			})
			if err != nil {
				t.Errorf("%s: %v", line, err)
				continue
			}
			switch sub {
			case "deploy":
				deployed = &props
			case "destroy":
				if deployed == nil || props.Stage != deployed.Stage {
					t.Errorf("%s destroys stage %q, not the one deployed", line, props.Stage)
				}
			}
		case strings.HasPrefix(line, "export TABLE_NAME="):
			commands = append(commands, "table")
			if !outputRead.MatchString(line) || !strings.HasSuffix(outputRead.FindStringSubmatch(line)[2], "TableName") {
				t.Errorf("%s: want TABLE_NAME read from the TableName output", line)
			}
		case wfctlLine.MatchString(line):
			commands = append(commands, "first key")
			assertWfctlFlags(t, line, wfctlLine.FindStringSubmatch(line)[1])
		case curlLine.MatchString(line):
			commands = append(commands, "smoke")
			m := curlLine.FindStringSubmatch(line)
			if !strings.Contains(m[1], ".ApiUrl'") {
				t.Errorf("%s: want the path under the ApiUrl output", line)
			}
			route, _, ok := routes.Match("GET", routes.BasePath+m[2])
			if !ok || route == nil || !route.Authenticated() {
				t.Errorf("%s: GET %s is no route that takes a key", line, m[2])
			}
			if m[3] != "x-api-key" {
				t.Errorf("%s: the key goes in x-api-key, not %s", line, m[3])
			}
		case awsLine.MatchString(line):
			m := awsLine.FindStringSubmatch(line)
			commands = append(commands, "aws "+m[1]+" "+m[2])
			assertAWSCall(t, line, m[1], m[2], m[3])
		default:
			t.Errorf("the checklist line %q is not one this test checks: check it here, or take it out", line)
		}
	}
	want := []string{"tools", "aws lambda get-account-settings", "cdk bootstrap", "cdk deploy", "table", "first key", "smoke", "aws sns subscribe", "cdk destroy"}
	if !slices.Equal(commands, want) {
		t.Errorf("the checklist runs %v, want %v in that order", commands, want)
	}
	if deployed == nil {
		t.Fatal("the checklist deploys nothing")
	}

	// What it deploys synthesizes, cdk-nag clean (MustSynthesizeWith fails
	// otherwise), with the values it names.
	tpl := MustSynthesizeWith(t, *deployed)
	if deployed.RunnerReservedConcurrency == nil || *deployed.RunnerReservedConcurrency != 0 {
		t.Errorf("the first deploy reserves %v for the runner; a new account can reserve none: say 0", deployed.RunnerReservedConcurrency)
	}
	for id, name := range tpl.functionNames(t, deployed.Stage) {
		if r, ok := tpl.Resources[id].Properties["ReservedConcurrentExecutions"]; ok {
			t.Errorf("%s reserves %v on the first deploy", name, r)
		}
	}
	for _, r := range reads {
		if r[0] != "Workflows-"+deployed.Stage {
			t.Errorf("the checklist reads the outputs of %s, but deploys Workflows-%s", r[0], deployed.Stage)
		}
		if _, ok := tpl.Outputs[r[1]]; !ok {
			t.Errorf("the checklist reads the output %s, which the stack does not have", r[1])
		}
		if filepath.Clean(r[2]) != outputsFile {
			t.Errorf("the checklist reads %s, but the deploy writes its outputs to %s", r[2], outputsFile)
		}
	}
	if len(reads) < 3 {
		t.Errorf("the checklist reads %d outputs, want the table, the URL and the alarm topic", len(reads))
	}

	// Teardown: a dev stage leaves only API Gateway's account-wide logging
	// role and setting, as the checklist says.
	var kept []string
	for id, r := range tpl.Resources {
		if r.DeletionPolicy == "Retain" || r.DeletionPolicy == "RetainExceptOnCreate" {
			kept = append(kept, r.Type)
			if r.Type != "AWS::ApiGateway::Account" && r.Type != "AWS::IAM::Role" {
				t.Errorf("%s (%s) outlives `cdk destroy` of %s", id, r.Type, deployed.Stage)
			}
		}
	}
	if slices.Sort(kept); !slices.Equal(kept, []string{"AWS::ApiGateway::Account", "AWS::IAM::Role"}) {
		t.Errorf("the teardown keeps %v, want API Gateway's account setting and its role only", kept)
	}
}

// assertCDKOption checks that the pinned CDK CLI's subcommand takes option,
// from its own help. The CLI is installed by `make synth` (npm ci), which
// `make infra-test` runs first.
func assertCDKOption(t *testing.T, sub, option string) {
	t.Helper()
	cdk := filepath.Join(repoRoot, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(cdk); err != nil {
		t.Skipf("no %s (scripts/ensure-deps.sh node installs it): cannot check `cdk %s %s`", cdk, sub, option)
	}
	cmd := exec.Command(cdk, sub, "--help")
	cmd.Env = append(os.Environ(), "CDK_DISABLE_VERSION_CHECK=true", "CDK_DISABLE_CLI_TELEMETRY=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk %s --help: %v\n%s", sub, err, out)
	}
	// yargs lists an option as "  --outputs-file, -O   description".
	if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(option) + `[ ,]`).Match(out) {
		t.Errorf("cdk %s has no option %s:\n%s", sub, option, out)
	}
}

// assertWfctlFlags checks the flags against wfctl's own `keys create`.
func assertWfctlFlags(t *testing.T, line, flags string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "wfctl", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, found := strings.Cut(string(src), `flag.NewFlagSet("keys create"`)
	body, _, _ = strings.Cut(body, "flag.NewFlagSet(")
	if !found {
		t.Fatalf("wfctl has no keys create")
	}
	fields := strings.Fields(flags)
	for i := 0; i+1 < len(fields); i += 2 {
		name := strings.TrimPrefix(fields[i], "--")
		if !strings.Contains(body, `fs.String("`+name+`"`) {
			t.Errorf("%s: wfctl keys create has no --%s", line, name)
		}
		if name == "scopes" && fields[i+1] == "all" && !strings.Contains(string(src), `"all"`) {
			t.Errorf("%s: wfctl does not take --scopes all", line)
		}
	}
}

// cliRenamed are the options the AWS CLI names otherwise than the API's
// member (its documented customizations).
var cliRenamed = map[string]string{"sns subscribe --notification-endpoint": "Endpoint"}

// assertAWSCall checks an AWS CLI call against the service's model in
// botocore (in .venv, from requirements-dev.txt): the operation, each
// option as an input member, and a --query path through the output.
func assertAWSCall(t *testing.T, line, service, operation, rest string) {
	t.Helper()
	models, _ := filepath.Glob(filepath.Join(repoRoot, ".venv", "lib", "python*", "site-packages", "botocore", "data", service, "*", "service-2.json.gz"))
	if len(models) == 0 {
		t.Fatalf("%s: no botocore model of %s in .venv (scripts/ensure-deps.sh python installs it)", line, service)
	}
	slices.Sort(models)
	f, err := os.Open(models[len(models)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var model struct {
		Operations map[string]struct {
			Input, Output struct{ Shape string }
		}
		Shapes map[string]struct {
			Members map[string]struct{ Shape string }
		}
	}
	if err := json.NewDecoder(z).Decode(&model); err != nil {
		t.Fatal(err)
	}
	pascal := func(kebab string) string {
		var b strings.Builder
		for _, part := range strings.Split(kebab, "-") {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
		return b.String()
	}
	op, ok := model.Operations[pascal(operation)]
	if !ok {
		t.Errorf("%s: %s has no operation %s", line, service, pascal(operation))
		return
	}
	args := regexp.MustCompile(`--([a-z-]+) ("[^"]*"|\S+)`).FindAllStringSubmatch(rest, -1)
	for _, a := range args {
		if a[1] == "query" {
			shape := op.Output.Shape
			for _, member := range strings.Split(a[2], ".") {
				m, ok := model.Shapes[shape].Members[member]
				if !ok {
					t.Errorf("%s: --query %s: %s has no %s", line, a[2], shape, member)
					break
				}
				shape = m.Shape
			}
			continue
		}
		member, renamed := cliRenamed[service+" "+operation+" --"+a[1]]
		if !renamed {
			member = pascal(a[1])
		}
		if _, ok := model.Shapes[op.Input.Shape].Members[member]; !ok {
			t.Errorf("%s: %s %s takes no %s (--%s)", line, service, operation, member, a[1])
		}
	}
}
