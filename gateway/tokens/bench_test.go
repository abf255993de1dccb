package tokens

import "testing"

// BenchmarkVerify measures the per-request cost of access-token verification.
func BenchmarkVerify(b *testing.B) {
	ks := fullKeyset(b)
	for _, kid := range []string{"ed", "es", "rs", "hs"} {
		b.Run(kid, func(b *testing.B) {
			k := ks.keys[kid]
			tok, err := ks.sign(k, TypeAccess, map[string]any{
				"iss": testIssuer, "aud": testAudience, "sub": "alice", "sid": "sid-1",
				"iat": testNow.Unix(), "exp": testNow.Add(10 * 60e9).Unix(), "jti": "jti-1",
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.Verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
