package jqsandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pool is a bounded set of persistent workers. A caller takes a free worker
// (waiting under its ctx while all are busy), sends it one request, and
// gives it back; a worker that dies, or is killed at a deadline, is
// replaced by a fresh one when next needed. Workers start lazily, so a
// process that evaluates one program at a time (the runner Lambda) has one.
// It is safe for concurrent use.
type Pool struct {
	memoryMiB int
	configErr error
	// slots holds one entry per worker the pool may have: a live worker, or
	// nil for one not started (or gone).
	slots chan *worker
}

// NewPool returns a pool of up to workers workers (at least 1), each with a
// budget of memoryMiB.
func NewPool(workers, memoryMiB int) *Pool {
	p := &Pool{memoryMiB: memoryMiB, slots: make(chan *worker, max(workers, 1))}
	for range cap(p.slots) {
		p.slots <- nil
	}
	return p
}

var (
	defaultOnce sync.Once
	defaultPool *Pool
)

// Default is the process's pool: max(2, GOMAXPROCS) workers with the budget
// of EnvMemory. One pool per process bounds the workers of every engine in
// it together. If EnvMemory is not valid, every evaluation fails with that
// error (an engine error, not a step's), and nothing runs unbounded.
func Default() *Pool {
	defaultOnce.Do(func() {
		mib, err := MemoryFromEnv()
		defaultPool = NewPool(max(2, runtime.GOMAXPROCS(0)), mib)
		defaultPool.configErr = err
	})
	return defaultPool
}

// MemoryMiB is each worker's budget.
func (p *Pool) MemoryMiB() int { return p.memoryMiB }

// Eval runs each program over input in one worker and returns the first
// value of each, decoded with json.Number for numbers. It fails with an
// *Error when a program fails (the first that does, and none after it
// run; the values of those before it are returned with the error), when the values nest too deeply, hold NaN, or are together over
// maxBytes as JSON, or when the worker runs out of memory or stack or past
// timeout (it is then killed). timeout counts from the moment a worker is
// ready: waiting for one is bounded by ctx only. If ctx ends, Eval kills the
// worker and returns ctx's error.
func (p *Pool) Eval(ctx context.Context, timeout time.Duration, programs []string, input any, maxBytes int) ([]any, error) {
	if p.configErr != nil {
		return nil, p.configErr
	}
	in, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("jqsandbox: the input is not JSON: %w", err)
	}
	var w *worker
	select {
	case w = <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { p.slots <- w }() // w is nil by then if the worker is gone
	if w == nil || w.gone() {
		if w != nil {
			w.close()
		}
		w = nil
		if w, err = p.spawn(ctx); err != nil {
			return nil, err
		}
	}
	values, err := w.eval(ctx, timeout, request{Programs: programs, Input: in, MaxBytes: maxBytes})
	if w.gone() {
		w.close()
		w = nil
	}
	return values, err
}

// Close stops every worker, waiting for those in use to be given back. The
// pool can be used again: workers start anew.
func (p *Pool) Close() {
	for range cap(p.slots) {
		w := <-p.slots
		defer func() { p.slots <- nil }()
		if w != nil {
			w.kill()
			w.close()
		}
	}
}

// worker is one child process and its pipes.
type worker struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	stderr *head
	exited chan struct{} // closed once the process is reaped
	killed chan struct{} // closed when the pool kills the worker
	once   sync.Once
}

// spawnTimeout bounds a worker's start, up to its ready frame.
const spawnTimeout = 10 * time.Second

func (p *Pool) spawn(ctx context.Context) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: no executable: %v", errWorker, err)
	}
	cmd := exec.Command(exe)
	// A minimal environment: the worker never sees the parent's (AWS
	// credentials included). GOMAXPROCS=1: an evaluation is one goroutine,
	// and fewer threads map less. GOTRACEBACK=none: a panic prints no
	// stacks (a runtime fatal error prints them anyway; see head).
	cmd.Env = []string{envMarker + "=1", EnvMemory + "=" + strconv.Itoa(p.memoryMiB), "GOMAXPROCS=1", "GOTRACEBACK=none"}
	cmd.SysProcAttr = sysProcAttr()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errWorker, err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, fmt.Errorf("%w: %v", errWorker, err)
	}
	w := &worker{cmd: cmd, stdin: stdinW, stdout: stdoutR, stderr: &head{}, exited: make(chan struct{}), killed: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, w.stderr
	cmd.WaitDelay = time.Second // stderr's copy ends when the worker does
	err = start(cmd)
	stdinR.Close() // the worker's ends: its own now
	stdoutW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		return nil, fmt.Errorf("%w: start: %v", errWorker, err)
	}
	go func() {
		_ = cmd.Wait()
		close(w.exited)
	}()
	spawnCtx, cancel := context.WithTimeout(ctx, spawnTimeout)
	defer cancel()
	stop := context.AfterFunc(spawnCtx, w.kill)
	var ready response
	err = readFrame(w.stdout, frameOverhead, &ready)
	if !stop() || err != nil || !ready.Ready {
		w.kill()
		w.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: did not start (%s)", errWorker, w.stderr.firstLine())
	}
	return w, nil
}

// eval sends one request and reads its response, killing the worker at the
// deadline or when ctx ends.
func (w *worker) eval(ctx context.Context, timeout time.Duration, req request) ([]any, error) {
	evalCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(evalCtx, w.kill)
	var resp response
	err := writeFrame(w.stdin, req)
	if err == nil {
		err = readFrame(w.stdout, req.MaxBytes+frameOverhead, &resp)
	}
	if !stop() {
		// Killed: whatever was read, the worker is gone.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Kind: KindTimeout}
	}
	if err != nil {
		// The worker died (or broke the protocol: then it is killed too).
		w.kill()
		return nil, w.death()
	}
	want := len(req.Programs)
	if resp.Error != nil {
		want = resp.Error.Index
	}
	if len(resp.Values) != want || want > len(req.Programs) {
		w.kill()
		return nil, fmt.Errorf("%w: answered %d values for %d programs", errWorker, len(resp.Values), want)
	}
	values := make([]any, len(resp.Values))
	for i, raw := range resp.Values {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&values[i]); err != nil {
			w.kill()
			return nil, fmt.Errorf("%w: value %d is not JSON", errWorker, i)
		}
	}
	if resp.Error != nil {
		resp.Error.Message = shorten(resp.Error.Message)
		return values, resp.Error
	}
	return values, nil
}

// death says why a worker that stopped answering died, from the first line
// it wrote to stderr.
func (w *worker) death() error {
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
	}
	text := w.stderr.String()
	switch {
	case strings.Contains(text, "out of memory") || strings.Contains(text, "cannot allocate") ||
		strings.Contains(text, "failed to create new OS thread"): // a thread's stack did not fit either
		return &Error{Kind: KindOutOfMemory}
	case strings.Contains(text, "stack overflow") || strings.Contains(text, "stack exceeds"):
		return &Error{Kind: KindStackOverflow}
	}
	return &Error{Kind: KindCrashed}
}

func (w *worker) kill() {
	w.once.Do(func() {
		close(w.killed)
		_ = w.cmd.Process.Kill()
	})
}

// gone says whether the worker was killed or has exited.
func (w *worker) gone() bool {
	select {
	case <-w.killed:
		return true
	case <-w.exited:
		return true
	default:
		return false
	}
}

// close releases the pool's ends of the pipes; the worker sees its stdin
// end and exits, if it still runs.
func (w *worker) close() {
	_ = w.stdin.Close()
	_ = w.stdout.Close()
}

// start starts cmd from the one goroutine that starts workers, locked to
// its OS thread for the life of the process. Linux sends a worker its
// parent-death signal when the thread that forked it ends, not the process;
// Go may end other threads (one whose locked goroutine exits), never this
// one.
func start(cmd *exec.Cmd) error {
	starterOnce.Do(func() {
		starts = make(chan startRequest)
		go func() {
			runtime.LockOSThread() // and never unlocked: the thread lives as long as the process
			for r := range starts {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starts <- startRequest{cmd: cmd, done: done}
	return <-done
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	starterOnce sync.Once
	starts      chan startRequest
)

// head keeps the first bytes a worker wrote to stderr: when the Go runtime
// kills a worker, the first line says why ("fatal error: out of memory",
// "runtime: goroutine stack exceeds …"); the goroutine stacks after it
// (printed for every runtime fatal error, GOTRACEBACK or not) are dropped
// here and never logged.
type head struct {
	mu  sync.Mutex
	buf []byte
}

const headBytes = 1 << 10

func (h *head) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := headBytes - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *head) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.buf)
}

// firstLine is the first line, for a log line about a worker that did not
// start.
func (h *head) firstLine() string {
	s, _, _ := strings.Cut(strings.TrimSpace(h.String()), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		return "no output"
	}
	return s
}

var _ io.Writer = (*head)(nil)
