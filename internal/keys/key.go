// Package keys is API key management: the key model, the rules for issuing,
// rolling, revoking and listing keys (Service), and their HTTP handlers. It
// is the one place a key is built: the routes, wfctl and the test helpers all
// issue keys through Service. Its DynamoDB adapter is store/keysdb; the key
// format itself (checksum, hashing) is internal/apikey.
package keys

import (
	"time"

	"github.com/workflowsapi/workflows/internal/domain"
)

// Status is the state of a key as the API reports it.
type Status string

// The statuses of a key. A rolled key stays active until its grace period
// ends, then reports expired.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusExpired Status = "expired"
)

// Key is a key's metadata. It never holds the key itself nor its hash.
type Key struct {
	ID          string
	AccountID   string
	Name        string
	Prefix      string
	Scopes      domain.Scopes
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
	RateLimitID string // shared by a key and the keys rolled from it
}

// Status reports the key's state at now. Revocation wins over expiry.
func (k Key) Status(now time.Time) Status {
	switch {
	case k.RevokedAt != nil && !now.Before(*k.RevokedAt):
		return StatusRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StatusExpired
	default:
		return StatusActive
	}
}
