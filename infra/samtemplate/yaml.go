package samtemplate

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The template is built as a yaml.v3 node tree, so every value is quoted as
// YAML needs and the comments sit where a reader looks for them. These are
// the few shapes it is made of.

// pair is one key of a mapping, with the comment written above it.
type pair struct {
	key     string
	comment string
	value   *yaml.Node
}

// kv is the pair key: value, where value is a *yaml.Node, a string, an int,
// a bool or a []string.
func kv(key string, value any) pair { return pair{key: key, value: node(value)} }

// note puts comment (lines without "#") above the pair.
func (p pair) note(comment string) pair {
	p.comment = comment
	return p
}

func mapping(pairs ...pair) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, p := range pairs {
		key := str(p.key)
		key.HeadComment = p.comment
		n.Content = append(n.Content, key, p.value)
	}
	return n
}

func seq(items ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, item := range items {
		n.Content = append(n.Content, node(item))
	}
	return n
}

// stringSeq is a sequence of strings.
func stringSeq(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, item := range items {
		n.Content = append(n.Content, str(item))
	}
	return n
}

// commented puts comment above n, an item of a sequence.
func commented(comment string, n *yaml.Node) *yaml.Node {
	n.HeadComment = comment
	return n
}

// flow writes n on one line: [a, b].
func flow(n *yaml.Node) *yaml.Node {
	n.Style = yaml.FlowStyle
	return n
}

// folded writes a long string as a folded block (>-), which write wraps.
func folded(s string) *yaml.Node {
	n := str(s)
	n.Style = yaml.FoldedStyle
	return n
}

func node(v any) *yaml.Node {
	switch v := v.(type) {
	case *yaml.Node:
		return v
	case string:
		return str(v)
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case []string:
		return stringSeq(v)
	}
	panic(fmt.Sprintf("samtemplate: no YAML for %T", v))
}

func str(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	// 'GET, POST' reads better as "'GET, POST'" than as '''GET, POST'''.
	if strings.HasPrefix(s, "'") && !strings.ContainsAny(s, "\"\\\n") {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// CloudFormation's short intrinsics.

func ref(id string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!Ref", Value: id} }

// getAtt is !GetAtt resource.Attribute.
func getAtt(attribute string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!GetAtt", Value: attribute}
}

func sub(s string) *yaml.Node {
	n := str(s)
	n.Tag = "!Sub"
	return n
}

func equals(a, b *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!Equals", Style: yaml.FlowStyle, Content: []*yaml.Node{a, b}}
}

// wrapWidth is where write wraps folded blocks.
const wrapWidth = 80

// write encodes doc with two-space indents, a blank line before each
// top-level section and each resource, and folded blocks wrapped.
func write(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var out []string
	section := ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasSuffix(line, ">-") {
			// The folded block's one line, wrapped: a single line break
			// between words folds back into the one space it replaces.
			out = append(out, line)
			for i+1 < len(lines) && indentOf(lines[i+1]) > indentOf(line) {
				i++
				out = append(out, wrap(lines[i], wrapWidth)...)
			}
			continue
		}
		if indentOf(line) == 0 && !strings.HasPrefix(line, "#") {
			section, _, _ = strings.Cut(line, ":")
		}
		sectionStart := indentOf(line) == 0 && strings.HasSuffix(line, ":")
		resourceStart := section == "Resources" && indentOf(line) == 2 && !strings.HasPrefix(strings.TrimSpace(line), "#")
		if sectionStart || resourceStart {
			// Before the comments that belong to the key, if any.
			at := len(out)
			for at > 0 && indentOf(out[at-1]) == indentOf(line) && strings.HasPrefix(strings.TrimSpace(out[at-1]), "#") {
				at--
			}
			if at > 0 && out[at-1] != "" && !strings.HasSuffix(out[at-1], "Resources:") {
				out = append(out[:at], append([]string{""}, out[at:]...)...)
			}
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// wrap breaks line at single spaces so that no part is longer than width
// (a word longer than that stays whole), each part at line's indent.
func wrap(line string, width int) []string {
	indent := line[:indentOf(line)]
	if strings.Contains(line[len(indent):], "  ") || strings.HasSuffix(line, " ") {
		return []string{line} // a folded block keeps runs of spaces only on one line
	}
	words := strings.Split(line[len(indent):], " ")
	var out []string
	current := indent
	for _, w := range words {
		switch {
		case current == indent:
			current += w
		case len(current)+1+len(w) > width:
			out = append(out, current)
			current = indent + w
		default:
			current += " " + w
		}
	}
	return append(out, current)
}
