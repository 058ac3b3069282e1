// Package authcontext is what the authorizer and the route functions agree
// on: the header that carries a key and the names of the fields the
// authorizer puts in its context for the functions to read. Both sides
// import it and nothing else of each other.
package authcontext

// HeaderAPIKey carries the key. Header names are case-insensitive.
const HeaderAPIKey = "x-api-key"

// The authorizer context's fields. API Gateway hands them to the functions
// as strings.
const (
	AccountID   = "accountId"
	KeyID       = "keyId"
	Scopes      = "scopes" // space-separated
	RateLimitID = "rateLimitId"
	LastUsedAt  = "lastUsedAt" // Unix ms, "0" if never
	ExpiresAt   = "expiresAt"  // Unix ms, "0" if the key does not expire
	// Refused is "true" when the authorizer refused the key but let the
	// request reach the route so that the route answers the 401: only
	// under `sam local`, which turns an authorizer's Unauthorized into a
	// 502 (authorizer.ForSAMLocal). The context then has no account.
	Refused = "refused"
)
