package signaltoken_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// step is one wait_for_signal step's identity, as Token takes it.
type step struct{ account, run, step, nonce string }

var base = step{"acc_1", "run_1", "approve", strings.Repeat("n", 43)}

func (s step) token(t *testing.T, mac signaltoken.MAC) string {
	t.Helper()
	token, err := signaltoken.Token(context.Background(), mac, s.account, s.run, s.step, s.nonce)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// others are steps that differ from base in one field each, or only in
// where the field boundaries fall: each must get a token of its own.
var others = map[string]step{
	"another account":           {"acc_2", "run_1", "approve", base.nonce},
	"another run":               {"acc_1", "run_2", "approve", base.nonce},
	"another step":              {"acc_1", "run_1", "approve2", base.nonce},
	"another nonce":             {"acc_1", "run_1", "approve", strings.Repeat("m", 43)},
	"a boundary moved (run)":    {"acc_1r", "un_1", "approve", base.nonce},
	"a boundary moved (step)":   {"acc_1", "run_1a", "pprove", base.nonce},
	"a boundary moved (nonce)":  {"acc_1", "run_1", "approven", strings.Repeat("n", 42)},
	"a NUL where a boundary is": {"acc_1\x00", "run_1", "approve", base.nonce},
}

func mustLocal(t *testing.T, dir string) signaltoken.MAC {
	t.Helper()
	mac, err := signaltoken.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

func TestTheLocalKeyIsCreatedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet: created
	first := base.token(t, mustLocal(t, dir))

	path := filepath.Join(dir, signaltoken.LocalKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 32 || info.Mode().Perm() != 0o600 {
		t.Errorf("the key file is %d bytes, mode %04o; want 32 bytes, 0600", info.Size(), info.Mode().Perm())
	}
	key, _ := os.ReadFile(path)

	// Another NewLocal (another process, a restart) reads the same key:
	// the token shown later is the one whose hash was stored.
	if again := base.token(t, mustLocal(t, dir)); again != first {
		t.Errorf("a second NewLocal gives %s, the first %s", again, first)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, key) {
		t.Error("the key file changed")
	}

	// The token is exactly HMAC-SHA256 of the message under the file's
	// bytes, as KMS computes it.
	msg, err := signaltoken.Message(base.account, base.run, base.step, base.nonce)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	if want := base64.RawURLEncoding.EncodeToString(h.Sum(nil)); first != want {
		t.Errorf("token %s, want HMAC-SHA256 of the message: %s", first, want)
	}
}

func TestTwoLocalKeysMakeDifferentTokens(t *testing.T) {
	if a, b := base.token(t, mustLocal(t, t.TempDir())), base.token(t, mustLocal(t, t.TempDir())); a == b {
		t.Error("two fresh local keys made the same token")
	}
}

func TestALocalKeyFileThatIsNotAKeyIsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		content []byte
		mode    os.FileMode
		want    string
	}{
		"empty":              {nil, 0o600, "not a 32-byte key"},
		"short":              {bytes.Repeat([]byte{1}, 31), 0o600, "not a 32-byte key"},
		"long":               {bytes.Repeat([]byte{1}, 33), 0o600, "not a 32-byte key"},
		"readable by others": {bytes.Repeat([]byte{1}, 32), 0o644, "wider than 0600"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, signaltoken.LocalKeyFile)
			if err := os.WriteFile(path, tc.content, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			if _, err := signaltoken.NewLocal(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one that says %q", err, tc.want)
			}
			// Refused, never replaced: a key once used made tokens still shown.
			if now, _ := os.ReadFile(path); !bytes.Equal(now, tc.content) {
				t.Error("the refused key file was changed")
			}
		})
	}
	if _, err := signaltoken.NewLocal(""); err == nil {
		t.Error("NewLocal(\"\") succeeded")
	}
}

func TestATokenIsTheStepsAlone(t *testing.T) {
	mac := mustLocal(t, t.TempDir())
	assertTokensDiffer(t, mac)
}

// assertTokensDiffer checks that base's token is stable and shaped, and that
// every one of others gets another token.
func assertTokensDiffer(t *testing.T, mac signaltoken.MAC) {
	t.Helper()
	token := base.token(t, mac)
	if again := base.token(t, mac); again != token {
		t.Errorf("the same step gave %s, then %s", token, again)
	}
	if len(token) != signaltoken.TokenLen || !signaltoken.Plausible(token) {
		t.Errorf("token %q is not Plausible", token)
	}
	seen := map[string]string{token: "base"}
	for name, s := range others {
		other := s.token(t, mac)
		if was, dup := seen[other]; dup {
			t.Errorf("%s gives the same token as %s", name, was)
		}
		seen[other] = name
	}
}

func TestTokenRefusesWhatNoStepHas(t *testing.T) {
	mac := mustLocal(t, t.TempDir())
	ctx := context.Background()
	for name, s := range map[string]step{
		"no account": {"", "run_1", "approve", base.nonce},
		"no run":     {"acc_1", "", "approve", base.nonce},
		"no step":    {"acc_1", "run_1", "", base.nonce},
		"no nonce":   {"acc_1", "run_1", "approve", ""},
		"too long":   {"acc_1", "run_1", strings.Repeat("s", signaltoken.MaxMessage), base.nonce},
	} {
		if token, err := signaltoken.Token(ctx, mac, s.account, s.run, s.step, s.nonce); err == nil {
			t.Errorf("%s: token %q, want an error", name, token)
		}
	}
}

type failingMAC struct{ sum []byte }

func (f failingMAC) Sum(context.Context, []byte) ([]byte, error) {
	if f.sum == nil {
		return nil, errors.New("KMS is down")
	}
	return f.sum, nil
}

func TestAFailingOrOddMACGivesNoToken(t *testing.T) {
	ctx := context.Background()
	for name, mac := range map[string]failingMAC{"failing": {}, "16 bytes": {sum: make([]byte, 16)}} {
		token, err := signaltoken.Token(ctx, mac, base.account, base.run, base.step, base.nonce)
		if err == nil || !errors.Is(err, signaltoken.ErrMAC) || token != "" {
			t.Errorf("%s: token %q, err %v; want no token and ErrMAC", name, token, err)
		}
	}
}

func TestNoncesAreFreshAndShaped(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		nonce, err := signaltoken.NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
		if err != nil || len(raw) != signaltoken.NonceSize {
			t.Fatalf("nonce %q: %d bytes, %v; want 32 bytes of base64url", nonce, len(raw), err)
		}
		if seen[nonce] {
			t.Fatalf("nonce %q twice", nonce)
		}
		seen[nonce] = true
	}
}

func TestHashIsHexSHA256OfTheToken(t *testing.T) {
	token := base.token(t, mustLocal(t, t.TempDir()))
	sum := sha256.Sum256([]byte(token))
	if got := signaltoken.Hash(token); got != hex.EncodeToString(sum[:]) || strings.Contains(got, token) {
		t.Errorf("Hash = %s", got)
	}
}

func TestPlausibleIsATokensShapeExactly(t *testing.T) {
	token := base.token(t, mustLocal(t, t.TempDir()))
	for _, s := range []string{token, strings.Repeat("A", 43), strings.Repeat("_", 42) + "w", "-" + strings.Repeat("0", 42)} {
		if !signaltoken.Plausible(s) {
			t.Errorf("Plausible(%q) = false", s)
		}
	}
	for _, s := range []string{
		"", token[:42], token + "A", strings.Repeat("A", 42) + "=", // padded
		strings.Repeat("A", 42) + "B",                                // the last character's low bits are not zero: no 32 bytes encode so
		strings.Repeat("A", 42) + "+", strings.Repeat("A", 42) + "/", // std base64
		strings.Repeat("A", 41) + "é", strings.Repeat("A", 42) + "\x00", "../" + strings.Repeat("A", 40),
	} {
		if signaltoken.Plausible(s) {
			t.Errorf("Plausible(%q) = true", s)
		}
	}
}
