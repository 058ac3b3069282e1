package connections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/secrets"
)

// Store keeps connections with their sealed credentials. Its methods return
// domain.ErrNotFound for a connection that is absent or another account's
// (callers cannot tell the two apart), and List returns domain.ErrBadCursor
// for a cursor it did not make. None of them returns the sealed credentials:
// the routes have no use for them.
type Store interface {
	// Create stores a new connection.
	Create(ctx context.Context, c Connection, sealed secrets.Sealed) error
	Get(ctx context.Context, account, connectionID string) (Connection, error)
	// List pages through an account's connections, newest first.
	List(ctx context.Context, account string, limit int, cursor string) (domain.Page[Connection], error)
	// Replace sets the name, type, credentials and updatedAt of an existing
	// connection and returns it as it is afterwards.
	Replace(ctx context.Context, c Connection, sealed secrets.Sealed) (Connection, error)
	// Delete deletes a connection and returns it as it was.
	Delete(ctx context.Context, account, connectionID string) (Connection, error)
}

// Sealer is the half of secrets.Sealer the routes need: they encrypt
// credentials and never decrypt them, so the Service is not even handed a
// way to (and the functions are granted kms:GenerateDataKey only).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, encCtx map[string]string) (secrets.Sealed, error)
}

// Service holds the rules of connections.
type Service struct {
	store  Store
	sealer Sealer
	now    func() time.Time
}

// NewService returns the service on store, sealing with sealer. sealer may
// be nil in a function that only reads or deletes (it has no key to seal
// with); now may be nil for the wall clock.
func NewService(store Store, sealer Sealer, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, sealer: sealer, now: now}
}

// Create makes a connection in account. An invalid request is a
// VALIDATION_ERROR naming every bad field.
func (s *Service) Create(ctx context.Context, account string, req Request) (Connection, error) {
	name, creds, err := req.Validate()
	if err != nil {
		return Connection{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c := Connection{
		ID: ids.New(ids.PrefixConnection, now), AccountID: account, Name: name, Type: creds.Type,
		CreatedAt: now, UpdatedAt: now,
	}
	sealed, err := s.seal(ctx, c, creds)
	if err != nil {
		return Connection{}, err
	}
	if err := s.store.Create(ctx, c, sealed); err != nil {
		return Connection{}, err
	}
	return c, nil
}

// Replace gives an existing connection a new name, type and credentials,
// sealed under a fresh data key: how a user rotates a token without touching
// the workflows that name the connection. Its id and createdAt stay.
func (s *Service) Replace(ctx context.Context, account, connectionID string, req Request) (Connection, error) {
	name, creds, err := req.Validate()
	if err != nil {
		return Connection{}, err
	}
	if !ids.Valid(ids.PrefixConnection, connectionID) {
		return Connection{}, domain.ErrNotFound
	}
	c := Connection{
		ID: connectionID, AccountID: account, Name: name, Type: creds.Type,
		UpdatedAt: s.now().UTC().Truncate(time.Millisecond),
	}
	// Sealing before the write costs a data key when the id names nothing
	// (the write then answers 404), and saves a read on every real rotation.
	sealed, err := s.seal(ctx, c, creds)
	if err != nil {
		return Connection{}, err
	}
	return s.store.Replace(ctx, c, sealed)
}

func (s *Service) seal(ctx context.Context, c Connection, creds Credentials) (secrets.Sealed, error) {
	plaintext, err := json.Marshal(sealedForm(creds))
	if err != nil {
		return secrets.Sealed{}, fmt.Errorf("connections: encode credentials: %w", err)
	}
	defer clear(plaintext)
	sealed, err := s.sealer.Seal(ctx, plaintext, EncryptionContext(c.AccountID, c.ID))
	if err != nil {
		return secrets.Sealed{}, fmt.Errorf("connections: seal credentials of %s: %w", c.ID, err)
	}
	return sealed, nil
}

// Get returns one of the account's connections.
func (s *Service) Get(ctx context.Context, account, connectionID string) (Connection, error) {
	if !ids.Valid(ids.PrefixConnection, connectionID) {
		return Connection{}, domain.ErrNotFound
	}
	return s.store.Get(ctx, account, connectionID)
}

// List pages through the account's connections, newest first.
func (s *Service) List(ctx context.Context, account string, limit int, cursor string) (domain.Page[Connection], error) {
	return s.store.List(ctx, account, limit, cursor)
}

// Delete deletes one of the account's connections and returns it as it was.
// A run that needs it afterwards fails its step.
func (s *Service) Delete(ctx context.Context, account, connectionID string) (Connection, error) {
	if !ids.Valid(ids.PrefixConnection, connectionID) {
		return Connection{}, domain.ErrNotFound
	}
	return s.store.Delete(ctx, account, connectionID)
}
