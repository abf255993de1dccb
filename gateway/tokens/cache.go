package tokens

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// Verified-token cache. A client sends the same access token with every
// request for its whole lifetime, and verifying it again (JSON decoding of
// header and claims, and for EdDSA/ES256/RS256 a public-key operation) was
// most of the gateway's per-request CPU after the session check (issue 10).
// Verify therefore remembers the claims of tokens it accepted, keyed by
// SHA-256 of the token's bytes, until their exp.
//
// What this keeps (SPEC §4):
//   - Only tokens that verified completely are cached; anything refused is
//     verified (and refused) again every time, so a forged or altered token
//     never profits from the cache: a different byte is a different key.
//   - The time checks (nbf/iat not in the future, exp with leeway) run on
//     every call, cached or not, with the same results and errors.
//   - The cache belongs to its Keyset: a reload builds a new Keyset, so a
//     removed or replaced key stops verifying at once (the SIGHUP flush).
//   - The session and user checks are the gateway's and still run on every
//     request: revocation is unaffected.
//
// It is bounded (cacheEntries); a full shard first drops expired entries,
// then arbitrary ones, so a flood of distinct valid tokens costs at most a
// re-verification later.
const (
	cacheShards  = 16
	cacheEntries = 16384 // ≈ 3 MiB at ~200 B per entry
)

// cached is a verified token's claims plus the instant from which it is
// valid (the later of nbf and iat; zero when neither is set).
type cached struct {
	claims    Claims
	validFrom time.Time
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]cached
}

type verifyCache struct{ shards [cacheShards]cacheShard }

func newVerifyCache() *verifyCache {
	c := &verifyCache{}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]cached)
	}
	return c
}

func (c *verifyCache) shard(k *[32]byte) *cacheShard { return &c.shards[k[0]%cacheShards] }

func (c *verifyCache) get(k [32]byte) (cached, bool) {
	s := c.shard(&k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	return e, ok
}

// put stores e under k; now and leeway decide which entries are expired
// when the shard is full.
func (c *verifyCache) put(k [32]byte, e cached, now time.Time, leeway time.Duration) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= cacheEntries/cacheShards {
		for key, old := range s.m {
			if !now.Before(old.claims.ExpiresAt.Add(leeway)) {
				delete(s.m, key)
			}
		}
		// Still full: drop arbitrary entries (map order is random) so the
		// next inserts do not sweep again at once.
		for key := range s.m {
			if len(s.m) < cacheEntries/cacheShards*7/8 {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = e
}

func (c *verifyCache) remove(k [32]byte) {
	s := c.shard(&k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// len is the number of entries (tests).
func (c *verifyCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}

// cachedVerify answers Verify from the cache: ok is false on a miss.
func (ks *Keyset) cachedVerify(k [32]byte, now time.Time) (c Claims, ok bool, err error) {
	e, ok := ks.cache.get(k)
	if !ok {
		return Claims{}, false, nil
	}
	if now.Add(ks.leeway).Before(e.validFrom) {
		return Claims{}, true, errNotYet
	}
	if !now.Before(e.claims.ExpiresAt.Add(ks.leeway)) {
		ks.cache.remove(k) // never valid again
		return e.claims, true, ErrExpired
	}
	return e.claims, true, nil
}

// tokenKey is SHA-256 of the token's bytes, read in place: Sum256 neither
// keeps nor changes its input, and a copy would be the hit path's only
// allocation.
func tokenKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
