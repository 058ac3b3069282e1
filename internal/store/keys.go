package store

import "strconv"

// Key builders: every PK/SK the API writes is made here, next to the access
// pattern that reads it.
//
//	item               PK                        SK                  access patterns
//	API key (auth)     APIKEYHASH#<sha256 hex>   APIKEYHASH          authorizer: one strongly consistent GetItem by the
//	                                                                 hash of the presented key; revocation, expiry and
//	                                                                 lastUsedAt are written here, so the authorizer sees
//	                                                                 them on the very next request
//	API key (index)    ACCOUNT#<account>         APIKEY#<key id>     list an account's keys, newest first (Query, then
//	                                                                 BatchGetItem of their auth items); find a key by id
//	                                                                 within its account (GetItem), which is what makes
//	                                                                 another account's key id a 404
//	rate counter       RATE#<subject>#<category> RATE                one UpdateItem per request (ADD on the attribute of
//	                                                                 the current window, n<window number>); TTL after two
//	                                                                 windows
//
// The index item holds the key hash so that revoke and roll, which are given a
// key id, can reach the auth item; the hash never leaves the store.

const (
	prefixAccount = "ACCOUNT#"
	prefixKeyHash = "APIKEYHASH#"
	prefixRate    = "RATE#"
	// PrefixKeyIndex begins the SK of every key index item of an account.
	PrefixKeyIndex = "APIKEY#"
	// SortKeyHash is the SK of a key's auth item.
	SortKeyHash = "APIKEYHASH"
	// SortRateCounter is the SK of a rate counter.
	SortRateCounter = "RATE"
)

// AccountPK is the partition of everything an account owns.
func AccountPK(account string) string { return prefixAccount + account }

// KeyHashPK is the partition of a key's auth item.
func KeyHashPK(hash string) string { return prefixKeyHash + hash }

// KeyIndexSK is the SK of a key's index item in its account.
func KeyIndexSK(keyID string) string { return PrefixKeyIndex + keyID }

// KeyIDFromIndexSK reads the key id back from an index item's SK.
func KeyIDFromIndexSK(sk string) string { return sk[len(PrefixKeyIndex):] }

// RateCounterPK is the partition of one limiter bucket.
func RateCounterPK(bucket string) string { return prefixRate + bucket }

// RateWindowAttr names the attribute counting one window of a bucket.
func RateWindowAttr(window int64) string { return "n" + strconv.FormatInt(window, 10) }

// IsRateWindowAttr reports whether an attribute name is a RateWindowAttr.
func IsRateWindowAttr(name string) bool { return len(name) > 1 && name[0] == 'n' && isDigits(name[1:]) }

// RateWindowOfAttr is the window number of a RateWindowAttr.
func RateWindowOfAttr(name string) int64 { n, _ := strconv.ParseInt(name[1:], 10, 64); return n }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
