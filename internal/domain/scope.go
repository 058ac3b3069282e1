package domain

import (
	"slices"
	"strings"
)

// Scope is one permission an API key can hold.
type Scope string

// Every scope of the contract. A key may only grant scopes it holds itself.
const (
	ScopeWorkflowsRead    Scope = "workflows:read"
	ScopeWorkflowsWrite   Scope = "workflows:write"
	ScopeWorkflowsExecute Scope = "workflows:execute"
	ScopeRunsRead         Scope = "runs:read"
	ScopeConnectionsRead  Scope = "connections:read"
	ScopeConnectionsWrite Scope = "connections:write"
	ScopeKeysRead         Scope = "keys:read"
	ScopeKeysWrite        Scope = "keys:write"
)

// AllScopes lists every scope in a stable order (the order responses use).
var AllScopes = []Scope{
	ScopeWorkflowsRead, ScopeWorkflowsWrite, ScopeWorkflowsExecute, ScopeRunsRead,
	ScopeConnectionsRead, ScopeConnectionsWrite, ScopeKeysRead, ScopeKeysWrite,
}

// Known reports whether s is a scope of the contract.
func (s Scope) Known() bool { return slices.Contains(AllScopes, s) }

// Scopes is a set of scopes kept in AllScopes order without duplicates.
type Scopes []Scope

// NormalizeScopes sorts scopes into AllScopes order and drops duplicates. It
// returns the unknown names separately so callers can report each one.
func NormalizeScopes(names []string) (Scopes, []string) {
	var unknown []string
	seen := map[Scope]bool{}
	for _, n := range names {
		s := Scope(n)
		if !s.Known() {
			unknown = append(unknown, n)
			continue
		}
		seen[s] = true
	}
	out := Scopes{}
	for _, s := range AllScopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, unknown
}

// Has reports whether the set holds s.
func (ss Scopes) Has(s Scope) bool { return slices.Contains(ss, s) }

// Covers reports whether the set holds every scope of other.
func (ss Scopes) Covers(other Scopes) bool {
	for _, s := range other {
		if !ss.Has(s) {
			return false
		}
	}
	return true
}

// String joins the scopes with single spaces, the form the authorizer context
// carries (API Gateway context values must be strings).
func (ss Scopes) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, " ")
}

// ParseScopeList reads the space-separated form written by String, keeping
// only known scopes.
func ParseScopeList(s string) Scopes {
	out, _ := NormalizeScopes(strings.Fields(s))
	return out
}
