package jqsandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func eval(t *testing.T, p *Pool, timeout time.Duration, input any, programs ...string) ([]any, error) {
	t.Helper()
	return p.Eval(context.Background(), timeout, programs, input, 256<<10)
}

func wantKind(t *testing.T, err error, kinds ...Kind) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("want an *Error of kind %v, got %v", kinds, err)
	}
	for _, k := range kinds {
		if se.Kind == k {
			return
		}
	}
	t.Fatalf("want an error of kind %v, got %v", kinds, se)
}

// TestBoundsHoldAndThePoolRecovers runs the programs of issue 13 (and the
// million-deep one): each ends in its bound, and the pool answers a plain
// program right after each.
func TestBoundsHoldAndThePoolRecovers(t *testing.T) {
	p := NewPool(1, DefaultMemoryMiB)
	t.Cleanup(p.Close)
	for _, c := range []struct {
		program string
		kinds   []Kind
	}{
		{`"x" * 1000000000`, []Kind{KindOutOfMemory}},
		{`[range(1e7)] | tostring`, []Kind{KindOutOfMemory, KindTimeout}},
		{`"x" * 100000000`, []Kind{KindOutOfMemory, KindTimeout}},
		{`[range(1e6)] | map(tostring) | join("")`, []Kind{KindOutOfMemory, KindTimeout}},
		{`reduce range(40) as $i (2; .*.)`, []Kind{KindOutOfMemory, KindTimeout}},
		{`null | setpath([100000000]; 1)`, []Kind{KindOutOfMemory}},
		// Built in about half the deadline; on a busy machine the deadline
		// may come first.
		{`reduce range(1000000) as $i (null; [.])`, []Kind{KindTooDeep, KindTimeout}},
		{`reduce range(1000000) as $i (null; [.]) | tojson`, []Kind{KindStackOverflow, KindOutOfMemory, KindTimeout}},
		{`def f: 1 + f; f`, []Kind{KindStackOverflow, KindOutOfMemory, KindTimeout}},
		{`def f: f; f`, []Kind{KindTimeout}},
		{`error("no")`, []Kind{KindFailed}},
		{`empty`, []Kind{KindNoValue}},
		{`nan`, []Kind{KindNotJSON}},
		{`"x" * 300000`, []Kind{KindTooLarge}},
	} {
		t.Run(c.program, func(t *testing.T) {
			start := time.Now()
			_, err := eval(t, p, time.Second, nil, c.program)
			wantKind(t, err, c.kinds...)
			// A loose upper bound, as the issue asks (2x the deadline), with
			// room for a worker's start on a busy machine.
			if d := time.Since(start); d > 2*time.Second+time.Second {
				t.Errorf("ended after %v", d)
			}
			values, err := eval(t, p, time.Second, map[string]any{"a": json.Number("12345678901234567890")}, ".a", "1 + 1")
			if err != nil || fmt.Sprint(values) != "[12345678901234567890 2]" {
				t.Fatalf("after it, a plain evaluation gave %v, %v", values, err)
			}
		})
	}
}

func TestAFailureNamesItsProgramAndKeepsTheValuesBefore(t *testing.T) {
	p := NewPool(1, DefaultMemoryMiB)
	t.Cleanup(p.Close)
	values, err := eval(t, p, time.Second, map[string]any{"a": "x"}, ".a", `"<\(.a)>"`, `error("third")`, "1")
	var se *Error
	if !errors.As(err, &se) || se.Index != 2 || se.Kind != KindFailed || se.Message != "error: third" {
		t.Fatalf("want program 2 failed with its message, got %v", err)
	}
	if fmt.Sprint(values) != "[x <x>]" {
		t.Errorf("the values before the failure: %v", values)
	}
}

// TestWorkersAreBoundedAndWaitUnderCtx: with one worker busy, a second
// caller waits, and gives up with its ctx; a caller whose ctx ends mid-way
// gets ctx's error and the worker is replaced.
func TestWorkersAreBoundedAndWaitUnderCtx(t *testing.T) {
	p := NewPool(1, DefaultMemoryMiB)
	t.Cleanup(p.Close)
	busy := make(chan error, 1)
	go func() {
		_, err := p.Eval(context.Background(), 2*time.Second, []string{"def f: f; f"}, nil, 1024)
		busy <- err
	}()
	time.Sleep(200 * time.Millisecond) // let it take the worker
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Eval(ctx, time.Second, []string{"1"}, nil, 1024); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a caller waiting for the only worker: %v, want its ctx's deadline", err)
	}
	wantKind(t, <-busy, KindTimeout)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := p.Eval(ctx, 5*time.Second, []string{"def f: f; f"}, nil, 1024); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up: %v, want context.Canceled", err)
	}
	if v, err := eval(t, p, time.Second, nil, "1"); err != nil || fmt.Sprint(v) != "[1]" {
		t.Errorf("after it: %v, %v", v, err)
	}
}

// TestWorkersSeeNoEnvironment: a worker is started with the sandbox's own
// variables only, never the parent's (AWS credentials above all).
func TestWorkersSeeNoEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "do-not-pass")
	p := NewPool(1, DefaultMemoryMiB)
	t.Cleanup(p.Close)
	if _, err := eval(t, p, time.Second, nil, "1 + 1"); err != nil {
		t.Fatal(err)
	}
	w := <-p.slots
	defer func() { p.slots <- w }()
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", w.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(bytes.TrimRight(environ, "\x00")), "\x00")
	want := []string{envMarker + "=1", EnvMemory + "=128", "GOMAXPROCS=1", "GOTRACEBACK=none"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a worker's environment: %q, want %q", got, want)
	}
}

func TestMemoryFromEnv(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int
		ok    bool
	}{{"", DefaultMemoryMiB, true}, {"64", 64, true}, {"16", 16, true}, {"15", 0, false}, {"064", 0, false}, {"1e3", 0, false}, {"99999", 0, false}, {"-1", 0, false}} {
		t.Setenv(EnvMemory, c.value)
		got, err := MemoryFromEnv()
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%s=%q: %d, %v", EnvMemory, c.value, got, err)
		}
	}
}

// BenchmarkWorkerStart is a worker's start, up to its ready frame, and its
// stop.
//
//	go test -run '^$' -bench BenchmarkWorkerStart ./internal/jqsandbox/
func BenchmarkWorkerStart(b *testing.B) {
	p := NewPool(1, DefaultMemoryMiB)
	for b.Loop() {
		w, err := p.spawn(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		w.kill()
		w.close()
		<-w.exited
	}
}
