package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/workflowsapi/workflows/internal/keyfile"
)

// LocalKEKFile is the name of the local key-wrapping key in NewLocal's dir.
const LocalKEKFile = "local-kek"

// LocalKeyIDPrefix starts the KeyID of everything a Local sealed. It is
// exported so that the KMS sealer (internal/secrets/kmssealer) can refuse a
// locally sealed value without a call to KMS.
const LocalKeyIDPrefix = "local:"

// Local is the Sealer of local mode: the data key of each secret is wrapped
// with AES-256-GCM under a key-wrapping key (KEK) kept in a file, in place of
// KMS. It is safe for concurrent use.
type Local struct {
	kek   cipher.AEAD
	keyID string
}

// NewLocal opens the key-wrapping key <dir>/local-kek, creating dir (0700)
// and the key (32 random bytes, mode 0600) if they do not exist yet.
//
// An existing key file whose mode allows more than 0600 (anything for group
// or others, or execute) is refused, not fixed: a key that others could read
// may have been copied already, which narrowing the mode now would hide. The
// error says how to proceed (chmod 600 to keep it, or remove it and lose what
// it sealed).
//
// Losing the file loses every secret sealed under it; that is local mode's
// trade for needing no AWS account.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("secrets: NewLocal needs a directory for the local key")
	}
	kek, err := loadKey(filepath.Join(dir, LocalKEKFile))
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	// The KeyID tells keys apart without revealing them: an HMAC under the
	// key itself, truncated, as key check values are.
	mac := hmac.New(sha256.New, kek)
	mac.Write([]byte("workflows-secrets local key id"))
	return &Local{kek: aead, keyID: LocalKeyIDPrefix + hex.EncodeToString(mac.Sum(nil)[:8])}, nil
}

// Seal encrypts plaintext under a fresh data key wrapped by the local key.
func (l *Local) Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) (Sealed, error) {
	return SealWith(ctx, (*localWrapper)(l), plaintext, encCtx)
}

// Open decrypts what Seal of this key sealed with the same context.
func (l *Local) Open(ctx context.Context, s Sealed, encCtx map[string]string) ([]byte, error) {
	return OpenWith(ctx, (*localWrapper)(l), s, encCtx)
}

// KeyID is the id every Sealed of this key carries.
func (l *Local) KeyID() string { return l.keyID }

// localWrapper is Local as the KeyWrapper of its envelope: NewDataKey and
// Unwrap hand out raw data keys, so they are methods of this unexported type
// and not of Local.
type localWrapper Local

// NewDataKey makes a random data key and wraps it as nonce || AES-GCM(KEK),
// with the context bound as additional data, as KMS binds it to its blob.
func (l *localWrapper) NewDataKey(_ context.Context, encCtx map[string]string) (key, wrapped []byte, keyID string, err error) {
	key = make([]byte, DataKeySize)
	_, _ = rand.Read(key)
	nonce := make([]byte, nonceSize, nonceSize+DataKeySize+tagSize)
	_, _ = rand.Read(nonce)
	wrapped = l.kek.Seal(nonce, nonce, key, aad(purposeLocalWrap, encCtx))
	return key, wrapped, l.keyID, nil
}

// Unwrap opens a data key that NewDataKey of this key wrapped.
func (l *localWrapper) Unwrap(_ context.Context, s Sealed, encCtx map[string]string) ([]byte, error) {
	if s.KeyID != l.keyID || len(s.WrappedKey) != nonceSize+DataKeySize+tagSize {
		return nil, ErrOpen
	}
	key, err := l.kek.Open(nil, s.WrappedKey[:nonceSize], s.WrappedKey[nonceSize:], aad(purposeLocalWrap, encCtx))
	if err != nil {
		return nil, ErrOpen
	}
	return key, nil
}

// loadKey reads the local key at path, or makes it (internal/keyfile).
func loadKey(path string) ([]byte, error) {
	key, err := keyfile.LoadOrCreate(path, DataKeySize, "what it sealed is then lost")
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return key, nil
}
