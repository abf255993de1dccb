package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
)

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ks := fullKeyset(t)
	tok, c, err := ks.Issue("alice", "sid-1", testNow.Add(300*time.Millisecond))
	if err != nil {
		t.Fatalf("Issue = %v", err)
	}
	if c.Subject != "alice" || c.SessionID != "sid-1" || len(c.ID) < 22 {
		t.Errorf("Issue claims = %+v", c)
	}
	if !c.IssuedAt.Equal(testNow) || !c.ExpiresAt.Equal(testNow.Add(10*time.Minute)) {
		t.Errorf("Issue iat/exp = %v/%v, want %v/%v", c.IssuedAt, c.ExpiresAt, testNow, testNow.Add(10*time.Minute))
	}
	h, claims, _ := segments(t, tok)
	if h["typ"] != TypeAccess || h["kid"] != "ed" || h["alg"] != AlgEdDSA {
		t.Errorf("header = %v, want typ at+jwt, kid ed, alg EdDSA", h)
	}
	for _, name := range []string{"iss", "aud", "sub", "sid", "iat", "exp", "jti"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %q missing in %v", name, claims)
		}
	}
	got, err := ks.Verify(tok, testNow.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if got != c {
		t.Errorf("Verify = %+v, want %+v", got, c)
	}
	_, c2, _ := ks.Issue("alice", "sid-1", testNow)
	if c2.ID == c.ID {
		t.Errorf("two tokens share jti %q", c.ID)
	}
}

// TestEveryAlgorithm signs with each algorithm as the active key and
// verifies through a keyset holding every other key too.
func TestEveryAlgorithm(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	edPath := privPEM(t, dir, "ed.pem", k.ed)
	rsPath := privPEM(t, dir, "rs.pem", k.rsa)
	esPath := privPEM(t, dir, "es.pem", k.ec)
	tests := []struct {
		name string
		key  config.Key
	}{
		{"HS256", config.Key{ID: "a", Alg: AlgHS256, Secret: hsSecret}},
		{"HS384", config.Key{ID: "a", Alg: AlgHS384, Secret: hsSecret + "-384-longer-secret"}},
		{"HS512", config.Key{ID: "a", Alg: AlgHS512, Secret: config.Secret("base64:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 64))))}},
		{"RS256", config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: rsPath}},
		{"ES256", config.Key{ID: "a", Alg: AlgES256, PrivateKeyFile: esPath}},
		{"EdDSA", config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: edPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ks, err := New(baseConfig(tt.key))
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			tok, _, err := ks.Issue("bob", "s", testNow)
			if err != nil {
				t.Fatalf("Issue = %v", err)
			}
			if h, _, _ := segments(t, tok); h["alg"] != tt.name {
				t.Errorf("alg = %v, want %s", h["alg"], tt.name)
			}
			if _, err := ks.Verify(tok, testNow); err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
		})
	}
}

// TestVerifyAttacks covers the JWT attacks of issue 4, each at unit level.
func TestVerifyAttacks(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	ks := fullKeyset(t)
	now := testNow
	good, _, err := ks.Issue("alice", "sid-1", now)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(k.rsa.Public())
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})
	edPub := k.ed.Public().(ed25519.PublicKey)
	attackerPub := k.ed2.Public().(ed25519.PublicKey)

	withHeader := func(extra map[string]any) map[string]any {
		h := validHeader(AlgEdDSA, "ed")
		for n, v := range extra {
			if v == nil {
				delete(h, n)
			} else {
				h[n] = v
			}
		}
		return h
	}
	withClaims := func(extra map[string]any) map[string]any {
		c := validClaims(now)
		for n, v := range extra {
			if v == nil {
				delete(c, n)
			} else {
				c[n] = v
			}
		}
		return c
	}
	edSign := func(h, c map[string]any) string {
		return craft(t, h, c, jwt.SigningMethodEdDSA, k.ed)
	}
	_, goodClaims, parts := segments(t, good)
	forgedSID := func() string {
		c := goodClaims
		c["sid"] = "someone-elses-session"
		return parts[0] + "." + b64json(t, c) + "." + parts[2]
	}()
	tampered := func() string {
		p := []byte(parts[1])
		p[len(p)/2] ^= 1
		return parts[0] + "." + string(p) + "." + parts[2]
	}()
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerPub)}
	esDER := func() string { // ES256 with an ASN.1 signature instead of r||s
		input := b64json(t, validHeader(AlgES256, "es")) + "." + b64json(t, validClaims(now))
		sum := sha256.Sum256([]byte(input))
		der, err := ecdsa.SignASN1(rand.Reader, k.ec, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(der)
	}()

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", craft(t, withHeader(map[string]any{"alg": "none"}), validClaims(now), nil, nil)},
		{"alg none with kid of HS key", craft(t, validHeader("none", "hs"), validClaims(now), nil, nil)},
		{"alg missing", craft(t, withHeader(map[string]any{"alg": nil}), validClaims(now), jwt.SigningMethodEdDSA, k.ed)},
		{"HS256 with RSA public key PEM as secret", craft(t, validHeader(AlgHS256, "rs"), validClaims(now), jwt.SigningMethodHS256, rsaPubPEM)},
		{"HS256 with RSA public key DER as secret", craft(t, validHeader(AlgHS256, "rs-pub"), validClaims(now), jwt.SigningMethodHS256, rsaPubDER)},
		{"HS256 with Ed25519 public key as secret", craft(t, validHeader(AlgHS256, "ed"), validClaims(now), jwt.SigningMethodHS256, []byte(edPub))},
		{"RS256 token under the HS kid", craft(t, validHeader(AlgRS256, "hs"), validClaims(now), jwt.SigningMethodRS256, k.rsa)},
		{"HS384 under the HS256 kid", craft(t, validHeader(AlgHS384, "hs"), validClaims(now), jwt.SigningMethodHS384, []byte(hsSecret))},
		{"ES256 token under the RS kid", craft(t, validHeader(AlgES256, "rs"), validClaims(now), jwt.SigningMethodES256, k.ec)},
		{"ES256 DER signature", esDER},
		{"typ missing", edSign(withHeader(map[string]any{"typ": nil}), validClaims(now))},
		{"typ JWT", edSign(withHeader(map[string]any{"typ": "JWT"}), validClaims(now))},
		{"typ assertion", edSign(withHeader(map[string]any{"typ": TypeAssertion}), validClaims(now))},
		{"typ not a string", edSign(withHeader(map[string]any{"typ": 1}), validClaims(now))},
		{"wrong iss", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"iss": "evil"}))},
		{"missing iss", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"iss": nil}))},
		{"wrong aud", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"aud": "other"}))},
		{"aud array without ours", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"aud": []string{"x", "y"}}))},
		{"missing aud", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"aud": nil}))},
		{"missing exp", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"exp": nil}))},
		{"exp not a number", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"exp": "soon"}))},
		{"nbf in the future", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"nbf": now.Add(time.Minute).Unix()}))},
		{"iat in the future", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"iat": now.Add(time.Minute).Unix()}))},
		{"empty sub", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"sub": ""}))},
		{"missing sid", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"sid": nil}))},
		{"sid not a string", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"sid": 7}))},
		{"missing jti", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"jti": nil}))},
		{"unknown kid", edSign(withHeader(map[string]any{"kid": "nope"}), validClaims(now))},
		{"missing kid", edSign(withHeader(map[string]any{"kid": nil}), validClaims(now))},
		{"kid not a string", edSign(withHeader(map[string]any{"kid": 1}), validClaims(now))},
		{"jwk header with attacker key", craft(t, withHeader(map[string]any{"jwk": attackerJWK}), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"jku header with attacker key", craft(t, withHeader(map[string]any{"jku": "https://evil.example/jwks.json"}), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"x5u header with attacker key", craft(t, withHeader(map[string]any{"x5u": "https://evil.example/cert.pem"}), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"x5c header with attacker key", craft(t, withHeader(map[string]any{"x5c": []string{"MIIB"}}), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"jwk header without kid", craft(t, withHeader(map[string]any{"kid": nil, "jwk": attackerJWK}), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"crit header, correctly signed", edSign(withHeader(map[string]any{"crit": []string{"exp"}}), validClaims(now))},
		{"crit header empty", edSign(withHeader(map[string]any{"crit": []string{}}), validClaims(now))},
		{"forged sid", forgedSID},
		{"tampered payload", tampered},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"other key with the same kid", craft(t, validHeader(AlgEdDSA, "ed"), validClaims(now), jwt.SigningMethodEdDSA, k.ed2)},
		{"other RSA key with the same kid", craft(t, validHeader(AlgRS256, "rs"), validClaims(now), jwt.SigningMethodRS256, k.rsa2)},
		{"other EC key with the same kid", craft(t, validHeader(AlgES256, "es"), validClaims(now), jwt.SigningMethodES256, k.ec2)},
		{"other HS secret with the same kid", craft(t, validHeader(AlgHS256, "hs"), validClaims(now), jwt.SigningMethodHS256, []byte(hsSecret+"x"))},
		{"padded base64", strings.Replace(good, ".", "=.", 1)},
		{"four segments", good + ".x"},
		{"two segments", parts[0] + "." + parts[1]},
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"correctly signed but over 8 KiB", edSign(validHeader(AlgEdDSA, "ed"), withClaims(map[string]any{"pad": strings.Repeat("a", MaxTokenSize)}))},
		{"100 KB", strings.Repeat("a", 100<<10)},
		{"1 MB", good + strings.Repeat("A", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ks.Verify(tt.token, now)
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalid", c, err)
			}
			if c != (Claims{}) {
				t.Errorf("Verify returned claims %+v with ErrInvalid", c)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	ks := fullKeyset(t)
	now := testNow
	withHeader := func(n string, v any) map[string]any {
		h := validHeader(AlgEdDSA, "ed")
		h[n] = v
		return h
	}
	withClaim := func(n string, v any) map[string]any {
		c := validClaims(now)
		c[n] = v
		return c
	}
	tests := []struct {
		name  string
		token string
	}{
		{"typ upper case", craft(t, withHeader("typ", "AT+JWT"), validClaims(now), jwt.SigningMethodEdDSA, k.ed)},
		{"typ application/at+jwt", craft(t, withHeader("typ", "application/at+jwt"), validClaims(now), jwt.SigningMethodEdDSA, k.ed)},
		{"aud array containing ours", craft(t, validHeader(AlgEdDSA, "ed"), withClaim("aud", []string{"x", testAudience}), jwt.SigningMethodEdDSA, k.ed)},
		{"verify-only RSA key", craft(t, validHeader(AlgRS256, "rs-pub"), validClaims(now), jwt.SigningMethodRS256, k.rsa)},
		{"HS key", craft(t, validHeader(AlgHS256, "hs"), validClaims(now), jwt.SigningMethodHS256, []byte(hsSecret))},
		{"ES256 key", craft(t, validHeader(AlgES256, "es"), validClaims(now), jwt.SigningMethodES256, k.ec)},
		{"iat within leeway", craft(t, validHeader(AlgEdDSA, "ed"), withClaim("iat", now.Add(4*time.Second).Unix()), jwt.SigningMethodEdDSA, k.ed)},
		{"no iat", craft(t, validHeader(AlgEdDSA, "ed"), withClaim("iat", nil), jwt.SigningMethodEdDSA, k.ed)},
		{"expired within leeway", craft(t, validHeader(AlgEdDSA, "ed"), withClaim("exp", now.Add(-4*time.Second).Unix()), jwt.SigningMethodEdDSA, k.ed)},
		// jku/jwk/x5u are ignored, not refused: a legitimately signed token still verifies.
		{"jku header ignored", craft(t, withHeader("jku", "https://evil.example/"), validClaims(now), jwt.SigningMethodEdDSA, k.ed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ks.Verify(tt.token, now); err != nil {
				t.Errorf("Verify = %v, want nil", err)
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	t.Parallel()
	ks := fullKeyset(t)
	tok, issued, err := ks.Issue("alice", "sid-9", testNow)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ks.Verify(tok, testNow.Add(10*time.Minute+5*time.Second))
	if !errors.Is(err, ErrExpired) || errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify after exp+leeway = %v, want ErrExpired", err)
	}
	if c != issued {
		t.Errorf("Verify(expired) claims = %+v, want %+v", c, issued)
	}
	if _, err := ks.Verify(tok, testNow.Add(10*time.Minute+4*time.Second)); err != nil {
		t.Errorf("Verify within leeway = %v, want nil", err)
	}
	// An expired token that fails any other check is ErrInvalid, not ErrExpired.
	k := genKeys(t)
	c2 := validClaims(testNow.Add(-time.Hour))
	c2["iss"] = "evil"
	bad := craft(t, validHeader(AlgEdDSA, "ed"), c2, jwt.SigningMethodEdDSA, k.ed)
	if _, err := ks.Verify(bad, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify(expired, wrong iss) = %v, want ErrInvalid", err)
	}
	forged := craft(t, validHeader(AlgEdDSA, "ed"), validClaims(testNow.Add(-time.Hour)), jwt.SigningMethodEdDSA, k.ed2)
	if c, err := ks.Verify(forged, testNow); !errors.Is(err, ErrInvalid) || c != (Claims{}) {
		t.Errorf("Verify(expired, wrong key) = %+v, %v; want ErrInvalid and no claims", c, err)
	}
}

// TestVerifyOversizeIsCheap proves structurally that a huge token is refused
// before parsing: the refusal allocates nothing.
func TestVerifyOversizeIsCheap(t *testing.T) {
	ks := fullKeyset(t)
	for _, size := range []int{MaxTokenSize + 1, 100 << 10, 1 << 20} {
		tok := strings.Repeat("e", size)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := ks.Verify(tok, testNow); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%d bytes) = %v, want ErrInvalid", size, err)
			}
		})
		if allocs != 0 {
			t.Errorf("Verify(%d bytes) allocated %v times, want 0 (refused before parsing)", size, allocs)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	oldKS, err := New(baseConfig(config.Key{ID: "old", Alg: AlgEdDSA, PrivateKeyFile: privPEM(t, dir, "old.pem", k.ed)}))
	if err != nil {
		t.Fatal(err)
	}
	oldTok, _, err := oldKS.Issue("alice", "s1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	// New key first (it signs), old key kept verify-only.
	newKS, err := New(baseConfig(
		config.Key{ID: "new", Alg: AlgES256, PrivateKeyFile: privPEM(t, dir, "new.pem", k.ec)},
		config.Key{ID: "old", Alg: AlgEdDSA, PublicKeyFile: pubPEM(t, dir, "old.pub", k.ed.Public())},
	))
	if err != nil {
		t.Fatal(err)
	}
	if got := newKS.ActiveKeyID(); got != "new" {
		t.Errorf("ActiveKeyID = %q, want new", got)
	}
	if _, err := newKS.Verify(oldTok, testNow); err != nil {
		t.Errorf("Verify(old token) after rotation = %v, want nil", err)
	}
	newTok, _, err := newKS.Issue("alice", "s1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := segments(t, newTok); h["kid"] != "new" {
		t.Errorf("new token kid = %v, want new", h["kid"])
	}
	if _, err := oldKS.Verify(newTok, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("old keyset Verify(new token) = %v, want ErrInvalid", err)
	}
}
