package domain_test

import (
	"slices"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
)

func TestNormalizeScopes(t *testing.T) {
	tests := []struct {
		name        string
		in          []string
		want        domain.Scopes
		wantUnknown []string
	}{
		{"keeps the canonical order whatever the input order", []string{"keys:write", "workflows:read"}, domain.Scopes{"workflows:read", "keys:write"}, nil},
		{"drops duplicates", []string{"runs:read", "runs:read"}, domain.Scopes{"runs:read"}, nil},
		{"reports unknown names separately", []string{"runs:read", "runs:write", "admin"}, domain.Scopes{"runs:read"}, []string{"runs:write", "admin"}},
		{"is empty for nothing", nil, domain.Scopes{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unknown := domain.NormalizeScopes(tt.in)
			if !slices.Equal(got, tt.want) || !slices.Equal(unknown, tt.wantUnknown) {
				t.Fatalf("got %v %v, want %v %v", got, unknown, tt.want, tt.wantUnknown)
			}
		})
	}
}

func TestScopesCovers(t *testing.T) {
	holder := domain.Scopes{domain.ScopeWorkflowsRead, domain.ScopeKeysWrite}
	tests := []struct {
		name      string
		requested domain.Scopes
		want      bool
	}{
		{"a key may grant a subset of its scopes", domain.Scopes{domain.ScopeWorkflowsRead}, true},
		{"a key may grant all of its scopes", holder, true},
		{"a key may not grant a scope it lacks", domain.Scopes{domain.ScopeWorkflowsRead, domain.ScopeWorkflowsWrite}, false},
		{"granting nothing is covered", domain.Scopes{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := holder.Covers(tt.requested); got != tt.want {
				t.Fatalf("Covers(%v) = %v, want %v", tt.requested, got, tt.want)
			}
		})
	}
}

func TestScopeListRoundTrip(t *testing.T) {
	all := domain.Scopes(domain.AllScopes)
	if got := domain.ParseScopeList(all.String()); !slices.Equal(got, all) {
		t.Fatalf("round trip of %q gave %v", all.String(), got)
	}
	if got := domain.ParseScopeList("bogus runs:read"); !slices.Equal(got, domain.Scopes{domain.ScopeRunsRead}) {
		t.Fatalf("unknown names must be dropped, got %v", got)
	}
}
