package secrets_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/workflowsapi/workflows/internal/secrets"
)

// FuzzOpen feeds the local sealer's Open arbitrary sealed values: it never
// panics, and it succeeds only on a genuine seal of the one secret sealed
// here, giving that secret back. The key is fixed (not random) so that every
// fuzz worker process can open the seeds the others sealed.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, secrets.LocalKEKFile), bytes.Repeat([]byte{0x5a}, 32), 0o600); err != nil {
		f.Fatal(err)
	}
	sealer, err := secrets.NewLocal(dir)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	sealed, err := sealer.Seal(ctx, secret, context1())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed.KeyID, sealed.WrappedKey, sealed.Nonce, sealed.Ciphertext)
	f.Add(sealed.KeyID, sealed.WrappedKey[:12], sealed.Nonce[:11], sealed.Ciphertext[:15])
	f.Add("", []byte{}, []byte{}, []byte{})
	f.Add("local:", bytes.Repeat([]byte{0}, 60), bytes.Repeat([]byte{0}, 12), bytes.Repeat([]byte{0}, 16))
	f.Fuzz(func(t *testing.T, keyID string, wrapped, nonce, ciphertext []byte) {
		got, err := sealer.Open(ctx, secrets.Sealed{KeyID: keyID, WrappedKey: wrapped, Nonce: nonce, Ciphertext: ciphertext}, context1())
		if err != nil {
			if got != nil {
				t.Fatalf("Open returned %d bytes with its error", len(got))
			}
			if bytes.Contains([]byte(err.Error()), ciphertext) && len(ciphertext) > 8 {
				t.Fatalf("the error shows the ciphertext: %v", err)
			}
			return
		}
		// Forging AES-GCM is out of a fuzzer's reach, so a success can only
		// be an unchanged seal.
		if !bytes.Equal(got, secret) {
			t.Fatalf("Open succeeded on garbage, giving %q", got)
		}
	})
}
