// Package keyfile keeps a local key in a file: the local gateway's
// key-wrapping key (internal/secrets) and signal key (internal/signaltoken),
// which stand in for KMS keys under .data/. A key is made once, never
// overwritten, and refused if anyone but its owner may read it.
package keyfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate reads the size-byte key at path or creates it (mode 0600,
// its directory 0700). Creation writes a temporary file and links it into
// place, so two processes starting at once (the local gateway and wfctl, or
// a test) end up with one key, and no reader ever sees a half-written one.
// lost says, in the error of a file readable by others, what removing it
// loses.
func LoadOrCreate(path string, size int, lost string) ([]byte, error) {
	for range 3 {
		key, err := read(path, size, lost)
		if !errors.Is(err, fs.ErrNotExist) {
			return key, err
		}
		if err := create(path, size); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Created, or another process created it first: read it back.
	}
	return nil, fmt.Errorf("%s keeps disappearing", path)
}

func read(path string, size int, lost string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("%s has mode %04o, wider than 0600: others may have read the key; "+
			"run `chmod 600 %s` to keep using it, or remove it to start over (%s)", path, perm, path, lost)
	}
	// One byte more than a key, to notice a file that is too long.
	key, err := io.ReadAll(io.LimitReader(f, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(key) != size {
		clear(key)
		return nil, fmt.Errorf("%s is not a %d-byte key", path, size)
	}
	return key, nil
}

func create(path string, size int) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // created 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	key := make([]byte, size)
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
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Link fails with ErrExist if the key appeared meanwhile, and never
	// replaces it: a key once used is never overwritten.
	return os.Link(tmp.Name(), path)
}
