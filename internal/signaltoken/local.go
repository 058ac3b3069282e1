package signaltoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/workflowsapi/workflows/internal/keyfile"
)

// LocalKeyFile is the name of the local signal key in NewLocal's dir.
const LocalKeyFile = "signal-mac.key"

// local is the MAC of local mode (the local gateway, `make dev`): HMAC-SHA256
// in process under a key kept in a file, in place of KMS.
type local struct {
	key []byte
}

// NewLocal opens the signal key <dir>/signal-mac.key, creating dir (0700) and
// the key (32 random bytes, mode 0600) if they do not exist yet. A key file
// of another size is refused, never replaced: a key once used made tokens
// that are still shown. So is one whose mode lets others read it (anything
// wider than 0600): whoever read it can make every token, which narrowing
// the mode now would hide.
//
// Losing the file changes every token, so signalUrls shown before stop
// working (the steps can still be signalled by run and step id); that is
// local mode's trade for needing no AWS account.
func NewLocal(dir string) (MAC, error) {
	if dir == "" {
		return nil, errors.New("signaltoken: NewLocal needs a directory for the local key")
	}
	key, err := loadKey(filepath.Join(dir, LocalKeyFile))
	if err != nil {
		return nil, err
	}
	return &local{key: key}, nil
}

// Sum is HMAC-SHA256 of message under the local key; it never fails. A new
// hmac per call, as hash.Hash is not safe for concurrent use.
func (l *local) Sum(_ context.Context, message []byte) ([]byte, error) {
	h := hmac.New(sha256.New, l.key)
	h.Write(message)
	return h.Sum(nil), nil
}

// loadKey reads the local key at path, or makes it (internal/keyfile).
func loadKey(path string) ([]byte, error) {
	key, err := keyfile.LoadOrCreate(path, macSize, "signalUrls shown so far then stop working")
	if err != nil {
		return nil, fmt.Errorf("signaltoken: %w", err)
	}
	return key, nil
}
