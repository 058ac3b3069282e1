// Package apikey owns the API key format: wfk_ followed by 32 characters of
// [a-z0-9], the last 6 of which are a CRC32 checksum of the 26 random ones
// before them (as GitHub's tokens do). The checksum lets the authorizer turn
// away a mistyped or made-up key without a database read, and lets a secret
// scanner tell a real key from noise. Only a SHA-256 hash of a key is stored.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	// Prefix starts every key.
	Prefix = "wfk_"
	// BodyLength is the number of characters after the prefix.
	BodyLength = 32
	// ChecksumLength is the number of trailing checksum characters.
	ChecksumLength = 6
	// RandomLength is the number of random characters: 26 of 36 symbols, 134 bits.
	RandomLength = BodyLength - ChecksumLength
	// Length is the length of a whole key.
	Length = len(Prefix) + BodyLength
	// DisplayPrefixLength is how much of a key listings show to recognise it.
	DisplayPrefixLength = len(Prefix) + 4

	alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	// checksumModulus is 36^6: CRC32 reduced to fit six base-36 characters.
	checksumModulus = 36 * 36 * 36 * 36 * 36 * 36
)

// ErrMalformed is returned for any string that is not a well-formed key with a
// valid checksum. It never says which part was wrong.
var ErrMalformed = errors.New("apikey: malformed key")

// Generate returns a new random key.
func Generate() (string, error) {
	random := make([]byte, 0, RandomLength)
	buf := make([]byte, 64)
	for len(random) < RandomLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("apikey: read random bytes: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling: 252 is the largest multiple of 36 below 256,
			// so every symbol is equally likely.
			if b < 252 && len(random) < RandomLength {
				random = append(random, alphabet[b%36])
			}
		}
	}
	return Prefix + string(random) + Checksum(string(random)), nil
}

// Checksum returns the six-character checksum of the random part of a key.
func Checksum(random string) string {
	sum := crc32.ChecksumIEEE([]byte(random)) % checksumModulus
	s := strconv.FormatUint(uint64(sum), 36)
	return strings.Repeat("0", ChecksumLength-len(s)) + s
}

// Validate reports whether key has the key format and a correct checksum.
func Validate(key string) error {
	if len(key) != Length || !strings.HasPrefix(key, Prefix) {
		return ErrMalformed
	}
	body := key[len(Prefix):]
	for i := 0; i < len(body); i++ {
		if !strings.ContainsRune(alphabet, rune(body[i])) {
			return ErrMalformed
		}
	}
	random, checksum := body[:RandomLength], body[RandomLength:]
	if subtle.ConstantTimeCompare([]byte(Checksum(random)), []byte(checksum)) != 1 {
		return ErrMalformed
	}
	return nil
}

// Hash returns the hex SHA-256 of key: the only form of a key that is stored.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// HashesEqual compares two hashes in constant time.
func HashesEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// DisplayPrefix returns the leading characters of key that listings show.
func DisplayPrefix(key string) string {
	if len(key) < DisplayPrefixLength {
		return key
	}
	return key[:DisplayPrefixLength]
}
