// Package keystest makes keys for tests the one way keys are made: through
// keys.Service, as the operator (wfctl) makes them.
package keystest

import (
	"context"
	"testing"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/keys"
)

// MustIssue issues a key named "test key" in account through a service on
// store, with every scope unless scopes are given.
func MustIssue(tb testing.TB, store keys.Store, account string, scopes ...domain.Scope) keys.Issued {
	tb.Helper()
	if len(scopes) == 0 {
		scopes = domain.AllScopes
	}
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	name := "test key"
	issued, err := keys.NewService(store, nil).Issue(context.Background(), keys.Operator(account), keys.IssueRequest{Name: &name, Scopes: &names})
	if err != nil {
		tb.Fatal(err)
	}
	return issued
}
