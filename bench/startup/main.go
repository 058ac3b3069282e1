// Command startup measures every Lambda function beside its floor, for
// docs/performance.md (`make lambda-startup`, and `make bench`):
//
//   - its arm64 bootstrap's size (what deploys) beside its floor's: an
//     aws-lambda-go hello-world that also builds the AWS clients the function
//     calls (from the route table's grants: DynamoDB, KMS, Step Functions,
//     EventBridge Scheduler), built with the same flags;
//   - its median start-up under the Lambda Runtime Interface Emulator (RIE)
//     beside the hello-world's, measured in the same run, interleaved, so
//     the machine's noise falls on both alike.
//
// Start-up is the RIE's INIT REPORT: from starting the bootstrap to its
// first request for an invocation, when it has read its environment and
// built its clients. Each start gets a clean environment, the one Lambda
// gives (region, the role's credentials, the function's own variables),
// and nothing of this machine's (no AWS_CA_BUNDLE, which Lambda does not
// set and which the SDK would parse at every start). Every endpoint is a
// closed loopback port, so nothing can leave the machine; start-up makes
// no call anyway.
//
// Usage: go run ./bench/startup [-runs 7] [-rie path] [-bin dir]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/workflowsapi/workflows/internal/routes"
)

// client is one AWS client a function may build at start.
// A floor calls one operation of each client (so that the linker keeps the
// client's request path, as a function's calls do), but only when
// FLOOR_CALLS=yes, which no start sets: nothing is ever sent.
type client struct {
	name, importPath, call string
}

var (
	dynamoDB = client{"dynamodb", "github.com/aws/aws-sdk-go-v2/service/dynamodb", "dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{})"}
	// The functions call KMS through internal/awskms, not the SDK's
	// service/kms (whose schemas are 0.38 MiB and a millisecond of start).
	kms = client{"kms", "github.com/workflowsapi/workflows/internal/awskms",
		"func() (any, error) { c, err := awskms.New(cfg, awskms.Options{}); if err != nil { return nil, err }; return c.Decrypt(ctx, \"\", nil, nil) }()"}
	sfn       = client{"sfn", "github.com/aws/aws-sdk-go-v2/service/sfn", "sfn.NewFromConfig(cfg).StartExecution(ctx, &sfn.StartExecutionInput{})"}
	scheduler = client{"scheduler", "github.com/aws/aws-sdk-go-v2/service/scheduler", "scheduler.NewFromConfig(cfg).CreateSchedule(ctx, &scheduler.CreateScheduleInput{})"}
)

// clientsOf are the AWS clients fn calls, from its grants in the route
// table: what its floor builds too.
func clientsOf(fn routes.Function) []client {
	var out []client
	if len(fn.TableActions) > 0 {
		out = append(out, dynamoDB)
	}
	if len(fn.KeyActions)+len(fn.SignalKeyActions) > 0 {
		out = append(out, kms)
	}
	for _, c := range []client{sfn, scheduler} {
		prefix := map[string]string{"sfn": "states:", "scheduler": "scheduler:"}[c.name]
		if slices.ContainsFunc(fn.ServiceActions, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
			out = append(out, c)
		}
	}
	return out
}

// floorName names a set of clients: "hello" for none, else
// "hello+dynamodb+kms".
func floorName(clients []client) string {
	name := "hello"
	for _, c := range clients {
		name += "+" + c.name
	}
	return name
}

// floorMain is the source of a floor: hello-world, with the clients built
// at start from the environment-only config every function uses.
func floorMain(clients []client) string {
	var imports, calls strings.Builder
	for _, c := range clients {
		fmt.Fprintf(&imports, "\t%q\n", c.importPath)
		fmt.Fprintf(&calls, "\t\t\t_, err = %s\n", c.call)
	}
	if len(clients) == 0 {
		return `package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() { lambda.Start(func(context.Context) (string, error) { return "hello", nil }) }
`
	}
	return `package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
` + imports.String() + `)

func main() {
	cfg := aws.Config{Region: os.Getenv("AWS_REGION"), Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
		os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")))}
	calls := os.Getenv("FLOOR_CALLS") == "yes"
	lambda.Start(func(ctx context.Context) (string, error) {
		var err error
		if calls {
` + calls.String() + `		}
		return "hello", err
	})
}
`
}

// lambdaEnv is the environment of one start: what Lambda sets, and the
// union of the functions' own variables with deployed-like values. Every
// endpoint is a closed port on loopback.
func lambdaEnv(function string) []string {
	const closed = "http://127.0.0.1:9"
	return []string{
		"PATH=/usr/bin:/bin",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIAEXAMPLEEXAMPLE00", "AWS_SECRET_ACCESS_KEY=startup-secret-not-a-real-one",
		"AWS_SESSION_TOKEN=startup-session-token",
		"AWS_LAMBDA_FUNCTION_NAME=" + function, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_TIMEOUT=5",
		// No LOG_LEVEL: the RIE reads it too, and writes INIT REPORT at info.
		"TABLE_NAME=workflows-startup",
		"DYNAMODB_ENDPOINT=" + closed, "KMS_ENDPOINT=" + closed, "SFN_ENDPOINT=" + closed, "SCHEDULER_ENDPOINT=" + closed,
		"KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000001",
		"SIGNAL_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000002",
		"STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:workflows-runs",
		"EXPRESS_STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:workflows-runs-express",
		"SCHEDULE_GROUP_NAME=workflows", "SCHEDULER_ROLE_ARN=arn:aws:iam::123456789012:role/workflows-scheduler",
		"SCHEDULED_RUN_FUNCTION_ARN=arn:aws:lambda:us-east-1:123456789012:function:scheduled-run",
		"SCHEDULE_DLQ_ARN=arn:aws:sqs:us-east-1:123456789012:workflows-schedules-dlq",
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// coldStart starts bootstrap once under the RIE, on ports of its own, and
// returns its INIT REPORT duration in milliseconds.
func coldStart(rie, bootstrap, function string) (float64, error) {
	dir, err := os.MkdirTemp("", "startup-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := copyFile(bootstrap, filepath.Join(dir, "bootstrap")); err != nil {
		return 0, err
	}
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	apiPort, err := freePort()
	if err != nil {
		return 0, err
	}
	var out bytes.Buffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), "./bootstrap")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, lambdaEnv(function), &out, &out
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if res, err := http.Get(base + "/"); err == nil {
			res.Body.Close()
			break
		}
		if i == 200 {
			return 0, fmt.Errorf("the RIE did not listen:\n%s", out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The RIE starts the bootstrap on the first invocation. The payload is
	// answered without a call (an authorizer request without a key, a proxy
	// request without authorizer context, a task for no run fails on the
	// closed endpoint); only the INIT is read.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/2015-03-31/functions/function/invocations",
		strings.NewReader(`{"type":"REQUEST","headers":{}}`))
	if res, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	for i := 0; i < 100; i++ {
		if m := initReport.FindStringSubmatch(out.String()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s: no INIT REPORT:\n%s", function, out.String())
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

func build(goarch, out string, packages ...string) error {
	args := append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out + "/"}, packages...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / (1 << 20)
}

func main() {
	runs := flag.Int("runs", 7, "cold starts per function")
	rie := flag.String("rie", "bin/tools/aws-lambda-rie", "the Lambda Runtime Interface Emulator")
	binDir := flag.String("bin", "bin/startup", "where the bootstraps and floors are built")
	flag.Parse()
	if err := run(*runs, *rie, *binDir); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

func run(runs int, rie, binDir string) error {
	// The RIE runs in each start's own directory.
	rie, err := filepath.Abs(rie)
	if err != nil {
		return err
	}
	functions := routes.Functions()
	floors := map[string][]client{"hello": nil}
	floorOf := map[string]string{}
	for _, fn := range functions {
		if _, err := os.Stat(filepath.Join("functions", fn.Name, "main.go")); err != nil {
			continue // a route not built has no function of its own yet
		}
		clients := clientsOf(fn)
		floors[floorName(clients)] = clients
		floorOf[fn.Name] = floorName(clients)
	}
	// The floors' sources live under bin/ (ignored by git and by ./...).
	var floorPackages []string
	for name, clients := range floors {
		dir := filepath.Join("bin", ".floors", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(floorMain(clients)), 0o644); err != nil {
			return err
		}
		floorPackages = append(floorPackages, "./"+dir)
	}
	for _, goarch := range []string{"arm64", "amd64"} {
		out := filepath.Join(binDir, goarch)
		fmt.Fprintf(os.Stderr, "startup: building the %s bootstraps and floors\n", goarch)
		if err := build(goarch, out, append([]string{"./functions/..."}, floorPackages...)...); err != nil {
			return err
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range floorOf {
			if !yield(name) {
				return
			}
		}
	})
	// Interleaved: each round starts hello-world, then every function once,
	// so a slow moment of the machine falls on all of them.
	samples := map[string][]float64{}
	floorNames := slices.Sorted(func(yield func(string) bool) {
		for name := range floors {
			if !yield(name) {
				return
			}
		}
	})
	measured := append(floorNames, names...)
	for round := 0; round < runs; round++ {
		for _, name := range measured {
			ms, err := coldStart(rie, filepath.Join(binDir, "amd64", name), name)
			if err != nil {
				return err
			}
			samples[name] = append(samples[name], ms)
		}
		fmt.Fprintf(os.Stderr, "startup: round %d of %d\n", round+1, runs)
	}
	hello := median(samples["hello"])
	arm := func(name string) string { return filepath.Join(binDir, "arm64", name) }
	fmt.Printf("hello-world: %.2f MiB arm64, median start-up %.1f ms (%d cold starts each, RIE, amd64, clean environment)\n\n",
		mib(arm("hello")), hello, runs)
	fmt.Println("| floor | arm64 bootstrap | start-up median | ÷ hello-world |")
	fmt.Println("|---|---:|---:|---:|")
	for _, name := range floorNames {
		start := median(samples[name])
		fmt.Printf("| %s | %.2f MiB | %.1f ms | %.2f |\n", name, mib(arm(name)), start, start/hello)
	}
	fmt.Println()
	fmt.Println("| function | arm64 bootstrap | floor (hello-world + clients) | floor size | size ÷ floor | start-up median | ÷ hello-world | ÷ floor's |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|")
	for _, name := range names {
		floor := floorOf[name]
		size, floorSize := mib(arm(name)), mib(arm(floor))
		start := median(samples[name])
		fmt.Printf("| %s | %.2f MiB | %s | %.2f MiB | %.2f | %.1f ms | %.2f | %.2f |\n", name, size, floor, floorSize, size/floorSize, start, start/hello, start/median(samples[floor]))
	}
	return nil
}
