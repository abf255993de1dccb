package tokens

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
)

// testNowCache is the instant the cache tests sign at.
var testNowCache = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// TestVerifyCacheKeepsTimeChecks: a cached token gets exactly the answers
// an uncached verification gives at every instant (before iat − leeway,
// inside its life, at and after exp + leeway), and an expired entry leaves
// the cache.
func TestVerifyCacheKeepsTimeChecks(t *testing.T) {
	ks := fullKeyset(t)
	claims := validClaims(testNowCache)
	claims["nbf"] = testNowCache.Add(time.Minute).Unix() // later than iat: it decides
	exp := testNowCache.Add(5 * time.Minute)
	tok := craft(t, validHeader("HS256", "hs"), claims, jwt.SigningMethodHS256, []byte(hsSecret))
	if _, err := ks.Verify(tok, testNowCache.Add(2*time.Minute)); err != nil || ks.cache.len() != 1 {
		t.Fatalf("Verify = %v, cache holds %d; want nil and 1 entry", err, ks.cache.len())
	}
	for _, at := range []time.Time{
		testNowCache, testNowCache.Add(55 * time.Second), testNowCache.Add(2 * time.Minute),
		exp.Add(4 * time.Second), exp.Add(5 * time.Second), exp.Add(time.Hour),
	} {
		got, gotErr := ks.Verify(tok, at)
		fresh := *ks
		fresh.cache = newVerifyCache()
		want, wantErr := fresh.Verify(tok, at)
		if got != want || !errors.Is(gotErr, wantErr) || !errors.Is(wantErr, gotErr) {
			t.Errorf("at %s: cached = %+v, %v; uncached = %+v, %v", at.Sub(testNowCache), got, gotErr, want, wantErr)
		}
	}
	if n := ks.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after the token expired, want 0", n)
	}
}

// TestVerifyCacheRefusesAltered: only tokens that verified are cached, and a
// token one byte away from a cached one is verified (and refused) on its own.
func TestVerifyCacheRefusesAltered(t *testing.T) {
	ks := fullKeyset(t)
	tok := craft(t, validHeader("HS256", "hs"), validClaims(testNowCache), jwt.SigningMethodHS256, []byte(hsSecret))
	if _, err := ks.Verify(tok, testNowCache); err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	bad := []string{
		flip(tok, len(tok)-2), flip(tok, 3), tok[:len(tok)-1], tok + "A", tok + ".",
		craft(t, validHeader("HS256", "hs"), validClaims(testNowCache), jwt.SigningMethodHS256, []byte(hsSecret+"x")),
		craft(t, map[string]any{"alg": "none", "typ": TypeAccess, "kid": "hs"}, validClaims(testNowCache), nil, nil),
	}
	for round := range 2 { // the second round would hit a cached refusal
		for i, b := range bad {
			if _, err := ks.Verify(b, testNowCache); !errors.Is(err, ErrInvalid) {
				t.Errorf("round %d, altered token %d: Verify = %v, want ErrInvalid", round, i, err)
			}
		}
	}
	if n := ks.cache.len(); n != 1 {
		t.Errorf("cache holds %d entries, want only the valid token", n)
	}
}

// TestVerifyCacheBounded: distinct valid tokens beyond the bound do not grow
// the cache past it, and every one still verifies.
func TestVerifyCacheBounded(t *testing.T) {
	ks := fullKeyset(t)
	for i := range cacheEntries + cacheEntries/4 {
		c := validClaims(testNowCache)
		c["jti"] = "jti-" + strconv.Itoa(i)
		tok := craft(t, validHeader("HS256", "hs"), c, jwt.SigningMethodHS256, []byte(hsSecret))
		if _, err := ks.Verify(tok, testNowCache); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if n := ks.cache.len(); n > cacheEntries || n < cacheEntries/2 {
		t.Errorf("cache holds %d entries, want between %d and %d", n, cacheEntries/2, cacheEntries)
	}
}

// TestVerifyCachePerKeyset: a reload builds a new Keyset; a token the old
// one cached does not verify under a new one without its key.
func TestVerifyCachePerKeyset(t *testing.T) {
	old := fullKeyset(t)
	tok := craft(t, validHeader("HS256", "hs"), validClaims(testNowCache), jwt.SigningMethodHS256, []byte(hsSecret))
	if _, err := old.Verify(tok, testNowCache); err != nil {
		t.Fatal(err)
	}
	reloaded, err := New(baseConfig(config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret + "-rotated"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reloaded.Verify(tok, testNowCache); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify after the key was removed = %v, want ErrInvalid", err)
	}
}

// TestVerifyCacheHashCollision: the cache is keyed by a 64-bit hash, so a
// hit must be the same token, not only the same hash. Another token's
// verified entry planted under a token's key (what a hash collision would
// look like) is never its answer: a forged token is still refused, a valid
// one gets its own claims, and removing it leaves the other's entry alone.
func TestVerifyCacheHashCollision(t *testing.T) {
	ks := fullKeyset(t)
	victimClaims := validClaims(testNowCache)
	victimClaims["sub"], victimClaims["sid"] = "victim", "victim-session"
	victim := craft(t, validHeader("HS256", "hs"), victimClaims, jwt.SigningMethodHS256, []byte(hsSecret))
	if _, err := ks.Verify(victim, testNowCache); err != nil {
		t.Fatal(err)
	}
	vk, vs := ks.cache.key(victim)
	entry := vs.m[vk]
	plant := func(token string) {
		k, s := ks.cache.key(token)
		s.mu.Lock()
		s.m[k] = entry
		s.mu.Unlock()
	}
	forged := craft(t, validHeader("HS256", "hs"), validClaims(testNowCache), jwt.SigningMethodHS256, []byte(hsSecret+"x"))
	plant(forged)
	for range 2 {
		if c, err := ks.Verify(forged, testNowCache); !errors.Is(err, ErrInvalid) {
			t.Fatalf("forged token under a colliding entry: Verify = %+v, %v; want ErrInvalid", c, err)
		}
	}
	own := craft(t, validHeader("HS256", "hs"), validClaims(testNowCache), jwt.SigningMethodHS256, []byte(hsSecret))
	plant(own)
	c, err := ks.Verify(own, testNowCache)
	if err != nil || c.Subject == "victim" || c.SessionID == "victim-session" {
		t.Fatalf("valid token under a colliding entry: Verify = %+v, %v; want its own claims", c, err)
	}
	ks.cache.remove(forged) // its key holds another token's entry: kept
	if _, ok := ks.cache.get(victim); !ok {
		t.Error("the victim's own entry is gone")
	}
	if k, s := ks.cache.key(forged); s.m[k].token != victim {
		t.Error("remove(forged) dropped an entry that was not its token's")
	}
}
