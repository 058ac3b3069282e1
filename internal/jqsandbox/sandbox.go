// Package jqsandbox runs jq programs in a child process whose memory, stack
// and time are bounded, so that no program, whatever builtin it uses, can
// take the memory or the CPU of the process that runs it: the runner Lambda
// (256 MB) or the local gateway, where every tenant's API lives.
//
// Why a process: gojq cannot be bounded from inside. Its builtins win over
// custom functions (WithFunction cannot replace _multiply or setpath), one
// operation allocates in one shot ("x" * 1000000000, big-integer squaring,
// setpath([100000000]; 1)), [range(1e7)] takes 400 MB well inside a second,
// and gojq checks its context only between steps of its own. A child
// process can be given a hard address-space limit (RLIMIT_AS), a small
// maximum stack, and be killed at the deadline; when it dies, only it dies.
//
// The child is the same binary (os.Executable) started with the envMarker
// variable; this package's init serves it before main runs. Every binary
// that links the engine (the runner Lambda, the local gateway, each test
// binary) is therefore its own sandbox, with no change to any main.
//
// Programs that are only a path over the input (InProcess) cannot allocate
// beyond what exists, and the engine runs them in its own process, as the
// common {{ .input.id }} templates are.
package jqsandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// envMarker is the variable that makes a process of this binary a sandbox
// worker instead of what it was built to be.
const envMarker = "WORKFLOWS_JQ_SANDBOX"

// EnvMemory is the variable that sets the memory budget of one worker, in
// MiB (DefaultMemoryMiB when unset).
const EnvMemory = "JQ_MEMORY_MIB"

// DefaultMemoryMiB is a worker's memory budget: what one evaluation may
// allocate beyond the worker's own start-up footprint. With the runner's
// 256 MB, the runner and one worker fit.
const DefaultMemoryMiB = 128

// The range a budget may be given in: below 16 MiB the Go runtime of the
// worker itself has no room; above 16 GiB is no bound.
const (
	minMemoryMiB = 16
	maxMemoryMiB = 16 << 10
)

// maxStackBytes bounds the goroutine stack of a worker. gojq recurses in Go
// for some builtins (tojson, comparisons, paths) once per nesting level of
// a value; a value that nests too deeply then ends the worker with a stack
// overflow, reported as such, well before the stack could take the memory
// budget.
const maxStackBytes = 16 << 20

// MemoryFromEnv reads EnvMemory: a whole number of MiB from 16 to 16384.
func MemoryFromEnv() (int, error) {
	v, ok := os.LookupEnv(EnvMemory)
	if !ok || v == "" {
		return DefaultMemoryMiB, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minMemoryMiB || n > maxMemoryMiB || strconv.Itoa(n) != v {
		return 0, fmt.Errorf("%s must be a whole number of MiB from %d to %d, not %q", EnvMemory, minMemoryMiB, maxMemoryMiB, v)
	}
	return n, nil
}

// Kind says why an evaluation failed.
type Kind string

// The kinds of Error.
const (
	// KindFailed: the program raised an error (Message is what jq said).
	KindFailed Kind = "failed"
	// KindNoValue: the program produced no value.
	KindNoValue Kind = "no_value"
	// KindNotJSON: the value holds NaN or an infinity.
	KindNotJSON Kind = "not_json"
	// KindTooDeep: the value nests deeper than jsondepth.MaxDepth.
	KindTooDeep Kind = "too_deep"
	// KindTooLarge: the values together, as JSON, are over the request's
	// MaxBytes.
	KindTooLarge Kind = "too_large"
	// KindOutOfMemory: the worker ran out of its memory budget.
	KindOutOfMemory Kind = "out_of_memory"
	// KindStackOverflow: the worker's stack overflowed (a value or a
	// recursion too deep).
	KindStackOverflow Kind = "stack_overflow"
	// KindTimeout: the evaluation ran past its time limit and the worker was
	// killed.
	KindTimeout Kind = "timeout"
	// KindCrashed: the worker died for another reason.
	KindCrashed Kind = "crashed"
)

// Error is an evaluation that failed: the program at Index (of the
// request's programs; 0 when the worker died and which one was running is
// not known) and why. Message is jq's own text for KindFailed, empty
// otherwise: a worker's stderr is never passed on.
type Error struct {
	Index   int    `json:"index"`
	Kind    Kind   `json:"kind"`
	Message string `json:"message,omitempty"`
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("jq program %d: %s: %s", e.Index, e.Kind, e.Message)
	}
	return fmt.Sprintf("jq program %d: %s", e.Index, e.Kind)
}

// errWorker is the pool's own trouble (a worker that could not be started,
// or that broke the protocol); the evaluation is not the program's fault.
var errWorker = errors.New("jqsandbox: worker")
