package tokens

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// Verified-token cache. A client sends the same access token with every
// request for its whole lifetime, and verifying it again (JSON decoding of
// header and claims, and for EdDSA/ES256/RS256 a public-key operation) was
// most of the gateway's per-request CPU after the session check (issue 10).
// Verify therefore remembers the claims of tokens it accepted until their
// exp, keyed by a 64-bit keyed hash of the token (hash/maphash with a seed
// of this process, about 20 ns for a 300-byte token where SHA-256 took
// about 250 ns) and holding the token itself: a hit requires the whole
// token to be equal, so two tokens with the same hash never share an
// entry, whatever the hash (a colliding token is a miss and is verified on
// its own; its entry then replaces the other's, which costs at most a
// re-verification).
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
	cacheEntries = 16384 // ≈ 8 MiB at ~500 B per entry (claims and the token)
)

// cached is a verified token's claims plus the instant from which it is
// valid (the later of nbf and iat; zero when neither is set), and the
// token they belong to.
type cached struct {
	token     string
	claims    Claims
	validFrom time.Time
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cached
}

type verifyCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

func newVerifyCache() *verifyCache {
	c := &verifyCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cached)
	}
	return c
}

// key is the token's keyed hash and the shard that holds it.
func (c *verifyCache) key(token string) (uint64, *cacheShard) {
	k := maphash.String(c.seed, token)
	return k, &c.shards[k%cacheShards]
}

// get answers the entry of exactly this token.
func (c *verifyCache) get(token string) (cached, bool) {
	k, s := c.key(token)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || e.token != token {
		return cached{}, false
	}
	return e, true
}

// put stores e for token; now and leeway decide which entries are expired
// when the shard is full.
func (c *verifyCache) put(token string, e cached, now time.Time, leeway time.Duration) {
	k, s := c.key(token)
	e.token = strings.Clone(token) // not the request's header string
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

// remove drops token's entry (only its own: a colliding token's stays).
func (c *verifyCache) remove(token string) {
	k, s := c.key(token)
	s.mu.Lock()
	if e, ok := s.m[k]; ok && e.token == token {
		delete(s.m, k)
	}
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
func (ks *Keyset) cachedVerify(token string, now time.Time) (c Claims, ok bool, err error) {
	e, ok := ks.cache.get(token)
	if !ok {
		return Claims{}, false, nil
	}
	if now.Add(ks.leeway).Before(e.validFrom) {
		return Claims{}, true, errNotYet
	}
	if !now.Before(e.claims.ExpiresAt.Add(ks.leeway)) {
		ks.cache.remove(token) // never valid again
		return e.claims, true, ErrExpired
	}
	return e.claims, true, nil
}
