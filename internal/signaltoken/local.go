package signaltoken

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	key, err := loadOrCreateKey(filepath.Join(dir, LocalKeyFile))
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

// loadOrCreateKey reads the key at path or creates it. Creation writes a
// temporary file and links it into place, so two processes starting at once
// (the local gateway and a test, or wfctl) end up with one key, and no
// reader ever sees a half-written one.
func loadOrCreateKey(path string) ([]byte, error) {
	for range 3 {
		key, err := readKey(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return key, err
		}
		if err := createKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Created, or another process created it first: read it back.
	}
	return nil, fmt.Errorf("signaltoken: %s keeps disappearing", path)
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("signaltoken: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("signaltoken: %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("signaltoken: %s has mode %04o, wider than 0600: others may have read the key; "+
			"run `chmod 600 %s` to keep using it, or remove it to start over (signalUrls shown so far then stop working)", path, perm, path)
	}
	// One byte more than a key, to notice a file that is too long.
	key, err := io.ReadAll(io.LimitReader(f, macSize+1))
	if err != nil {
		return nil, fmt.Errorf("signaltoken: read %s: %w", path, err)
	}
	if len(key) != macSize {
		clear(key)
		return nil, fmt.Errorf("signaltoken: %s is not a %d-byte key", path, macSize)
	}
	return key, nil
}

func createKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("signaltoken: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+LocalKeyFile+"-*") // created 0600
	if err != nil {
		return fmt.Errorf("signaltoken: %w", err)
	}
	defer os.Remove(tmp.Name())
	key := make([]byte, macSize)
	defer clear(key)
	_, err = rand.Read(key)
	if err == nil {
		_, err = tmp.Write(key)
	}
	if err == nil {
		err = tmp.Chmod(0o600) // CreateTemp's mode already; said again so the file's mode never depends on it
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("signaltoken: write %s: %w", path, err)
	}
	// Link fails with ErrExist if the key appeared meanwhile, and never
	// replaces it: a key once used is never overwritten.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("signaltoken: %w", err)
	}
	return nil
}
