// Package signaltoken makes the one-time capability of a wait_for_signal
// step: the token in its signalUrl (<public base>/api/v1/signals/<token>).
//
// Only the token's hash is ever stored, so the token itself has to be made
// again whenever it is shown: it is derived, an HMAC-SHA256 under a secret
// key of the step's identity (account, run, step) and a random nonce kept on
// the step record. The runner derives it to store Hash(token) in the lookup
// item a signal is found by; the read routes (get-run, get-run-step) derive
// it again to show the URL. A copy of the table alone then yields no token:
// the nonce is useless without the key, and the hash cannot be reversed.
//
// In AWS the key is a KMS HMAC key (HMAC_256, GENERATE_VERIFY_MAC) that
// never leaves KMS (kms:GenerateMac; internal/signaltoken/kmsmac); locally
// it is a 32-byte file under the data directory (NewLocal, here). Both
// compute the same function of the message, so the code above them cannot
// tell them apart.
//
// This package holds the MAC interface, the token format and the local MAC,
// and links no AWS SDK client: the runs and runner packages that make tokens
// import it, and every function that links them would otherwise link the
// KMS client for nothing. The KMS MAC and FromEnv live in
// internal/signaltoken/kmsmac, imported only by the mains of the functions
// granted GenerateMac on the signal key (routes.Function.SignalKeyActions),
// by the local gateway, and by infra for the names of its variables.
package signaltoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// MAC computes HMAC-SHA256 of a message under the signal key. It must be
// deterministic: the same message gives the same 32 bytes on every call, in
// every process, or a token shown by a read route would not be the one the
// runner stored the hash of.
type MAC interface {
	Sum(ctx context.Context, message []byte) ([]byte, error)
}

// macSize is HMAC-SHA256's output, and the local key's size.
const macSize = sha256.Size

// TokenLen is a token's length: 32 bytes in base64url without padding.
const TokenLen = 43 // base64.RawURLEncoding.EncodedLen(macSize)

// NonceSize is how many random bytes a step's nonce holds. 32 bytes (256
// bits) so that two steps never share one, even across every account.
const NonceSize = 32

// MaxMessage is the longest message KMS GenerateMac takes. Token refuses a
// longer one for both MACs alike, so a message that works locally cannot
// fail only in AWS.
const MaxMessage = 4096

// version starts every message, so a later derivation (another field, another
// order) can never produce a token equal to one of this one.
const version = "wfsig1"

// ErrMAC is wrapped by every error of Token that comes from the MAC itself
// (KMS unreachable, throttled, denied), as opposed to bad arguments.
var ErrMAC = errors.New("signaltoken: the MAC failed")

// NewNonce returns a fresh nonce for a step record: 32 random bytes in
// base64url without padding (43 characters). crypto/rand never fails on the
// platforms Go supports; the error is kept in the signature so the callers
// need no change if it ever can.
func NewNonce() (string, error) {
	b := make([]byte, NonceSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("signaltoken: nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Message is the bytes Token MACs: the version tag, then each field as a
// 4-byte big-endian length and its bytes. Length prefixes make it
// unambiguous whatever the fields hold ("ab"+"c" and "a"+"bc" differ), so
// no two steps share a message. Every field must be non-empty: an empty one
// is a caller's bug (a step record without its nonce), and a token made from
// it would be the same for every such step.
func Message(accountID, runID, stepID, nonce string) ([]byte, error) {
	fields := [...]struct{ name, value string }{
		{"account id", accountID}, {"run id", runID}, {"step id", stepID}, {"nonce", nonce},
	}
	size := len(version)
	for _, f := range fields {
		if f.value == "" {
			return nil, fmt.Errorf("signaltoken: the %s is empty", f.name)
		}
		size += 4 + len(f.value)
	}
	if size > MaxMessage {
		return nil, fmt.Errorf("signaltoken: the message is %d bytes, more than the %d a MAC takes", size, MaxMessage)
	}
	msg := make([]byte, 0, size)
	msg = append(msg, version...)
	for _, f := range fields {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(f.value)))
		msg = append(msg, f.value...)
	}
	return msg, nil
}

// Token is the step's signal token: base64url without padding of the MAC of
// Message(accountID, runID, stepID, nonce), 43 characters that are safe in a
// URL path as they are.
func Token(ctx context.Context, mac MAC, accountID, runID, stepID, nonce string) (string, error) {
	msg, err := Message(accountID, runID, stepID, nonce)
	if err != nil {
		return "", err
	}
	sum, err := mac.Sum(ctx, msg)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMAC, err)
	}
	if len(sum) != macSize {
		// A MAC of another size would make tokens Plausible refuses.
		return "", fmt.Errorf("%w: %d bytes, not %d", ErrMAC, len(sum), macSize)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// Hash is what is stored for a token: the hex SHA-256 of its characters. The
// token has 256 bits of a keyed MAC in it, so an unsalted fast hash is
// enough: there is nothing to guess.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Plausible reports whether token has a token's shape: exactly TokenLen
// characters of the base64url alphabet, the last one one of those that end
// 256 bits (its low two bits zero, as RawURLEncoding writes them). A route
// answers 404 to anything else without reading the table.
func Plausible(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if alphabetIndex(token[i]) < 0 {
			return false
		}
	}
	// 43 characters carry 258 bits; the last character's low two are
	// padding, zero in every encoded 32 bytes.
	return alphabetIndex(token[len(token)-1])&0b11 == 0
}

// alphabetIndex is c's value in base64url, or -1.
func alphabetIndex(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
