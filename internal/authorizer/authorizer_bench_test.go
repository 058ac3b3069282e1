package authorizer_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/apikey"
	"github.com/workflowsapi/workflows/internal/authorizer"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/keys"
)

// memoryKeys stands in for the store so the benchmark measures the
// authorizer's own work per request (format, checksum, hash, policy), not the
// network; TestAuthorizer shows the store part costs one GetItem.
type memoryKeys map[string]keys.Key

func (m memoryKeys) ByHash(_ context.Context, hash string) (keys.Key, string, error) {
	k, ok := m[hash]
	if !ok {
		return keys.Key{}, "", domain.ErrNotFound
	}
	return k, hash, nil
}

func BenchmarkAuthorizer(b *testing.B) {
	valid, _ := apikey.Generate()
	keys := memoryKeys{apikey.Hash(valid): {
		ID: "key_01jc0000000000000000000000", AccountID: "acct_bench", RateLimitID: "rl_bench",
		Scopes: domain.Scopes(domain.AllScopes), CreatedAt: time.Now(),
	}}
	auth := authorizer.New(keys, nil, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for _, bc := range []struct{ name, key string }{
		{"valid key", valid},
		{"malformed key", "wfk_abc123def456ghi789jkl012mno345pq"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := request(map[string]string{"x-api-key": bc.key, "user-agent": "curl/8.5.0", "accept": "*/*"})
			b.ReportAllocs()
			for b.Loop() {
				_, _ = auth.Handle(ctx, req)
			}
		})
	}
}
