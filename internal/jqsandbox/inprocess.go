package jqsandbox

import "github.com/itchyny/gojq"

// InProcess reports whether the jq program src is only a path over its
// input and literals, which cannot allocate beyond what exists nor run
// long, so the engine may run it in its own process without a worker: the
// common template {{ .input.id }}. Allowed: the identity ".", field and
// index access (.a, ."a", .["a"], .[0]), each optional ("?"), pipes of
// those, parentheses, and the literals null, true, false, numbers and plain
// strings. Anything else (a function call, an operator other than "|",
// string interpolation, formats, constructors, slices, iteration,
// definitions, variables, reduce, …) goes to a worker; so does a program
// that does not parse.
func InProcess(src string) bool {
	q, err := gojq.Parse(src)
	return err == nil && pathQuery(q)
}

func pathQuery(q *gojq.Query) bool {
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return false
	}
	if q.Term != nil {
		return q.Left == nil && q.Right == nil && pathTerm(q.Term)
	}
	return q.Op == gojq.OpPipe && pathQuery(q.Left) && pathQuery(q.Right)
}

func pathTerm(t *gojq.Term) bool {
	switch t.Type {
	case gojq.TermTypeIdentity, gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
	case gojq.TermTypeString:
		if !plainString(t.Str) {
			return false
		}
	case gojq.TermTypeIndex:
		if !pathIndex(t.Index) {
			return false
		}
	case gojq.TermTypeQuery:
		if !pathQuery(t.Query) {
			return false
		}
	default:
		return false
	}
	for _, s := range t.SuffixList {
		// A suffix is an index, or a lone "?" (its Optional, no index).
		if s.Iter || (s.Index == nil && !s.Optional) || (s.Index != nil && !pathIndex(s.Index)) {
			return false
		}
	}
	return true
}

// pathIndex allows .name, ."name", .["name"] and .[number]: one member or
// element, never a slice.
func pathIndex(ix *gojq.Index) bool {
	switch {
	case ix == nil || ix.IsSlice || ix.End != nil:
		return false
	case ix.Name != "":
		return ix.Str == nil && ix.Start == nil
	case ix.Str != nil:
		return ix.Start == nil && plainString(ix.Str)
	case ix.Start != nil:
		t := ix.Start.Term
		return ix.Start.Left == nil && ix.Start.Right == nil && len(ix.Start.FuncDefs) == 0 && t != nil &&
			len(t.SuffixList) == 0 && (t.Type == gojq.TermTypeNumber || (t.Type == gojq.TermTypeString && plainString(t.Str)))
	}
	return false
}

// plainString is a string literal without interpolation or format.
func plainString(s *gojq.String) bool { return s != nil && len(s.Queries) == 0 }
