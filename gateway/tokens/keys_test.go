package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
)

func TestNewKeyFormats(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	pkcs1 := writePEM(t, dir, "rsa1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	sec1DER, err := x509.MarshalECPrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := writePEM(t, dir, "sec1.pem", "EC PRIVATE KEY", sec1DER)
	// `openssl ecparam -genkey` writes an EC PARAMETERS block first.
	withParams := filepath.Join(dir, "ecparam.pem")
	params := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	sec1Bytes, _ := os.ReadFile(sec1)
	if err := os.WriteFile(withParams, append([]byte(params), sec1Bytes...), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaPub1 := writePEM(t, dir, "rsapub1.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey))
	cert := selfSigned(t, dir, k.ed)
	tests := []struct {
		name string
		key  config.Key
	}{
		{"PKCS#1 RSA private", config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: pkcs1}},
		{"SEC1 EC private", config.Key{ID: "a", Alg: AlgES256, PrivateKeyFile: sec1}},
		{"SEC1 EC private after EC PARAMETERS", config.Key{ID: "a", Alg: AlgES256, PrivateKeyFile: withParams}},
		{"PKCS#8 Ed25519 private", config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: privPEM(t, dir, "ed.pem", k.ed)}},
		{"PKIX EC public", config.Key{ID: "b", Alg: AlgES256, PublicKeyFile: pubPEM(t, dir, "ec.pub", k.ec.Public())}},
		{"PKCS#1 RSA public", config.Key{ID: "b", Alg: AlgRS256, PublicKeyFile: rsaPub1}},
		{"certificate as public key", config.Key{ID: "b", Alg: AlgEdDSA, PublicKeyFile: cert}},
		{"HS raw secret", config.Key{ID: "a", Alg: AlgHS256, Secret: config.Secret(strings.Repeat("s", 32))}},
		{"HS base64 std", config.Key{ID: "a", Alg: AlgHS256, Secret: config.Secret("base64:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)))}},
		{"HS base64 std unpadded", config.Key{ID: "a", Alg: AlgHS256, Secret: config.Secret("base64:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 33)))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys := []config.Key{tt.key}
			if tt.key.PublicKeyFile != "" {
				keys = append([]config.Key{{ID: "signer", Alg: AlgHS256, Secret: hsSecret}}, keys...)
			}
			if _, err := New(baseConfig(keys...)); err != nil {
				t.Errorf("New = %v, want nil", err)
			}
		})
	}
}

func selfSigned(t *testing.T, dir string, priv ed25519.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, "cert.pem", "CERTIFICATE", der)
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPath := privPEM(t, dir, "ed.pem", k.ed)
	rsPath := privPEM(t, dir, "rs.pem", k.rsa)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a pem file"), 0o600)
	encrypted := filepath.Join(dir, "enc.pem")
	os.WriteFile(encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	twoKeys := filepath.Join(dir, "two.pem")
	a, _ := os.ReadFile(edPath)
	b, _ := os.ReadFile(rsPath)
	os.WriteFile(twoKeys, append(a, b...), 0o600)
	corrupt := writePEM(t, dir, "corrupt.pem", "PRIVATE KEY", []byte("nonsense"))
	hs := config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret}
	tests := []struct {
		name string
		cfg  config.Tokens
		want string
	}{
		{"RSA 1024", baseConfig(config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: privPEM(t, dir, "small.pem", small)}), "1024 bits"},
		{"EC P-384 for ES256", baseConfig(config.Key{ID: "a", Alg: AlgES256, PrivateKeyFile: privPEM(t, dir, "p384.pem", p384)}), "P-256"},
		{"Ed25519 key for RS256", baseConfig(config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: edPath}), "needs an RSA key"},
		{"RSA key for EdDSA", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: rsPath}), "needs an Ed25519 key"},
		{"RSA key for ES256", baseConfig(config.Key{ID: "a", Alg: AlgES256, PublicKeyFile: pubPEM(t, dir, "rs.pub", k.rsa.Public())}, hs), "needs an EC P-256 key"},
		{"short HS secret", baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: "short"}), "at least 32 bytes"},
		{"short base64 secret", baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: config.Secret("base64:" + base64.StdEncoding.EncodeToString(make([]byte, 31)))}), "at least 32 bytes"},
		// One decoder for check and serve (config.Key.SecretBytes): the URL
		// alphabet is refused by both, as docs/authentication.md says.
		{"URL-alphabet base64 secret", baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: config.Secret("base64:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 33)))}), "invalid base64"},
		{"bad base64 secret", baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: "base64:!!!!not-base64!!!!!!!!!!!!!!!!!!!!!"}), "invalid base64"},
		{"empty HS secret", baseConfig(config.Key{ID: "a", Alg: AlgHS256}), "secret: required"},
		{"alg none", baseConfig(config.Key{ID: "a", Alg: "none", Secret: hsSecret}), "alg"},
		{"alg RS512", baseConfig(config.Key{ID: "a", Alg: "RS512", PrivateKeyFile: rsPath}), "alg"},
		{"alg lower case", baseConfig(config.Key{ID: "a", Alg: "hs256", Secret: hsSecret}), "alg"},
		{"missing id", baseConfig(config.Key{Alg: AlgHS256, Secret: hsSecret}), "id: required"},
		{"duplicate id", baseConfig(hs, hs), "duplicate id"},
		{"HS with key file", baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: hsSecret, PrivateKeyFile: rsPath}), "not a key file"},
		{"RS with secret", baseConfig(config.Key{ID: "a", Alg: AlgRS256, Secret: hsSecret}), "not a secret"},
		{"both key files", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: edPath, PublicKeyFile: edPath}), "not both"},
		{"no key file", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA}), "required for alg"},
		{"missing file", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: filepath.Join(dir, "nope.pem")}), "no such file"},
		{"garbage file", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: garbage}), "no PEM key"},
		{"encrypted key", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: encrypted}), "encrypted"},
		{"two keys in one file", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: twoKeys}), "exactly one key"},
		{"corrupt DER", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: corrupt}), "corrupt.pem"},
		{"public key as private_key_file", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PrivateKeyFile: pubPEM(t, dir, "ed.pub", k.ed.Public())}), "use public_key_file"},
		{"private key as public_key_file", baseConfig(hs, config.Key{ID: "a", Alg: AlgEdDSA, PublicKeyFile: edPath}), "use private_key_file"},
		{"only verify keys", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PublicKeyFile: pubPEM(t, dir, "ed2.pub", k.ed.Public())}), "no key with private material"},
		{"no issuer", config.Tokens{Audience: "a", AccessTTL: time.Minute}, "tokens.issuer"},
		{"no audience", config.Tokens{Issuer: "a", AccessTTL: time.Minute}, "tokens.audience"},
		{"no ttl", config.Tokens{Issuer: "a", Audience: "a"}, "tokens.access_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ks, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want error containing %q", ks, err, tt.want)
			}
			if strings.Contains(err.Error(), hsSecret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestErrorsNameTheKeyIndex(t *testing.T) {
	t.Parallel()
	_, err := New(baseConfig(config.Key{ID: "a", Alg: AlgHS256, Secret: hsSecret}, config.Key{ID: "b", Alg: AlgHS256, Secret: "x"}))
	if err == nil || !strings.HasPrefix(err.Error(), "tokens.keys[1].secret: ") {
		t.Errorf("New = %v, want prefix tokens.keys[1].secret", err)
	}
}

// TestErrorsAreFieldErrors: every configuration problem is a
// *config.FieldError with the exact YAML path, so `portcullis check` can
// place it at its line without reading the message.
func TestErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("junk"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	hs := config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret}
	tests := []struct {
		name      string
		cfg       config.Tokens
		path, msg string
	}{
		{"bad private key file", baseConfig(hs, config.Key{ID: "ed", Alg: AlgEdDSA, PrivateKeyFile: junk}),
			"tokens.keys[1].private_key_file", junk + ": no PEM key found"},
		{"bad public key file", baseConfig(hs, config.Key{ID: "ed", Alg: AlgEdDSA, PublicKeyFile: junk}),
			"tokens.keys[1].public_key_file", junk + ": no PEM key found"},
		{"duplicate id", baseConfig(hs, hs, config.Key{ID: "ed", Alg: AlgEdDSA, PrivateKeyFile: missing}),
			"tokens.keys[1].id", `duplicate id "hs"`},
		{"short secret", baseConfig(hs, config.Key{ID: "b", Alg: AlgHS256, Secret: "x"}),
			"tokens.keys[1].secret", "secret must be at least 32 bytes"},
		{"unknown alg", baseConfig(config.Key{ID: "a", Alg: "none"}),
			"tokens.keys[0].alg", `"none" is not one of HS256, HS384, HS512, RS256, ES256, EdDSA`},
		{"verify only", baseConfig(config.Key{ID: "a", Alg: AlgEdDSA, PublicKeyFile: pubPEM(t, dir, "ed.pub", genKeys(t).ed.Public())}),
			"tokens.keys", "no key with private material (secret or private_key_file) to sign with"},
		{"no issuer", config.Tokens{Audience: "a", AccessTTL: time.Minute}, "tokens.issuer", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Path != tt.path || fe.Msg != tt.msg {
				t.Fatalf("New = %#v, want a FieldError %s: %s", err, tt.path, tt.msg)
			}
			if fe.File != "" || fe.Line != 0 {
				t.Errorf("FieldError names %s:%d; tokens knows only the path", fe.File, fe.Line)
			}
		})
	}
	_, err := New(baseConfig(hs, config.Key{ID: "ed", Alg: AlgEdDSA, PrivateKeyFile: missing}))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "tokens.keys[1].private_key_file: ") {
		t.Errorf("New(missing key file) = %v, want tokens.keys[1].private_key_file wrapping ErrNotExist", err)
	}
}

func TestEphemeral(t *testing.T) {
	t.Parallel()
	a, err := New(baseConfig())
	if err != nil {
		t.Fatalf("New(no keys) = %v", err)
	}
	if !a.Ephemeral() {
		t.Error("Ephemeral() = false with no keys")
	}
	b, _ := New(baseConfig())
	tok, _, err := a.Issue("alice", "s", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok, testNow); err != nil {
		t.Errorf("Verify(own token) = %v", err)
	}
	if _, err := b.Verify(tok, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("another ephemeral keyset Verify = %v, want ErrInvalid", err)
	}
	if bytes.Equal(a.DeriveKey("x"), b.DeriveKey("x")) {
		t.Error("two ephemeral keysets derive the same key")
	}
	if fullKeyset(t).Ephemeral() {
		t.Error("Ephemeral() = true with configured keys")
	}
	if _, err := a.Assertion("r", "alice", "s", nil, testNow); err != nil {
		t.Errorf("Assertion with ephemeral Ed25519 = %v", err)
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	ks := fullKeyset(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	byKid := map[string]map[string]string{}
	for _, j := range set.Keys {
		byKid[j["kid"]] = j
		if j["use"] != "sig" {
			t.Errorf("key %s use = %q, want sig", j["kid"], j["use"])
		}
		for _, private := range []string{"d", "p", "q", "k"} {
			if _, ok := j[private]; ok {
				t.Errorf("key %s publishes private member %q", j["kid"], private)
			}
		}
	}
	if _, ok := byKid["hs"]; ok || len(set.Keys) != 4 {
		t.Errorf("JWKS kids = %v, want ed rs es rs-pub (no hs)", byKid)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	ecRaw, _ := k.ec.PublicKey.ECDH()
	want := map[string]map[string]string{
		"ed": {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": b64(k.ed.Public().(ed25519.PublicKey))},
		"rs": {"kty": "RSA", "alg": "RS256", "n": b64(k.rsa.N.Bytes()), "e": "AQAB"},
		"es": {"kty": "EC", "crv": "P-256", "alg": "ES256", "x": b64(ecRaw.Bytes()[1:33]), "y": b64(ecRaw.Bytes()[33:])},
	}
	for kid, fields := range want {
		for n, v := range fields {
			if got := byKid[kid][n]; got != v {
				t.Errorf("JWKS %s.%s = %q, want %q", kid, n, got, v)
			}
		}
	}
	hsOnly, err := New(baseConfig(config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(hsOnly.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS(HMAC only) = %s, want {\"keys\":[]}", got)
	}
}

func TestAssertion(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	// HS first: access tokens use it, but the assertion must use the EC key.
	ks, err := New(baseConfig(
		config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret},
		config.Key{ID: "es", Alg: AlgES256, PrivateKeyFile: privPEM(t, dir, "es.pem", k.ec)},
	))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ks.Assertion("api", "alice", "sid-1", []string{"admin", "staff"}, testNow)
	if err != nil {
		t.Fatalf("Assertion = %v", err)
	}
	h, c, _ := segments(t, tok)
	if h["typ"] != TypeAssertion || h["alg"] != AlgES256 || h["kid"] != "es" {
		t.Errorf("assertion header = %v", h)
	}
	if c["aud"] != "api" || c["sub"] != "alice" || c["sid"] != "sid-1" || c["jti"] == "" {
		t.Errorf("assertion claims = %v", c)
	}
	if iat, exp := c["iat"].(float64), c["exp"].(float64); exp-iat != 60 || int64(iat) != testNow.Unix() {
		t.Errorf("assertion iat/exp = %v/%v, want exp = iat + 60", iat, exp)
	}
	if roles, _ := c["roles"].([]any); len(roles) != 2 || roles[0] != "admin" || roles[1] != "staff" {
		t.Errorf("assertion roles = %v", c["roles"])
	}
	// An upstream verifies it with the public key from the JWKS.
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return k.ec.Public(), nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("api"), jwt.WithIssuer(testIssuer),
		jwt.WithTimeFunc(func() time.Time { return testNow }))
	if err != nil || !parsed.Valid {
		t.Errorf("upstream verification = %v", err)
	}
	// An assertion is never accepted as an access token.
	if _, err := ks.Verify(tok, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify(assertion) = %v, want ErrInvalid", err)
	}
	nilRoles, _ := ks.Assertion("api", "bob", "s", nil, testNow)
	if _, c, _ := segments(t, nilRoles); c["roles"] == nil {
		t.Errorf("nil roles encoded as %v, want []", c["roles"])
	}
	hsOnly, _ := New(baseConfig(config.Key{ID: "hs", Alg: AlgHS256, Secret: hsSecret}))
	if _, err := hsOnly.Assertion("api", "alice", "s", nil, testNow); !errors.Is(err, ErrNoAsymmetricKey) {
		t.Errorf("Assertion(HMAC only) = %v, want ErrNoAsymmetricKey", err)
	}
}

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	dir := t.TempDir()
	pkcs8 := privPEM(t, dir, "rs8.pem", k.rsa)
	pkcs1 := writePEM(t, dir, "rs1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	mk := func(keys ...config.Key) *Keyset {
		t.Helper()
		ks, err := New(baseConfig(keys...))
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	a := mk(config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: pkcs8})
	again := mk(config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: pkcs1}) // same key, other encoding
	other := mk(config.Key{ID: "a", Alg: AlgRS256, PrivateKeyFile: privPEM(t, dir, "rs2.pem", k.rsa2)})
	hs1 := mk(config.Key{ID: "h", Alg: AlgHS256, Secret: hsSecret})
	hs2 := mk(config.Key{ID: "h", Alg: AlgHS256, Secret: hsSecret + "2"})

	if got := a.DeriveKey("refresh"); len(got) != 32 {
		t.Fatalf("DeriveKey length = %d, want 32", len(got))
	}
	if !bytes.Equal(a.DeriveKey("refresh"), again.DeriveKey("refresh")) {
		t.Error("DeriveKey differs for the same key (restart/replica)")
	}
	if bytes.Equal(a.DeriveKey("refresh"), a.DeriveKey("other")) {
		t.Error("DeriveKey ignores the label")
	}
	if bytes.Equal(a.DeriveKey("refresh"), other.DeriveKey("refresh")) {
		t.Error("DeriveKey identical for two RSA keys")
	}
	if bytes.Equal(hs1.DeriveKey("refresh"), hs2.DeriveKey("refresh")) {
		t.Error("DeriveKey identical for two HS secrets")
	}
	if bytes.Equal(hs1.DeriveKey("refresh"), []byte(hsSecret)[:32]) {
		t.Error("DeriveKey returns the secret itself")
	}
}

// TestDeriveKeys: after a rotation (a new key first, the old one kept), the
// old active key's derivation comes second, so what was sealed under it
// still opens; verify-only keys derive nothing.
func TestDeriveKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := genKeys(t)
	oldKey := config.Key{ID: "old", Alg: AlgHS256, Secret: hsSecret}
	newKey := config.Key{ID: "new", Alg: AlgHS256, Secret: hsSecret + "2"}
	verifyOnly := config.Key{ID: "pub", Alg: AlgEdDSA, PublicKeyFile: pubPEM(t, dir, "ed.pub", k.ed.Public())}
	before, err := New(baseConfig(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	after, err := New(baseConfig(newKey, verifyOnly, oldKey))
	if err != nil {
		t.Fatal(err)
	}
	got := after.DeriveKeys("sealer")
	if len(got) != 2 {
		t.Fatalf("DeriveKeys = %d keys, want 2 (the active key, then the old one; none for a verify-only key)", len(got))
	}
	if !bytes.Equal(got[0], after.DeriveKey("sealer")) {
		t.Error("DeriveKeys[0] is not DeriveKey")
	}
	if !bytes.Equal(got[1], before.DeriveKey("sealer")) {
		t.Error("DeriveKeys[1] differs from what the old key derived while it was active")
	}
	if only := before.DeriveKeys("sealer"); len(only) != 1 {
		t.Errorf("one signing key: DeriveKeys = %d keys, want 1", len(only))
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	ks := fullKeyset(t)
	if s := ks.LogValue().String(); strings.Contains(s, hsSecret) || !strings.Contains(s, "ed/EdDSA") {
		t.Errorf("LogValue = %s", s)
	}
}
