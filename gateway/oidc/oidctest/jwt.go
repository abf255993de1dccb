package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// BackChannelLogoutEvent is the member of a logout token's "events" claim
// (OpenID Connect Back-Channel Logout 1.0, section 2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a back-channel logout token signed with the provider's
// key, valid by default: iss, aud=clientID, iat=now, exp=now+2m, a fresh
// jti, the back-channel logout event, and sub and sid when non-empty. mutate
// (if not nil) may change or delete any claim before signing. The header
// has typ logout+jwt and the key's kid.
func (p *Provider) LogoutToken(clientID, subject, sid string, mutate func(claims map[string]any)) string {
	return p.st.logoutToken(clientID, subject, sid, mutate)
}

func (s *storage) logoutToken(clientID, subject, sid string, mutate func(claims map[string]any)) string {
	now := time.Now()
	claims := map[string]any{
		"iss":    s.issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    randomID(),
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if subject != "" {
		claims["sub"] = subject
	}
	if sid != "" {
		claims["sid"] = sid
	}
	if mutate != nil {
		mutate(claims)
	}
	return sign(s.key, s.keyID, "logout+jwt", claims)
}

// SignJWT signs claims, as given, with the provider's key (kid of its JWKS).
func (p *Provider) SignJWT(claims map[string]any) string {
	return sign(p.st.key, p.st.keyID, "JWT", claims)
}

// SignJWTForeign signs claims with a key the provider never published, but
// under the kid of the provider's key, so a verifier picks the provider's
// key and the signature fails.
func (p *Provider) SignJWTForeign(claims map[string]any) string {
	return sign(foreignKey(), p.st.keyID, "JWT", claims)
}

// UnsignedJWT is claims with alg none and an empty signature.
func UnsignedJWT(claims map[string]any) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + base64.RawURLEncoding.EncodeToString(mustJSON(claims)) + "."
}

func sign(key *rsa.PrivateKey, kid, typ string, claims map[string]any) string {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
	if err != nil {
		panic("oidctest: signer: " + err.Error())
	}
	obj, err := signer.Sign(mustJSON(claims))
	if err != nil {
		panic("oidctest: sign: " + err.Error())
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		panic("oidctest: serialize: " + err.Error())
	}
	return token
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("oidctest: claims: " + err.Error())
	}
	return b
}

var foreignKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("oidctest: foreign key: " + err.Error())
	}
	return key
})
