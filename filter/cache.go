package filter

import (
	"bytes"
	"crypto"
	"hash/maphash"
	"time"

	"github.com/scopegate/scopegate/jwt"
)

// Verified-token cache bounds. A repeated token then costs a hash, a map
// lookup and the requirement checks instead of a signature verification
// (milliseconds in wasm, DESIGN §6).
const (
	tokenCacheMaxEntries = 1024
	tokenCacheMaxTTL     = 5 * time.Minute
)

// cachedToken is one verified token. It stays valid until expires, and only
// while its provider's current key set still holds the key that verified it.
type cachedToken struct {
	raw     string
	token   verifiedToken
	keys    *jwt.KeySet // the set the token was verified (or last re-checked) against
	key     *jwt.Key    // the key that verified it; nil when unknown
	expires time.Time
}

// tokenCache is a bounded per-VM map from token to verification result. It
// is only touched from the VM's single thread, so it has no lock.
type tokenCache struct {
	seed    uint64 // random, so keys cannot be chosen from outside
	entries map[uint64]*cachedToken
	max     int
	// order holds the keys of the last max insertions, oldest at next once
	// full: an entry leaves the cache when max newer ones came in after it
	// (or earlier, when get finds it expired or its key gone).
	order []uint64
	next  int
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{seed: maphash.String(maphash.MakeSeed(), "scopegate"), entries: make(map[uint64]*cachedToken), max: max, order: make([]uint64, 0, max)}
}

// get returns the cached verification of raw if it is still good: not past
// its expiry, and its key still present in current (the provider's set now).
func (c *tokenCache) get(raw string, now time.Time, current func(*Provider) *jwt.KeySet) (*verifiedToken, bool) {
	h := c.hash(raw)
	e, ok := c.entries[h]
	if !ok || !sameString(e.raw, raw) {
		return nil, false
	}
	if now.After(e.expires) {
		delete(c.entries, h)
		return nil, false
	}
	if set := current(e.token.provider); set != e.keys {
		// The key set was replaced: keep the entry only if its key survived,
		// same kid and same material (an IdP revoking a key may reuse its kid).
		if !holdsKey(set, e.key) {
			delete(c.entries, h)
			return nil, false
		}
		e.keys = set
	}
	return &e.token, true
}

// holdsKey reports whether set has a key with k's kid and k's public key.
// A kid-less key is never matched: it cannot be told apart from a new one.
func holdsKey(set *jwt.KeySet, k *jwt.Key) bool {
	if set == nil || k == nil || !k.HasKid {
		return false
	}
	for _, have := range set.Keys {
		if have.HasKid && have.Kid == k.Kid && samePublicKey(have.Public, k.Public) {
			return true
		}
	}
	return false
}

// samePublicKey compares two jwt.Key.Public values: the crypto keys by their
// Equal methods, oct secrets byte for byte.
func samePublicKey(a, b any) bool {
	if sa, ok := a.([]byte); ok {
		sb, ok := b.([]byte)
		return ok && bytes.Equal(sa, sb)
	}
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// put stores a verification result. key is the key that verified it (nil
// drops the entry on the next key set change). exp is the token's exp (plus
// the provider's skew) when it has one; entries never outlive tokenCacheMaxTTL.
func (c *tokenCache) put(raw string, t verifiedToken, keys *jwt.KeySet, key *jwt.Key, exp time.Time, hasExp bool, now time.Time) {
	expires := now.Add(tokenCacheMaxTTL)
	if hasExp && exp.Before(expires) {
		expires = exp
	}
	if !expires.After(now) {
		return
	}
	h := c.hash(raw)
	n := len(c.entries)
	c.entries[h] = &cachedToken{raw: raw, token: t, keys: keys, key: key, expires: expires}
	if len(c.entries) > n { // a new key takes a place in order
		if old, ok := c.remember(h); ok && old != h {
			delete(c.entries, old)
		}
	}
}

// hash keys an entry by the token's last 16 bytes, the end of its
// signature: 90 bits or more of it whatever the algorithm, so verified
// tokens (the only ones stored; their signatures are the issuer's to make)
// are told apart as well as by the whole token, for a fixed cost (hashing
// in wasm costs about 3 ns a byte; a signature segment is 43 to 700
// bytes). The map hashes the key again with its own seed. A lookup still
// compares the whole token, once (sameString).
func (c *tokenCache) hash(raw string) uint64 {
	const mul = 0x9e3779b97f4a7c15 // odd: multiplying by it loses no bit
	if len(raw) < 16 {
		h := c.seed
		for i := 0; i < len(raw); i++ {
			h = (h ^ uint64(raw[i])) * mul
		}
		return h
	}
	return ((word(raw, len(raw)-16) ^ c.seed) * mul) ^ word(raw, len(raw)-8)
}

// remember records h as the newest insertion. Once order is full, h takes
// the place of the insertion max places back, whose key it returns (ok):
// the caller drops that entry if the cache still holds it, O(1), where
// looking for the entry that expires first walked the map (~7 us per cache
// miss in wasm, and it let a few old entries outlive newer ones). Every
// entry in the map has its key among the last max insertions, so the map
// never holds more than max entries. A key that comes back after get
// dropped it holds two places in order; the older one then drops it early,
// which only costs that token a verification (unless it is the place the
// key takes again: old == h).
func (c *tokenCache) remember(h uint64) (old uint64, ok bool) {
	if len(c.order) < c.max {
		c.order = append(c.order, h)
		return 0, false
	}
	old = c.order[c.next]
	c.order[c.next] = h
	if c.next++; c.next == c.max {
		c.next = 0
	}
	return old, true
}
