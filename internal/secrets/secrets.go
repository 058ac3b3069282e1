// Package secrets owns the encryption of secrets at rest (connection
// credentials, webhook signing secrets): envelope encryption, one fresh data
// key per secret, AES-256-GCM on the secret, and only the wrapped data key,
// the nonce and the ciphertext kept. Two wrappers for the data key sit behind
// one Sealer: KMS in AWS (internal/secrets/kmssealer) and a local
// key-wrapping key under .data/ for local mode (NewLocal, here). The envelope
// code around them is the same (SealWith, OpenWith), so what runs locally is
// what runs in AWS except for the wrapping.
//
// This package holds the Sealer interface, the sealed format, the envelope
// and the local sealer, and links no AWS SDK client: the feature packages
// that take a Sealer import it, and every function that links them (the read
// routes too) would otherwise link the KMS client for nothing. The KMS
// sealer and FromEnv, which build a KMS client, live in
// internal/secrets/kmssealer, imported only by the mains of the functions
// granted KMS actions on the key (routes.Function.KeyActions) and by the
// local gateway.
//
// It knows nothing of DynamoDB, HTTP or features: callers store Sealed's
// fields where they like and pass an encryption context that names what the
// secret belongs to (account and connection id), which every Open must
// repeat exactly.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Sealed is an encrypted secret as stored: nothing in it reveals the secret
// or its data key without the wrapping key (KMS or the local one).
type Sealed struct {
	// KeyID names the wrapping key: the KMS key's ARN, or "local:<id>" for
	// a local key-wrapping key. It is not secret.
	KeyID string
	// WrappedKey is the data key encrypted under the wrapping key, bound to
	// the encryption context.
	WrappedKey []byte
	// Nonce is the AES-GCM nonce of Ciphertext (12 random bytes).
	Nonce []byte
	// Ciphertext is the secret under the data key with AES-256-GCM, its tag
	// included, with the encryption context as additional data.
	Ciphertext []byte
}

// Sealer encrypts and decrypts secrets. The context names what a secret
// belongs to (e.g. {"account": ..., "connection": ...}); Open succeeds only
// with the context Seal was given, so a sealed value copied onto another
// connection or account cannot be opened there.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) (Sealed, error)
	Open(ctx context.Context, s Sealed, encCtx map[string]string) ([]byte, error)
}

// ErrOpen is what Open fails with when the sealed value does not open, and
// never will with this sealer: a wrong context, another wrapping key, any
// byte changed, or (KMS) a key this caller may not use. They are not told
// apart (AES-GCM cannot tell the first three apart either). Any other error
// of Open (a KMS timeout, throttling) may pass on a later try.
var ErrOpen = errors.New("secrets: cannot open the sealed value (wrong context, another key, or tampered)")

// ErrNoContext is what Seal and Open fail with on an empty encryption
// context: a secret bound to nothing could be moved anywhere, so a caller
// that forgot to pass one is told rather than served.
var ErrNoContext = errors.New("secrets: an encryption context is required")

// DataKeySize is the size of a data key (AES-256). It is exported, as are
// KeyWrapper, SealWith and OpenWith, only so that the KMS sealer in
// internal/secrets/kmssealer can share the envelope without this package
// linking the KMS client.
const DataKeySize = 32

const (
	nonceSize = 12 // the GCM standard nonce
	tagSize   = 16
)

// KeyWrapper is what differs between KMS and local mode: where a data key
// comes from and how it is wrapped and unwrapped. Everything else is
// SealWith and OpenWith. It is exported for internal/secrets/kmssealer
// (see DataKeySize); callers that store secrets use a Sealer.
type KeyWrapper interface {
	// NewDataKey returns a fresh data key (DataKeySize bytes, which the
	// caller zeroes), its wrapped form and the wrapping key's id.
	NewDataKey(ctx context.Context, encCtx map[string]string) (key, wrapped []byte, keyID string, err error)
	// Unwrap returns the data key of s (which the caller zeroes).
	Unwrap(ctx context.Context, s Sealed, encCtx map[string]string) (key []byte, err error)
}

// SealWith is the envelope encryption that KMS and local mode share: the
// Seal of a Sealer whose data keys come from w.
func SealWith(ctx context.Context, w KeyWrapper, plaintext []byte, encCtx map[string]string) (Sealed, error) {
	if len(encCtx) == 0 {
		return Sealed{}, ErrNoContext
	}
	key, wrapped, keyID, err := w.NewDataKey(ctx, encCtx)
	if err != nil {
		return Sealed{}, err
	}
	// The data key lives only for this call. The AES key schedule that
	// crypto/aes derives from it cannot be zeroed from here; it is garbage
	// once the call returns.
	defer clear(key)
	aead, err := newGCM(key)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (it crashes the program instead)
	return Sealed{
		KeyID:      keyID,
		WrappedKey: wrapped,
		Nonce:      nonce,
		Ciphertext: aead.Seal(nil, nonce, plaintext, aad(purposeData, encCtx)),
	}, nil
}

// OpenWith is SealWith's inverse. Lengths are checked before any call or
// cipher (GCM panics on a nonce of the wrong length), so garbage costs no KMS
// call.
func OpenWith(ctx context.Context, w KeyWrapper, s Sealed, encCtx map[string]string) ([]byte, error) {
	if len(encCtx) == 0 {
		return nil, ErrNoContext
	}
	if len(s.Nonce) != nonceSize || len(s.Ciphertext) < tagSize || len(s.WrappedKey) == 0 {
		return nil, ErrOpen
	}
	key, err := w.Unwrap(ctx, s, encCtx)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad(purposeData, encCtx))
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// newGCM is AES-256-GCM under key. A key of any other length is refused
// rather than silently used as AES-128 or AES-192.
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("secrets: a data key must be %d bytes, got %d", DataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return cipher.NewGCM(block)
}

// Purposes of the additional data: the data key's encryption and the local
// wrapping of the data key each bind the context under their own label, so a
// ciphertext of one layer can never be passed off as the other's.
const (
	purposeData      = "data"
	purposeLocalWrap = "local-wrap"
)

// aad is the canonical encoding of an encryption context as GCM additional
// data: a version label, the purpose, then each pair in sorted key order,
// every string length-prefixed so that no two different contexts encode
// alike ({"a": "bc"} and {"ab": "c"} differ). JSON is not used because it
// replaces invalid UTF-8, which would make different contexts collide.
func aad(purpose string, encCtx map[string]string) []byte {
	keys := make([]string, 0, len(encCtx))
	for k := range encCtx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []byte("workflows-secrets/v1")
	appendString := func(s string) {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	appendString(purpose)
	out = binary.AppendUvarint(out, uint64(len(keys)))
	for _, k := range keys {
		appendString(k)
		appendString(encCtx[k])
	}
	return out
}
