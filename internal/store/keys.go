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
//	rate counter       RATE#<subject>#<category> RATE                one UpdateItem per request: ADD 1 to the attribute of
//	                                                                 the request's second (s<Unix second in base 36>),
//	                                                                 REMOVE the 60 seconds before the window, return the
//	                                                                 whole item (ALL_NEW) for the limiter to sum; a refused
//	                                                                 request takes its 1 back with a second UpdateItem;
//	                                                                 TTL two minutes after the last request
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

// RateSecondAttr names the attribute counting one second of a bucket: "s" and
// the Unix second in base 36. Base 36 keeps the name at 7 bytes, so a bucket
// busy in every one of its 62 seconds stays well under 1 KB, the size one
// write capacity unit pays for, even with the longest subject (an IPv6
// address) and counts in the thousands.
func RateSecondAttr(second int64) string { return "s" + strconv.FormatInt(second, 36) }

// RateSecondOfAttr reads the second back from a RateSecondAttr; ok is false for
// any other attribute.
func RateSecondOfAttr(name string) (second int64, ok bool) {
	if len(name) < 2 || name[0] != 's' {
		return 0, false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return 0, false
		}
	}
	second, err := strconv.ParseInt(name[1:], 36, 64)
	return second, err == nil
}

// IsLegacyRateWindowAttr reports whether an attribute is a per-minute count
// of the earlier two-window limiter (n<minute number>). A counter item the
// earlier code wrote may still hold one; the limiter removes it.
func IsLegacyRateWindowAttr(name string) bool {
	return len(name) > 1 && name[0] == 'n' && isDigits(name[1:])
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
