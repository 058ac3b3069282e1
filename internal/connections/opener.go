package connections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/workflowsapi/workflows/internal/secrets"
)

// SealedStore reads a connection with its sealed credentials. It returns
// domain.ErrNotFound for a connection that is absent or another account's.
type SealedStore interface {
	Sealed(ctx context.Context, account, connectionID string) (Connection, secrets.Sealed, error)
}

// Opener gives back a connection's credentials: for the runner, which puts
// them on a step's request, and for nothing else. No route uses it, and only
// a function granted kms:Decrypt can (the routes are not).
type Opener struct {
	store  SealedStore
	sealer secrets.Sealer
}

// NewOpener returns the opener on store, opening with sealer.
func NewOpener(store SealedStore, sealer secrets.Sealer) *Opener {
	return &Opener{store: store, sealer: sealer}
}

// Credentials opens the credentials of one of account's connections. A
// connection that is gone is domain.ErrNotFound (the runner fails the step
// with it); sealed credentials that do not open, or open to another type
// than the connection's, are an error wrapping secrets.ErrOpen: the item was
// changed outside the API.
func (o *Opener) Credentials(ctx context.Context, account, connectionID string) (Credentials, error) {
	c, sealed, err := o.store.Sealed(ctx, account, connectionID)
	if err != nil {
		return Credentials{}, err
	}
	plaintext, err := o.sealer.Open(ctx, sealed, EncryptionContext(account, connectionID))
	if err != nil {
		return Credentials{}, fmt.Errorf("connections: open credentials of %s: %w", connectionID, err)
	}
	defer clear(plaintext)
	var form sealedForm
	if err := json.Unmarshal(plaintext, &form); err != nil || form.Type != c.Type {
		return Credentials{}, fmt.Errorf("connections: credentials of %s do not match the connection: %w", connectionID, secrets.ErrOpen)
	}
	return Credentials(form), nil
}
