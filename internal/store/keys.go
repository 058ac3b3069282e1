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
	prefixAccount   = "ACCOUNT#"
	prefixKeyHash   = "APIKEYHASH#"
	prefixKeyIndex  = "APIKEY#"
	prefixRate      = "RATE#"
	sortKeyHash     = "APIKEYHASH"
	sortRateCounter = "RATE"
)

func accountPK(account string) string    { return prefixAccount + account }
func keyHashPK(hash string) string       { return prefixKeyHash + hash }
func keyIndexSK(keyID string) string     { return prefixKeyIndex + keyID }
func rateCounterPK(bucket string) string { return prefixRate + bucket }
func rateWindowAttr(window int64) string { return "n" + strconv.FormatInt(window, 10) }
func keyIDFromIndexSK(sk string) string  { return sk[len(prefixKeyIndex):] }
func isRateWindowAttr(name string) bool  { return len(name) > 1 && name[0] == 'n' && isDigits(name[1:]) }
func rateWindowOfAttr(name string) int64 { n, _ := strconv.ParseInt(name[1:], 10, 64); return n }
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
