package jqsandbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// The protocol between the pool and a worker, over the worker's stdin and
// stdout: frames of a 4-byte big-endian length and that many bytes of JSON.
// The worker first sends a response with Ready set, once its limits are in
// place; then, for each request, one response.

type request struct {
	// Programs are jq sources, each compiled with jqtemplate.CompileJQ.
	Programs []string `json:"programs"`
	// Input is the JSON every program runs over.
	Input json.RawMessage `json:"input"`
	// MaxBytes bounds the values together, as JSON.
	MaxBytes int `json:"maxBytes"`
}

type response struct {
	Ready bool `json:"ready,omitempty"`
	// Values are the first value of each program, as JSON; with an Error,
	// those of the programs before it.
	Values []json.RawMessage `json:"values,omitempty"`
	Error  *Error            `json:"error,omitempty"`
}

// maxMessageBytes bounds a jq error message in a response (the engine shows
// less still), so a program cannot make its error as big as its values.
const maxMessageBytes = 1 << 10

// frameOverhead is what a response may hold beyond its values' MaxBytes:
// the JSON around them and an error message.
const frameOverhead = 16 << 10

func writeFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	frame := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	_, err = w.Write(append(frame, body...))
	return err
}

// readFrame reads one frame of at most limit bytes into v; a longer frame
// is an error, read no further.
func readFrame(r io.Reader, limit int, v any) error {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(head[:])
	if int64(n) > int64(limit) {
		return fmt.Errorf("a frame of %d bytes, over the limit of %d", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers stay as written: a 20-digit id keeps its digits
	return dec.Decode(v)
}
