package tokens

import "testing"

// BenchmarkVerify measures the per-request cost of access-token verification
// per algorithm: cold (the token's first verification, as after a reload:
// the cache entry is removed each time, which adds one SHA-256 and a lock)
// and cached (every later request with the same token).
func BenchmarkVerify(b *testing.B) {
	ks := fullKeyset(b)
	for _, kid := range []string{"ed", "es", "rs", "hs"} {
		k := ks.keys[kid]
		tok, err := ks.sign(k, TypeAccess, map[string]any{
			"iss": testIssuer, "aud": testAudience, "sub": "alice", "sid": "sid-1",
			"iat": testNow.Unix(), "exp": testNow.Add(10 * 60e9).Unix(), "jti": "jti-1",
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"cold", "cached"} {
			b.Run(kid+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if mode == "cold" {
						ks.cache.remove(tok)
					}
					if _, err := ks.Verify(tok, testNow); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
