package jqsandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"runtime/debug"

	"github.com/itchyny/gojq"

	"github.com/workflowsapi/workflows/internal/jsondepth"
	"github.com/workflowsapi/workflows/internal/workflows/jqtemplate"
)

// init makes this binary a sandbox worker when the pool started it as one
// (envMarker set). It is an init, not a main or a flag, so that every
// binary linking the engine serves as its own sandbox without a line in its
// main: the Lambda mains stay a few typed lines, and test binaries (whose
// main is the testing package's) work as they are. Nothing of the binary's
// own main runs in a worker; the worker exits when its stdin closes.
func init() {
	if os.Getenv(envMarker) != "1" {
		return
	}
	os.Exit(serve())
}

// serve is a worker's life: limits first, then requests until stdin ends.
// Its exit code is 0 on the end of stdin; anything else is a fault.
func serve() int {
	budget, err := MemoryFromEnv()
	if err != nil {
		return 3
	}
	if err := limitMemory(int64(budget) << 20); err != nil {
		_, _ = os.Stderr.WriteString("jqsandbox: " + err.Error() + "\n")
		return 3
	}
	// The garbage collector works hard before the hard limit, so that
	// garbage does not count against a program; what the program keeps
	// alive still ends at RLIMIT_AS.
	debug.SetMemoryLimit(int64(budget) << 20 * 7 / 8)
	debug.SetMaxStack(maxStackBytes)
	lowerPriority()
	os.Clearenv() // the pool gave only what the worker needs; keep none of it

	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	out := os.Stdout
	if err := writeFrame(out, response{Ready: true}); err != nil {
		return 0
	}
	cache := map[string]*gojq.Code{}
	for {
		var req request
		if err := readFrame(in, maxRequestBytes, &req); err != nil {
			return 0 // the pool closed stdin, or is gone
		}
		resp := evaluate(&req, cache)
		req = request{}
		if err := writeFrame(out, resp); err != nil {
			return 0
		}
	}
}

// maxRequestBytes bounds a request a worker reads: the context of a run
// (its input and every step's output, each at most a few hundred KiB) with
// room to spare. The pool is the only writer; this only keeps a broken
// frame from asking for gigabytes.
const maxRequestBytes = 64 << 20

// maxCached bounds the compiled programs a worker keeps: a run's steps reuse
// theirs on every attempt; beyond that, the cache starts over.
const maxCached = 256

func evaluate(req *request, cache map[string]*gojq.Code) response {
	var input any
	dec := json.NewDecoder(bytes.NewReader(req.Input))
	dec.UseNumber()
	if err := dec.Decode(&input); err != nil {
		return response{Error: &Error{Kind: KindFailed, Message: "the input is not JSON"}}
	}
	values := make([]json.RawMessage, len(req.Programs))
	total := 0
	for i, src := range req.Programs {
		code, ok := cache[src]
		if !ok {
			var err error
			if code, err = jqtemplate.CompileJQ(src); err != nil {
				return response{Values: values[:i], Error: &Error{Index: i, Kind: KindFailed, Message: shorten("does not compile: " + err.Error())}}
			}
			if len(cache) >= maxCached {
				clear(cache)
			}
			cache[src] = code
		}
		v, failure := First(code, input)
		if failure != nil {
			failure.Index = i
			return response{Values: values[:i], Error: failure}
		}
		// Checked before anything encodes it: encoding/json recurses once
		// per level.
		if jsondepth.Exceeds(v, jsondepth.MaxDepth) {
			return response{Values: values[:i], Error: &Error{Index: i, Kind: KindTooDeep}}
		}
		out, err := Marshal(v)
		if err != nil {
			return response{Values: values[:i], Error: &Error{Index: i, Kind: KindNotJSON}}
		}
		if total += len(out); total > req.MaxBytes {
			return response{Values: values[:i], Error: &Error{Index: i, Kind: KindTooLarge}}
		}
		values[i] = out
	}
	return response{Values: values}
}

// First runs code over input and returns its first value, or why there is
// none. It is what a worker does with each program, and what the engine
// does in its own process with a program InProcess allows.
func First(code *gojq.Code, input any) (any, *Error) {
	iter := code.Run(input)
	v, ok := iter.Next()
	if !ok {
		return nil, &Error{Kind: KindNoValue}
	}
	if err, isErr := v.(error); isErr {
		return nil, &Error{Kind: KindFailed, Message: shorten(ErrorText(err))}
	}
	return v, nil
}

// ErrorText is what gojq says of err, a halt_error's value included.
func ErrorText(err error) string {
	var halt *gojq.HaltError
	if errors.As(err, &halt) {
		if s, ok := halt.Value().(string); ok {
			return s
		}
	}
	return err.Error()
}

// Marshal writes a jq value as compact JSON, with <, > and & as they are (the
// values go into request bodies, not HTML). NaN and infinities, which JSON
// cannot hold, are an error.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func shorten(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
