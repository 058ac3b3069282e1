package domain

import "time"

// KeyStatus is the state of an API key as the API reports it.
type KeyStatus string

// The statuses of a key. A rolled key stays active until its grace period
// ends, then reports expired.
const (
	KeyActive  KeyStatus = "active"
	KeyRevoked KeyStatus = "revoked"
	KeyExpired KeyStatus = "expired"
)

// APIKey is a key's metadata. It never holds the key itself nor its hash.
type APIKey struct {
	ID          string
	AccountID   string
	Name        string
	Prefix      string
	Scopes      Scopes
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
	RateLimitID string // shared by a key and the keys rolled from it
}

// Status reports the key's state at now. Revocation wins over expiry.
func (k APIKey) Status(now time.Time) KeyStatus {
	switch {
	case k.RevokedAt != nil && !now.Before(*k.RevokedAt):
		return KeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyExpired
	default:
		return KeyActive
	}
}
