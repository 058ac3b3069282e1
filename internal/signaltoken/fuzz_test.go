package signaltoken_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// FuzzToken gives Token arbitrary fields under a fixed local key (fixed so
// every fuzz worker computes the same tokens): it never panics, what it
// returns is always Plausible, and the same fields always give the same
// token. Plausible itself must not panic on the raw input either.
func FuzzToken(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, signaltoken.LocalKeyFile), bytes.Repeat([]byte{0x5a}, 32), 0o600); err != nil {
		f.Fatal(err)
	}
	mac, err := signaltoken.NewLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Add("acc_1", "run_1", "approve", "bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlbm9u")
	f.Add("", "", "", "")
	f.Add("a\x00", "\x00b", "é", "")
	f.Fuzz(func(t *testing.T, account, run, step, nonce string) {
		_ = signaltoken.Plausible(nonce)
		token, err := signaltoken.Token(ctx, mac, account, run, step, nonce)
		if err != nil {
			if token != "" {
				t.Fatalf("token %q with error %v", token, err)
			}
			return
		}
		if !signaltoken.Plausible(token) {
			t.Fatalf("Token gave %q, which Plausible refuses", token)
		}
		if again, _ := signaltoken.Token(ctx, mac, account, run, step, nonce); again != token {
			t.Fatalf("the same fields gave %q, then %q", token, again)
		}
	})
}
