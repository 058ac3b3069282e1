// Package dynamotest runs tests against dynalite, a real DynamoDB-protocol
// server: it starts one for a test binary when DYNAMODB_ENDPOINT does not
// name one already, gives each test its own table, and counts the calls a
// client makes.
package dynamotest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/store"
)

// Run is a TestMain body: it makes sure a DynamoDB endpoint is running, runs
// the tests, and stops the endpoint if it started it.
func Run(m *testing.M) int {
	if os.Getenv("DYNAMODB_ENDPOINT") != "" {
		return m.Run()
	}
	stop, err := StartDynalite()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// StartDynalite starts scripts/dynalite.js on a free port and sets
// DYNAMODB_ENDPOINT to it. The returned func stops it.
func StartDynalite() (stop func(), err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(root, "scripts", "dynalite.js"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DYNALITE_PORT=0", "DYNALITE_PATH=", "DYNALITE_EXIT_WITH_STDIN=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // dynalite exits when this closes
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite (run `npm ci` first): %w", err)
	}
	stop = func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	ready := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if port, ok := strings.CutPrefix(scanner.Text(), "dynalite listening on "); ok {
				ready <- port
			}
		}
	}()
	select {
	case port := <-ready:
		os.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:"+port)
		return stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("dynalite did not start within 30s")
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "dynalite.js")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no scripts/dynalite.js above the working directory")
		}
		dir = parent
	}
}

// Table is a fresh table for one test.
type Table struct {
	Name   string
	Client *dynamodb.Client
	Calls  *Calls
}

// MustTable creates a uniquely named table on the test endpoint, with a client
// that counts its calls, and drops the table when the test ends.
func MustTable(tb testing.TB) Table {
	tb.Helper()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		tb.Fatal("DYNAMODB_ENDPOINT is not set: call dynamotest.Run from TestMain")
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "test-" + hex.EncodeToString(suffix)
	calls := &Calls{}
	ctx := context.Background()
	// A roomier budget than the deployed one: dynalite on a loaded 2-core
	// machine can take over a second per call under the tests' 300-way
	// bursts, and these tests are about what is written, not how fast.
	// The deployed budget has tests of its own (internal/ratelimit).
	roomy := store.Budget{Call: 20 * time.Second, Attempt: 10 * time.Second}
	client, err := store.NewClient(ctx, store.Config{Endpoint: endpoint, TableName: name, Budget: roomy}, calls.Attach)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := store.EnsureTable(ctx, client, name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.DeleteTable(context.Background(), client, name) })
	calls.Reset()
	return Table{Name: name, Client: client, Calls: calls}
}

// Calls counts DynamoDB operations by name, once per logical call (retries
// are not counted again).
type Calls struct {
	mu   sync.Mutex
	byOp map[string]int
}

// Attach is a dynamodb option that makes the client report to c.
func (c *Calls) Attach(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
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

// Total returns the number of calls counted.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byOp {
		n += v
	}
	return n
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

// MustUnreachableClient returns a client for an endpoint where nothing
// listens, trying each call once: what a store outage looks like to the code.
func MustUnreachableClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	client, err := store.NewClient(context.Background(), store.Config{Endpoint: "http://127.0.0.1:1", TableName: "unreachable"},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// MustHungClient returns a client for an endpoint that accepts connections
// and never answers, as a frozen engine (kill -STOP) does: what a hung
// DynamoDB looks like to the code. The listener is on 127.0.0.1 and closes
// when the test ends.
func MustHungClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	endpoint, _ := awstest.HungEndpoint(tb)
	client, err := store.NewClient(context.Background(), store.Config{Endpoint: endpoint, TableName: "hung"})
	if err != nil {
		tb.Fatal(err)
	}
	return client
}
