// Package awstest runs tests against moto's server, a real AWS-protocol
// server (KMS, Step Functions, Scheduler) from the repository's pinned Python environment
// (requirements-dev.txt, installed into .venv by `scripts/ensure-deps.sh
// python`): it starts one on 127.0.0.1 for a test binary when MOTO_ENDPOINT
// does not name one already, gives each test its own KMS key, and counts the
// calls a client makes. It is dynamotest's twin for the AWS services that
// dynalite does not speak.
package awstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
)

// EndpointEnv names the moto endpoint the tests use; Run sets it when it
// starts moto, and leaves a value already set alone (a moto started by a
// script for several test binaries).
const EndpointEnv = "MOTO_ENDPOINT"

// Region is every test client's; moto keeps each region's keys apart.
const Region = "us-east-1"

// Run is a TestMain body: it makes sure a moto endpoint is running, runs the
// tests, and stops moto if it started it. A missing .venv fails the binary
// (a skipped test would look green).
func Run(m *testing.M) int {
	if os.Getenv(EndpointEnv) != "" {
		return m.Run()
	}
	stop, err := StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// startTimeout is how long moto may take to answer: importing moto takes a
// few seconds, more on a two-core machine busy with other test binaries.
const startTimeout = 60 * time.Second

// launcher runs moto's server (what .venv/bin/moto_server runs) and exits as
// soon as its standard input closes. So moto ends with the test binary even
// when the binary dies without running its deferred stop (a panic, go test's
// timeout), and never outlives it holding go test's output pipe open.
const launcher = `import os, sys, threading
def _exit_on_eof():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=_exit_on_eof, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`

// runningOn is werkzeug's line naming the address it listens on, printed
// once the socket is bound: moto is given port 0 and reports the port the
// kernel chose, so no free port has to be guessed (and raced for) first.
var runningOn = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// accessLog matches werkzeug's line per request, which is dropped (with its
// "Press CTRL+C" banner) so a test binary's output is not one line per KMS
// call; anything else moto says, a traceback, is passed on.
var accessLog = regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]*\] "`)

// StartMoto starts moto's server from the repository's .venv on 127.0.0.1
// and a port the kernel picks, waits until it answers, and sets
// MOTO_ENDPOINT to it. The returned func stops it.
func StartMoto() (stop func(), err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	venv := filepath.Join(root, ".venv", "bin")
	for _, name := range []string{"python", "moto_server"} {
		if _, err := os.Stat(filepath.Join(venv, name)); err != nil {
			return nil, fmt.Errorf("%s is missing: run `scripts/ensure-deps.sh python` (it installs moto[server] from requirements-dev.txt into .venv)",
				filepath.Join(venv, name))
		}
	}
	cmd := exec.Command(filepath.Join(venv, "python"), "-c", launcher, "-H", "127.0.0.1", "-p", "0")
	cmd.Dir = root
	// Moto must never reach a real AWS account, whatever the developer's
	// shell holds: it gets no credentials or profiles of theirs.
	cmd.Env = withoutAWS(os.Environ())
	stdin, err := cmd.StdinPipe() // the launcher exits when this closes
	if err != nil {
		return nil, err
	}
	// werkzeug logs to stderr. An io.Pipe rather than StderrPipe, because
	// Wait (below, while moto runs) would close StderrPipe's reader under
	// the scanner and lose what moto said last, such as why it died.
	output, outputWriter := io.Pipe()
	cmd.Stderr = outputWriter
	cmd.Stdout = outputWriter
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto (run `scripts/ensure-deps.sh python` first): %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // returns once all moto wrote has been read
		_ = outputWriter.Close()
		close(exited)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = stdin.Close()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}

	ready := make(chan string, 1)
	var early strings.Builder // moto's output before it is up, for the error if it never is
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		scanner := bufio.NewScanner(output)
		up := false
		for scanner.Scan() {
			line := scanner.Text()
			if !up {
				if match := runningOn.FindStringSubmatch(line); match != nil {
					up = true
					ready <- match[1]
					continue
				}
				early.WriteString(line + "\n")
				continue
			}
			if !accessLog.MatchString(line) && !strings.Contains(line, "Press CTRL+C to quit") {
				fmt.Fprintln(os.Stderr, "moto:", line)
			}
		}
		_, _ = io.Copy(io.Discard, output)
	}()
	fail := func(format string, args ...any) (func(), error) {
		stop()
		<-scanned // moto is gone and its output read: early is complete
		return nil, fmt.Errorf(format+"; its output:\n%s", append(args, early.String())...)
	}

	deadline := time.After(startTimeout)
	var endpoint string
	select {
	case endpoint = <-ready:
	case <-exited:
		return fail("moto exited before listening")
	case <-deadline:
		return fail("moto did not listen within %v", startTimeout)
	}
	for !answers(endpoint) {
		select {
		case <-exited:
			return fail("moto exited before answering")
		case <-deadline:
			return fail("moto did not answer within %v", startTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	os.Setenv(EndpointEnv, endpoint)
	return stop, nil
}

// answers reports whether moto answers HTTP at endpoint, asking its own
// API for its configuration (a cheap read that loads no AWS service).
func answers(endpoint string) bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(endpoint + "/moto-api/config")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode < 500
}

// withoutAWS is env less every AWS_ variable.
func withoutAWS(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "ensure-deps.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/ensure-deps.sh above the working directory")
		}
		dir = parent
	}
}

// Endpoint is the moto endpoint of the test binary; the test fails if
// there is none.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	endpoint := os.Getenv(EndpointEnv)
	if endpoint == "" {
		tb.Fatal(EndpointEnv + " is not set: call awstest.Run from TestMain")
	}
	return endpoint
}

// MustKMSClient is a KMS client for moto, signed with fixed local
// credentials set on the client only (moto checks a signature's shape, not
// its key) (nothing from the environment, so no
// test can reach a real account). optFns are applied last (to count calls).
func MustKMSClient(tb testing.TB, optFns ...func(*kms.Options)) *kms.Client {
	tb.Helper()
	endpoint := Endpoint(tb)
	base := func(o *kms.Options) {
		o.Region = Region
		o.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
		o.BaseEndpoint = aws.String(endpoint)
	}
	return kms.New(kms.Options{}, append([]func(*kms.Options){base}, optFns...)...)
}

// MustSFNClient is a Step Functions client for moto, signed as
// MustKMSClient's is. optFns are applied last (to count calls). Moto keeps
// the state machines and executions it is given; it runs none of their
// states, so an execution stays RUNNING until it is stopped.
func MustSFNClient(tb testing.TB, optFns ...func(*sfn.Options)) *sfn.Client {
	tb.Helper()
	endpoint := Endpoint(tb)
	base := func(o *sfn.Options) {
		o.Region = Region
		o.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
		o.BaseEndpoint = aws.String(endpoint)
	}
	return sfn.New(sfn.Options{}, append([]func(*sfn.Options){base}, optFns...)...)
}

// SFN is a sfn option attaching Count.
func (c *Calls) SFN(o *sfn.Options) { o.APIOptions = append(o.APIOptions, c.Count) }

// Calls counts AWS operations by name, once per logical call (retries are
// not counted again). Count works with any service client of the SDK.
type Calls struct {
	mu   sync.Mutex
	byOp map[string]int
}

// Count is an APIOptions entry that makes a client report to c, as in
// func(o *kms.Options) { o.APIOptions = append(o.APIOptions, calls.Count) }.
func (c *Calls) Count(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetOperationName(ctx)
			if op == "" {
				// Clients generated before the SDK registered the operation
				// ahead of the APIOptions (sfn) name it in smithy's context
				// value only.
				op = middleware.GetOperationName(ctx)
			}
			c.add(op)
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (c *Calls) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOp == nil {
		c.byOp = map[string]int{}
	}
	c.byOp[op]++
}

// Reset forgets every call counted so far.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byOp = nil
}

// Snapshot returns the counts by operation name.
func (c *Calls) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byOp))
	for k, v := range c.byOp {
		out[k] = v
	}
	return out
}
