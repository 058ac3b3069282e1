// Package openapi serves the API's OpenAPI 3.1 document, the contract users
// read and tests hold every response to.
//
// The document is hand-written YAML (openapi.yaml) rather than generated from
// the code: it is the contract users read and reviewers review, so it is kept
// in a reader's order and words, and a change to it shows up as a reviewable
// change to the contract. Tests in this package hold it to the route table;
// package contract checks exchanges against it.
//
// This package is linked into the get-openapi Lambda, so it imports only the
// standard library and a YAML decoder.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var source []byte

// document is converted on first use, not at init, so that a cold start of a
// Lambda that links this package pays for it only when the document is asked
// for. The embedded file is fixed at build time and the tests convert it, so
// a failure here is a broken build, not a condition to handle.
var document = sync.OnceValue(func() []byte {
	b, err := toJSON(source)
	if err != nil {
		panic(fmt.Sprintf("openapi: the embedded openapi.yaml does not convert to JSON: %v", err))
	}
	return b
})

// JSON returns the document as JSON, keys in the order the YAML has them.
func JSON() []byte { return bytes.Clone(document()) }

// Handler answers 200 with the document as JSON. The route's Lambda wraps it
// in the pipeline that adds the request id and the rate limit.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := document()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// toJSON converts YAML to JSON by walking the node tree rather than decoding
// into maps, so the JSON keeps the document's order (info before paths,
// operations in the contract's order), which is what people reading
// /openapi.json expect.
func toJSON(src []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeNode(&buf, &root); err != nil {
		return nil, err
	}
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("the conversion produced invalid JSON")
	}
	return buf.Bytes(), nil
}

func writeNode(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document", n.Line)
		}
		return writeNode(buf, n.Content[0])
	case yaml.AliasNode:
		return writeNode(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			// Merge keys are YAML 1.1 and not every reader of the YAML
			// applies them; refusing them keeps the YAML and the JSON the
			// same document for everyone.
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: a mapping key must be a plain scalar", k.Line)
			}
			// The YAML decoder accepts a repeated key in a node tree; JSON
			// readers would keep one of the two at random.
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q repeated", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeNode(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeNode(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	// A timestamp stays the text it was: JSON has no date type, and decoding
	// it would rewrite the value (a date gains a time of day).
	case "!!str", "!!timestamp":
		writeString(buf, n.Value)
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatInt(i, 10))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		return fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.ShortTag())
	}
	return nil
}

// writeString writes s as a JSON string, leaving <, > and & as they are:
// the document is not HTML, and descriptions hold text such as <version>.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode ends with a newline
}
