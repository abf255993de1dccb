package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
)

// testKeys are generated once per test binary: RSA generation is slow under -race.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec, ec2   *ecdsa.PrivateKey
	ed, ed2   ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func genKeys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		keysVal.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		k2, e := rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keysVal.rsa2 = k2
		ec1, e := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		ec2, e := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		keysVal.ec, keysVal.ec2 = ec1, ec2
		_, ed1, e := ed25519.GenerateKey(rand.Reader)
		must(e)
		_, ed2, e := ed25519.GenerateKey(rand.Reader)
		must(e)
		keysVal.ed, keysVal.ed2 = ed1, ed2
		if err != nil {
			panic(err)
		}
	})
	return keysVal
}

const (
	testIssuer   = "portcullis-test"
	testAudience = "apps"
	hsSecret     = "0123456789abcdef0123456789abcdef-hs"
)

// writePEM writes one PEM block into dir and returns the path.
func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func privPEM(t testing.TB, dir, name string, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PRIVATE KEY", der)
}

func pubPEM(t testing.TB, dir, name string, k crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "PUBLIC KEY", der)
}

func baseConfig(keys ...config.Key) config.Tokens {
	return config.Tokens{
		Issuer:    testIssuer,
		Audience:  testAudience,
		AccessTTL: 10 * time.Minute,
		Leeway:    5 * time.Second,
		Keys:      keys,
	}
}

// fullKeyset has one key of every algorithm; the Ed25519 key is active.
func fullKeyset(t testing.TB) *Keyset {
	t.Helper()
	k := genKeys(t)
	dir := t.TempDir()
	ks, err := New(baseConfig(
		config.Key{ID: "ed", Alg: AlgEdDSA, PrivateKeyFile: privPEM(t, dir, "ed.pem", k.ed)},
		config.Key{ID: "rs", Alg: AlgRS256, PrivateKeyFile: privPEM(t, dir, "rs.pem", k.rsa)},
		config.Key{ID: "es", Alg: AlgES256, PrivateKeyFile: privPEM(t, dir, "es.pem", k.ec)},
		config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret},
		config.Key{ID: "rs-pub", Alg: AlgRS256, PublicKeyFile: pubPEM(t, dir, "rs-pub.pem", k.rsa.Public())},
	))
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return ks
}

// validClaims is a claim set Verify accepts at time now.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "alice",
		"sid": "sid-1",
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": "jti-1",
	}
}

func validHeader(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "typ": TypeAccess, "kid": kid}
}

func b64json(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// craft builds a token with an arbitrary header and claims, signed by method
// with key (method nil: empty signature).
func craft(t testing.TB, header, claims map[string]any, method jwt.SigningMethod, key any) string {
	t.Helper()
	input := b64json(t, header) + "." + b64json(t, claims)
	if method == nil {
		return input + "."
	}
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// segments splits a token and decodes its header and claims.
func segments(t testing.TB, tok string) (header, claims map[string]any, parts []string) {
	t.Helper()
	parts = strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims, parts
}
