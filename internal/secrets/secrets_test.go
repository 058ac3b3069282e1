package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/workflowsapi/workflows/internal/awstest"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/secrets/kmssealer"
)

var (
	_ secrets.Sealer = (*secrets.Local)(nil)
	_ secrets.Sealer = (*kmssealer.KMS)(nil)
)

// A credential as a connection would hold it: recognisable in any bytes.
var secret = []byte(`{"token":"sk_live_PLAINTEXT_MARKER_4242"}`)

func context1() map[string]string {
	return map[string]string{"account": "acc_1", "connection": "con_1"}
}

type sealerCase struct {
	name   string
	sealer secrets.Sealer
}

// bothSealers is the local sealer on a fresh directory and a KMS sealer on a
// fresh key in moto: every property below holds for both. The envelope is
// this package's, so its properties are tested here against both wrappers;
// what only the KMS sealer does (its calls, its budget, FromEnv) is tested
// in internal/secrets/kmssealer.
func bothSealers(t *testing.T) []sealerCase {
	t.Helper()
	local, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client, keyID := awstest.MustKMSKey(t)
	return []sealerCase{{"local", local}, {"kms", kmssealer.NewKMS(client, keyID)}}
}

func TestASealedSecretOpensWithItsContext(t *testing.T) {
	t.Parallel()
	big := make([]byte, 256<<10)
	_, _ = rand.Read(big)
	plaintexts := []struct {
		name string
		data []byte
	}{
		{"a credential", secret},
		{"nothing", []byte{}},
		{"256 KiB of random bytes", big},
	}
	ctx := context.Background()
	for _, s := range bothSealers(t) {
		for _, p := range plaintexts {
			t.Run(s.name+"/"+p.name, func(t *testing.T) {
				sealed, err := s.sealer.Seal(ctx, p.data, context1())
				if err != nil {
					t.Fatal(err)
				}
				// The context is given again as a new map, in another order.
				got, err := s.sealer.Open(ctx, sealed, map[string]string{"connection": "con_1", "account": "acc_1"})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, p.data) {
					t.Fatalf("opened %d bytes, sealed %d, and they differ", len(got), len(p.data))
				}
			})
		}
	}
}

func TestKMSSealedValuesNameTheKeyAndLocalOnesTheLocalKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, keyARN := awstest.MustKMSKey(t)
	sealed, err := kmssealer.NewKMS(client, keyARN).Seal(ctx, secret, context1())
	if err != nil {
		t.Fatal(err)
	}
	if sealed.KeyID != keyARN {
		t.Errorf("KMS KeyID = %q, want the key's ARN %q", sealed.KeyID, keyARN)
	}
	local, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err = local.Seal(ctx, secret, context1())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed.KeyID, "local:") || sealed.KeyID != local.KeyID() {
		t.Errorf("local KeyID = %q, want %q", sealed.KeyID, local.KeyID())
	}
}

// flip returns b with one bit of byte i changed (i < 0 counts from the end).
func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	if i < 0 {
		i += len(out)
	}
	out[i] ^= 0x01
	return out
}

func TestOpenRefusesAWrongContextOrAnyChangedPart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	otherLocal, err := secrets.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	otherClient, otherKey := awstest.MustKMSKey(t)
	otherKMS := kmssealer.NewKMS(otherClient, otherKey)

	type change struct {
		name    string
		sealer  func(own secrets.Sealer) secrets.Sealer // nil: the sealer that sealed
		modify  func(secrets.Sealed) secrets.Sealed     // nil: unchanged
		context map[string]string                       // nil: context1()
		wantErr error
	}
	changes := []change{
		{name: "another connection's context", context: map[string]string{"account": "acc_1", "connection": "con_2"}, wantErr: secrets.ErrOpen},
		{name: "another account's context", context: map[string]string{"account": "acc_2", "connection": "con_1"}, wantErr: secrets.ErrOpen},
		{name: "a context with a pair more", context: map[string]string{"account": "acc_1", "connection": "con_1", "x": "y"}, wantErr: secrets.ErrOpen},
		{name: "a context with a pair less", context: map[string]string{"account": "acc_1"}, wantErr: secrets.ErrOpen},
		{name: "a context with keys and values run together differently", context: map[string]string{"accountacc_1": "", "connection": "con_1"}, wantErr: secrets.ErrOpen},
		{name: "an empty context", context: map[string]string{}, wantErr: secrets.ErrNoContext},
		{name: "the wrapped key's first byte changed", modify: func(s secrets.Sealed) secrets.Sealed { s.WrappedKey = flip(s.WrappedKey, 0); return s }, wantErr: secrets.ErrOpen},
		{name: "the wrapped key's last byte changed", modify: func(s secrets.Sealed) secrets.Sealed { s.WrappedKey = flip(s.WrappedKey, -1); return s }, wantErr: secrets.ErrOpen},
		{name: "the wrapped key cut short", modify: func(s secrets.Sealed) secrets.Sealed { s.WrappedKey = s.WrappedKey[:len(s.WrappedKey)-1]; return s }, wantErr: secrets.ErrOpen},
		{name: "no wrapped key", modify: func(s secrets.Sealed) secrets.Sealed { s.WrappedKey = nil; return s }, wantErr: secrets.ErrOpen},
		{name: "the nonce changed", modify: func(s secrets.Sealed) secrets.Sealed { s.Nonce = flip(s.Nonce, 5); return s }, wantErr: secrets.ErrOpen},
		{name: "a nonce of the wrong length", modify: func(s secrets.Sealed) secrets.Sealed { s.Nonce = append(s.Nonce, 0); return s }, wantErr: secrets.ErrOpen},
		{name: "the ciphertext's first byte changed", modify: func(s secrets.Sealed) secrets.Sealed { s.Ciphertext = flip(s.Ciphertext, 0); return s }, wantErr: secrets.ErrOpen},
		{name: "the ciphertext's tag changed", modify: func(s secrets.Sealed) secrets.Sealed { s.Ciphertext = flip(s.Ciphertext, -1); return s }, wantErr: secrets.ErrOpen},
		{name: "the ciphertext cut short", modify: func(s secrets.Sealed) secrets.Sealed { s.Ciphertext = s.Ciphertext[:len(s.Ciphertext)-1]; return s }, wantErr: secrets.ErrOpen},
		{name: "the ciphertext of another sealing", modify: nil, wantErr: secrets.ErrOpen}, // filled in below
		{name: "another local key", sealer: func(secrets.Sealer) secrets.Sealer { return otherLocal }, wantErr: secrets.ErrOpen},
		{name: "another KMS key", sealer: func(secrets.Sealer) secrets.Sealer { return otherKMS }, wantErr: secrets.ErrOpen},
	}
	for _, s := range bothSealers(t) {
		sealed, err := s.sealer.Seal(ctx, secret, context1())
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.sealer.Seal(ctx, []byte("another secret of the same length, or so"), context1())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			if c.name == "the ciphertext of another sealing" {
				c.modify = func(s secrets.Sealed) secrets.Sealed { s.Ciphertext = other.Ciphertext; return s }
			}
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				opener := s.sealer
				if c.sealer != nil {
					opener = c.sealer(s.sealer)
				}
				in := sealed
				if c.modify != nil {
					in = c.modify(secrets.Sealed{KeyID: sealed.KeyID, WrappedKey: bytes.Clone(sealed.WrappedKey),
						Nonce: bytes.Clone(sealed.Nonce), Ciphertext: bytes.Clone(sealed.Ciphertext)})
				}
				encCtx := c.context
				if encCtx == nil {
					encCtx = context1()
				}
				got, err := opener.Open(ctx, in, encCtx)
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Open = %q, %v; want %v", got, err, c.wantErr)
				}
				if got != nil {
					t.Errorf("Open returned %d bytes with its error", len(got))
				}
				if bytes.Contains([]byte(err.Error()), secret) {
					t.Errorf("the error contains the secret: %v", err)
				}
			})
		}
	}
}

func TestSealingTheSameSecretTwiceGivesUnrelatedValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, s := range bothSealers(t) {
		t.Run(s.name, func(t *testing.T) {
			a, err := s.sealer.Seal(ctx, secret, context1())
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.sealer.Seal(ctx, secret, context1())
			if err != nil {
				t.Fatal(err)
			}
			for name, pair := range map[string][2][]byte{
				"wrapped key": {a.WrappedKey, b.WrappedKey},
				"nonce":       {a.Nonce, b.Nonce},
				"ciphertext":  {a.Ciphertext, b.Ciphertext},
			} {
				if bytes.Equal(pair[0], pair[1]) {
					t.Errorf("two seals have the same %s", name)
				}
			}
		})
	}
}

func TestSealedBytesNeverContainTheSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	marker := []byte("PLAINTEXT_MARKER")
	for _, s := range bothSealers(t) {
		t.Run(s.name, func(t *testing.T) {
			sealed, err := s.sealer.Seal(ctx, secret, context1())
			if err != nil {
				t.Fatal(err)
			}
			all := bytes.Join([][]byte{[]byte(sealed.KeyID), sealed.WrappedKey, sealed.Nonce, sealed.Ciphertext}, nil)
			for _, needle := range [][]byte{secret, marker, []byte(hex.EncodeToString(marker))} {
				if bytes.Contains(all, needle) {
					t.Errorf("the sealed value contains %q", needle)
				}
			}
			if len(sealed.Nonce) != 12 {
				t.Errorf("nonce of %d bytes, want 12", len(sealed.Nonce))
			}
			if want := len(secret) + 16; len(sealed.Ciphertext) != want {
				t.Errorf("ciphertext of %d bytes, want %d (the secret and a GCM tag)", len(sealed.Ciphertext), want)
			}
		})
	}
}

func TestTheLocalKeyIsCreatedPrivateOnceAndReused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".data") // not there yet
	first, err := secrets.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, secrets.LocalKEKFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	if info.Size() != 32 {
		t.Errorf("key file of %d bytes, want 32", info.Size())
	}
	kek, _ := os.ReadFile(path)
	sealed, err := first.Seal(ctx, secret, context1())
	if err != nil {
		t.Fatal(err)
	}

	second, err := secrets.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if second.KeyID() != first.KeyID() {
		t.Errorf("a second instance has key %s, the first %s", second.KeyID(), first.KeyID())
	}
	got, err := second.Open(ctx, sealed, context1())
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("a second instance opens what the first sealed: %v", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, kek) {
		t.Error("the key file changed when a second instance opened it")
	}
	if strings.Contains(first.KeyID(), hex.EncodeToString(kek)[:8]) {
		t.Error("the key id shows bytes of the key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want the key file only", len(entries))
	}
}

func TestInstancesStartingTogetherShareOneLocalKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			l, err := secrets.NewLocal(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = l.KeyID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("instances started together got different keys: %v", ids)
		}
	}
}

func TestALocalKeyFileThatIsNotPrivateOrNotAKeyIsRefused(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	cases := []struct {
		name     string
		content  []byte
		mode     os.FileMode
		wantText string
	}{
		{"readable by the group", key, 0o640, "chmod 600"},
		{"readable by everyone", key, 0o644, "chmod 600"},
		{"executable", key, 0o700, "chmod 600"},
		{"too short", key[:31], 0o600, "not a 32-byte key"},
		{"too long", append(bytes.Clone(key), 0), 0o600, "not a 32-byte key"},
		{"empty", nil, 0o600, "not a 32-byte key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, secrets.LocalKEKFile)
			if err := os.WriteFile(path, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			_, err := secrets.NewLocal(dir)
			if err == nil || !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("NewLocal = %v, want an error saying %q", err, c.wantText)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(key)) || bytes.Contains([]byte(err.Error()), key) {
				t.Error("the error shows the key")
			}
			// Refused, not fixed: the file is as it was.
			info, _ := os.Stat(path)
			if info.Mode().Perm() != c.mode {
				t.Errorf("the file's mode changed to %04o", info.Mode().Perm())
			}
		})
	}
	t.Run("a key file that is a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, secrets.LocalKEKFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.NewLocal(dir); err == nil {
			t.Fatal("NewLocal accepted a directory as its key")
		}
	})
	t.Run("no directory", func(t *testing.T) {
		if _, err := secrets.NewLocal(""); err == nil {
			t.Fatal("NewLocal accepted no directory")
		}
	})
}

func TestSealRefusesAnEmptyContext(t *testing.T) {
	t.Parallel()
	for _, s := range bothSealers(t) {
		for _, encCtx := range []map[string]string{nil, {}} {
			if _, err := s.sealer.Seal(context.Background(), secret, encCtx); !errors.Is(err, secrets.ErrNoContext) {
				t.Errorf("%s: Seal with context %v = %v, want ErrNoContext", s.name, encCtx, err)
			}
		}
	}
}
