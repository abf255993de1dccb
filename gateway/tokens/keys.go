package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
)

// Supported algorithms (SPEC §3 tokens.keys[].alg).
const (
	AlgHS256 = "HS256"
	AlgHS384 = "HS384"
	AlgHS512 = "HS512"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

const (
	minRSABits     = 2048    // smaller RSA keys are refused
	maxKeyFileSize = 1 << 20 // a PEM key file is a few KiB; refuse anything absurd
)

// methods maps each supported alg to its jwt signing method. A token's alg
// must equal its key's alg exactly, so no other method is ever reachable.
var methods = map[string]jwt.SigningMethod{
	AlgHS256: jwt.SigningMethodHS256,
	AlgHS384: jwt.SigningMethodHS384,
	AlgHS512: jwt.SigningMethodHS512,
	AlgRS256: jwt.SigningMethodRS256,
	AlgES256: jwt.SigningMethodES256,
	AlgEdDSA: jwt.SigningMethodEdDSA,
}

// key is one loaded key. sign is nil for a verify-only key.
type key struct {
	id     string
	alg    string
	method jwt.SigningMethod
	sign   any    // []byte, *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
	verify any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	secret []byte // signing material fed to DeriveKey (HS secret or PKCS#8 DER)
}

func (k *key) symmetric() bool { return strings.HasPrefix(k.alg, "HS") }

// Keyset is an immutable set of signing and verification keys plus the
// token parameters (issuer, audience, lifetimes). It is safe for concurrent
// use; a configuration reload builds a new Keyset.
type Keyset struct {
	keys      map[string]*key
	order     []*key
	active    *key // first key with private material: signs access tokens
	asym      *key // first key with asymmetric private material: signs assertions
	issuer    string
	audience  string
	ttl       time.Duration
	leeway    time.Duration
	ephemeral bool
	jwks      []byte
	prk       []byte   // pseudo-random key for DeriveKey
	olderPRKs [][]byte // the other keys with private material, in config order (DeriveKeys)
	parser    *jwt.Parser
	cache     *verifyCache // tokens this Keyset verified (cache.go); a reload starts empty
}

// New loads the keys of cfg and returns the Keyset. With no keys configured
// it generates an ephemeral Ed25519 key (see Ephemeral). A problem with the
// configuration is a *config.FieldError naming its YAML path, such as
// tokens.keys[1].private_key_file (config.Config.Locate finds its line).
func New(cfg config.Tokens) (*Keyset, error) {
	switch {
	case cfg.Issuer == "":
		return nil, config.Errorf("tokens.issuer", "required")
	case cfg.Audience == "":
		return nil, config.Errorf("tokens.audience", "required")
	case cfg.AccessTTL <= 0:
		return nil, config.Errorf("tokens.access_ttl", "must be positive")
	case cfg.Leeway < 0:
		return nil, config.Errorf("tokens.leeway", "must not be negative")
	}
	ks := &Keyset{
		keys:     make(map[string]*key),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.AccessTTL,
		leeway:   cfg.Leeway,
		// Strict base64 so that no two encodings of one token both verify.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
		cache:  newVerifyCache(),
	}
	if len(cfg.Keys) == 0 {
		k, err := ephemeralKey()
		if err != nil {
			return nil, fmt.Errorf("tokens: ephemeral key: %w", err)
		}
		ks.ephemeral = true
		ks.add(k)
	}
	for i, kc := range cfg.Keys {
		base := fmt.Sprintf("tokens.keys[%d].", i)
		k, err := loadKey(base, kc)
		if err != nil {
			return nil, err
		}
		if _, dup := ks.keys[k.id]; dup {
			return nil, config.Errorf(base+"id", "duplicate id %q", k.id)
		}
		ks.add(k)
	}
	if ks.active == nil {
		return nil, config.Errorf("tokens.keys", "no key with private material (secret or private_key_file) to sign with")
	}
	jwks, err := buildJWKS(ks.order)
	if err != nil {
		return nil, fmt.Errorf("tokens: jwks: %w", err)
	}
	ks.jwks = jwks
	// HKDF-style extract: the label-independent PRK depends only on the
	// key's material, so every replica and restart derives the same keys.
	ks.prk = extractPRK(ks.active.secret)
	for _, k := range ks.order {
		if k != ks.active && k.secret != nil {
			ks.olderPRKs = append(ks.olderPRKs, extractPRK(k.secret))
		}
	}
	return ks, nil
}

func extractPRK(secret []byte) []byte {
	m := hmac.New(sha256.New, []byte("portcullis/tokens/derive/v1"))
	m.Write(secret)
	return m.Sum(nil)
}

func (ks *Keyset) add(k *key) {
	ks.keys[k.id] = k
	ks.order = append(ks.order, k)
	if k.sign != nil && ks.active == nil {
		ks.active = k
	}
	if k.sign != nil && !k.symmetric() && ks.asym == nil {
		ks.asym = k
	}
}

// Ephemeral reports whether no keys were configured and a throw-away Ed25519
// key was generated: tokens will not survive a restart and replicas would
// disagree. The caller logs a loud warning.
func (ks *Keyset) Ephemeral() bool { return ks.ephemeral }

// ActiveKeyID returns the kid that signs new access tokens.
func (ks *Keyset) ActiveKeyID() string { return ks.active.id }

// JWKS returns the public keys as a JSON Web Key Set document
// ({"keys":[...]}); HMAC keys are never published, so an HMAC-only set is
// {"keys":[]}. The returned slice must not be modified.
func (ks *Keyset) JWKS() []byte { return ks.jwks }

// DeriveKey returns 32 bytes derived from the active signing key's material
// and label (HMAC-SHA256). It is stable across restarts and replicas that
// share the key, and changes when the active key changes.
func (ks *Keyset) DeriveKey(label string) []byte {
	m := hmac.New(sha256.New, ks.prk)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// DeriveKeys returns DeriveKey(label) first, then the same derivation from
// every other configured key with private material, in config order: what
// was derived under a signing key that is no longer the active one stays
// usable while that key is configured (the OIDC sealer opens with them).
func (ks *Keyset) DeriveKeys(label string) [][]byte {
	out := [][]byte{ks.DeriveKey(label)}
	for _, prk := range ks.olderPRKs {
		m := hmac.New(sha256.New, prk)
		m.Write([]byte(label))
		out = append(out, m.Sum(nil))
	}
	return out
}

// LogValue implements slog.LogValuer without any key material.
func (ks *Keyset) LogValue() slog.Value {
	ids := make([]string, 0, len(ks.order))
	for _, k := range ks.order {
		ids = append(ids, k.id+"/"+k.alg)
	}
	return slog.GroupValue(
		slog.String("active", ks.active.id),
		slog.Any("keys", ids),
		slog.Bool("ephemeral", ks.ephemeral),
	)
}

func ephemeralKey() (*key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &key{
		id:     "ephemeral-" + hex.EncodeToString(sum[:6]),
		alg:    AlgEdDSA,
		method: jwt.SigningMethodEdDSA,
		sign:   priv,
		verify: pub,
		secret: der,
	}, nil
}

// loadKey loads one tokens.keys entry; base is its YAML path with a
// trailing dot ("tokens.keys[1].").
func loadKey(base string, kc config.Key) (*key, error) {
	if kc.ID == "" {
		return nil, config.Errorf(base+"id", "required")
	}
	method, ok := methods[kc.Alg]
	if !ok {
		return nil, config.Errorf(base+"alg", "%q is not one of HS256, HS384, HS512, RS256, ES256, EdDSA", kc.Alg)
	}
	k := &key{id: kc.ID, alg: kc.Alg, method: method}
	if k.symmetric() {
		if kc.PrivateKeyFile != "" || kc.PublicKeyFile != "" {
			return nil, config.Errorf(base+"private_key_file", "alg %s takes secret or secret_file, not a key file", kc.Alg)
		}
		if kc.Secret == "" {
			return nil, config.Errorf(base+"secret", "required for an HS key (secret or secret_file)")
		}
		secret, err := kc.SecretBytes()
		if err != nil {
			return nil, config.Errorf(base+"secret", "%w", err)
		}
		k.sign, k.verify, k.secret = secret, secret, secret
		return k, nil
	}
	if kc.Secret != "" || kc.SecretFile != "" {
		return nil, config.Errorf(base+"secret", "alg %s takes private_key_file or public_key_file, not a secret", kc.Alg)
	}
	switch {
	case kc.PrivateKeyFile != "" && kc.PublicKeyFile != "":
		return nil, config.Errorf(base+"public_key_file", "set private_key_file or public_key_file, not both")
	case kc.PrivateKeyFile != "":
		priv, err := readPrivateKey(kc.PrivateKeyFile)
		if err == nil {
			err = checkKeyType(kc.Alg, priv.Public())
		}
		var der []byte
		if err == nil {
			der, err = x509.MarshalPKCS8PrivateKey(priv)
		}
		if err != nil {
			return nil, config.Errorf(base+"private_key_file", "%w", err)
		}
		k.sign, k.verify, k.secret = priv, priv.Public(), der
	case kc.PublicKeyFile != "":
		pub, err := readPublicKey(kc.PublicKeyFile)
		if err == nil {
			err = checkKeyType(kc.Alg, pub)
		}
		if err != nil {
			return nil, config.Errorf(base+"public_key_file", "%w", err)
		}
		k.verify = pub
	default:
		return nil, config.Errorf(base+"private_key_file", "required for alg %s (or public_key_file to verify only)", kc.Alg)
	}
	return k, nil
}

// checkKeyType enforces that the key material matches alg: the defence
// against algorithm confusion starts at load time.
func checkKeyType(alg string, pub crypto.PublicKey) error {
	switch alg {
	case AlgRS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg RS256 needs an RSA key, got %s", keyKind(pub))
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key is %d bits, need at least %d", k.N.BitLen(), minRSABits)
		}
	case AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg ES256 needs an EC P-256 key, got %s", keyKind(pub))
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("alg ES256 needs curve P-256, got %s", k.Curve.Params().Name)
		}
	case AlgEdDSA:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return fmt.Errorf("alg EdDSA needs an Ed25519 key, got %s", keyKind(pub))
		}
	default:
		return fmt.Errorf("alg %s takes no key file", alg)
	}
	return nil
}

func keyKind(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFileSize)
	}
	return data, nil
}

// pemBlocks returns the PEM blocks of the file that carry key material,
// refusing encrypted keys (the gateway has no passphrase to offer).
func pemBlocks(path string) ([]*pem.Block, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("%s: encrypted keys are not supported", path)
		}
		if b.Type == "EC PARAMETERS" { // written by `openssl ecparam -genkey`
			continue
		}
		blocks = append(blocks, b)
	}
	switch len(blocks) {
	case 0:
		return nil, fmt.Errorf("%s: no PEM key found", path)
	case 1:
		return blocks, nil
	default:
		return nil, fmt.Errorf("%s: %d PEM blocks, want exactly one key", path, len(blocks))
	}
}

func readPrivateKey(path string) (crypto.Signer, error) {
	blocks, err := pemBlocks(path)
	if err != nil {
		return nil, err
	}
	b := blocks[0]
	var k any
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("%s: holds a public key or certificate; use public_key_file", path)
	default:
		return nil, fmt.Errorf("%s: unsupported PEM block %q", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	blocks, err := pemBlocks(path)
	if err != nil {
		return nil, err
	}
	b := blocks[0]
	var k any
	switch b.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			k = c.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		// Refuse rather than derive: a verify-only replica must not hold the private key.
		return nil, fmt.Errorf("%s: holds a private key; use private_key_file", path)
	default:
		return nil, fmt.Errorf("%s: unsupported PEM block %q", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
