package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is one public JSON Web Key (RFC 7517/7518/8037).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// buildJWKS publishes every asymmetric key (verify-only keys included, so
// upstreams keep verifying through a rotation); HMAC secrets are never published.
func buildJWKS(keys []*key) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		j := jwk{Use: "sig", Alg: k.alg, Kid: k.id}
		switch pub := k.verify.(type) {
		case []byte:
			continue
		case *rsa.PublicKey:
			j.Kty = "RSA"
			j.N = b64(pub.N.Bytes())
			j.E = b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			e, err := pub.ECDH()
			if err != nil {
				return nil, err
			}
			raw := e.Bytes() // 0x04 || X || Y, each 32 bytes for P-256
			j.Kty, j.Crv = "EC", "P-256"
			j.X, j.Y = b64(raw[1:33]), b64(raw[33:65])
		case ed25519.PublicKey:
			j.Kty, j.Crv = "OKP", "Ed25519"
			j.X = b64(pub)
		default:
			return nil, fmt.Errorf("key %q: unsupported public key %T", k.id, pub)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}
