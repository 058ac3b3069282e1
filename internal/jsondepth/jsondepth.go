// Package jsondepth measures how deeply a JSON value nests, without
// recursion, so that a value a million levels deep costs a loop and never a
// goroutine stack: encoding/json, gojq and most readers recurse once per
// level, and Go cannot recover from a stack overflow.
//
// The depth of a scalar is 0, of [] or {} is 1, of [[1]] is 2.
//
// MaxDepth is the one bound the API holds every JSON document it takes or
// makes to: a request body, a webhook delivery (a run's input), a step's
// output, a jq value. Runs keep inputs and outputs as JSON strings in
// DynamoDB, not as maps, so DynamoDB's own limit of 32 nested levels for a
// map attribute does not apply; what must cope are the readers: the runner
// decodes a stored output with encoding/json (limit 10000) and nests it 3
// levels deeper in the jq context ({"steps": {"id": {"output": …}}}), a run
// read nests it 4 levels deeper in the response envelope, and clients in
// other languages read it (Python's json recurses up to about 1000). 64 is
// far beyond what a real document needs and far below what any of those can
// hold.
package jsondepth

import (
	"encoding/json"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is how deeply a JSON document may nest.
const MaxDepth = 64

// Exceeds reports whether the decoded JSON value v nests deeper than limit.
// It knows the shapes decoders and gojq produce: map[string]any and []any
// nest; json.RawMessage and jsontext.Value are scanned as bytes (Bytes);
// anything else (string, bool, nil, numbers of any type) is a scalar. It
// stops at the first path deeper than limit, so a deep value costs at most
// limit steps down it.
func Exceeds(v any, limit int) bool {
	type item struct {
		v     any
		depth int // the depth at which v sits: its containers around it
	}
	stack := []item{{v, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := it.v.(type) {
		case map[string]any:
			if it.depth+1 > limit {
				return true
			}
			for _, child := range x {
				if isComposite(child) {
					stack = append(stack, item{child, it.depth + 1})
				}
			}
		case []any:
			if it.depth+1 > limit {
				return true
			}
			for _, child := range x {
				if isComposite(child) {
					stack = append(stack, item{child, it.depth + 1})
				}
			}
		case json.RawMessage:
			if Bytes(x, limit-it.depth) {
				return true
			}
		case jsontext.Value:
			if Bytes(x, limit-it.depth) {
				return true
			}
		}
	}
	return false
}

// isComposite says whether v may nest, so that scalars are never pushed.
func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any, json.RawMessage, jsontext.Value:
		return true
	}
	return false
}

// Bytes reports whether the JSON text b nests deeper than limit: it counts
// the [ and { that are open at each point, outside strings, in one pass.
// It does not validate b; on text that is not JSON its answer is still a
// bound on what a decoder would have to recurse through before failing.
func Bytes(b []byte, limit int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > limit {
				return true
			}
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return false
}
