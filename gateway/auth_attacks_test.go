package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// aeSecret is the HS256 secret of the test keyset (kid k1).
var aeSecret = []byte(strings.Repeat("s", 32))

func aeB64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// aeHS256 signs header.claims with an HMAC key, whatever the header says.
func aeHS256(header, claims map[string]any, key []byte) string {
	in := aeB64(header) + "." + aeB64(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestJWTAttacksThroughHTTP: hostile tokens on a required route are 401 and
// never reach the upstream.
func TestJWTAttacksThroughHTTP(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		alice := e.loginJSON("alice", "alice-password")
		bob := e.loginJSON("bob", "bob-password")
		now := e.clock.Now()
		claims := func(edit func(map[string]any)) map[string]any {
			c := map[string]any{"iss": "portcullis", "aud": "portcullis", "sub": "alice", "sid": alice.SessionID,
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j1"}
			if edit != nil {
				edit(c)
			}
			return c
		}
		hdr := func(edit func(map[string]any)) map[string]any {
			h := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k1"}
			if edit != nil {
				edit(h)
			}
			return h
		}
		// Sanity: a token crafted like this with the real key is accepted.
		good := aeHS256(hdr(nil), claims(nil), aeSecret)
		wantStatus(t, "crafted good token", e.do("GET", "/api/x", "", bearer(good)...), 200)

		parts := strings.Split(alice.AccessToken, ".")
		var payload map[string]any
		pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(pb, &payload)
		payload["sid"] = bob.SessionID
		payload["sub"] = "bob"
		tampered := parts[0] + "." + aeB64(payload) + "." + parts[2]

		attacks := []struct{ name, token string }{
			{"alg none", aeB64(hdr(func(h map[string]any) { h["alg"] = "none" })) + "." + aeB64(claims(nil)) + "."},
			{"alg none with signature", aeB64(hdr(func(h map[string]any) { h["alg"] = "none" })) + "." + aeB64(claims(nil)) + "." + parts[2]},
			{"alg HS384 header on HS256 key", aeHS256(hdr(func(h map[string]any) { h["alg"] = "HS384" }), claims(nil), aeSecret)},
			{"alg RS256 header", aeHS256(hdr(func(h map[string]any) { h["alg"] = "RS256" }), claims(nil), aeSecret)},
			{"missing typ", aeHS256(hdr(func(h map[string]any) { delete(h, "typ") }), claims(nil), aeSecret)},
			{"typ JWT", aeHS256(hdr(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil), aeSecret)},
			{"assertion typ", aeHS256(hdr(func(h map[string]any) { h["typ"] = tokens.TypeAssertion }), claims(nil), aeSecret)},
			{"expired", aeHS256(hdr(nil), claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), aeSecret)},
			{"no exp", aeHS256(hdr(nil), claims(func(c map[string]any) { delete(c, "exp") }), aeSecret)},
			{"wrong iss", aeHS256(hdr(nil), claims(func(c map[string]any) { c["iss"] = "evil" }), aeSecret)},
			{"wrong aud", aeHS256(hdr(nil), claims(func(c map[string]any) { c["aud"] = "other" }), aeSecret)},
			{"unknown kid", aeHS256(hdr(func(h map[string]any) { h["kid"] = "k2" }), claims(nil), aeSecret)},
			{"no kid", aeHS256(hdr(func(h map[string]any) { delete(h, "kid") }), claims(nil), aeSecret)},
			{"wrong key", aeHS256(hdr(nil), claims(nil), []byte(strings.Repeat("t", 32)))},
			{"jku to attacker key", aeHS256(hdr(func(h map[string]any) { h["jku"] = "https://evil.example/jwks" }), claims(nil), []byte(strings.Repeat("t", 32)))},
			{"crit", aeHS256(hdr(func(h map[string]any) { h["crit"] = []string{"exp"} }), claims(nil), aeSecret)},
			{"forged sid of another user", aeHS256(hdr(nil), claims(func(c map[string]any) { c["sid"] = bob.SessionID }), aeSecret)},
			{"unknown sid", aeHS256(hdr(nil), claims(func(c map[string]any) { c["sid"] = "0000" }), aeSecret)},
			{"tampered payload", tampered},
			{"truncated", alice.AccessToken[:len(alice.AccessToken)-4]},
			{"two segments", parts[0] + "." + parts[1]},
			{"100 KB", strings.Repeat("a", 100<<10)},
			{"9 KB signed", aeHS256(hdr(nil), claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9<<10) }), aeSecret)},
		}
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				before := e.up.count()
				res := e.do("GET", "/api/x", "", bearer(a.token)...)
				wantStatus(t, a.name, res, 401)
				if e.up.count() != before {
					t.Errorf("upstream reached")
				}
				res = e.do("GET", "/api/x", "", "Cookie", e.cookieNames().accessName+"="+a.token)
				if res.StatusCode != 401 && res.StatusCode != 431 && res.StatusCode != 400 {
					t.Errorf("as cookie: %d", res.StatusCode)
				}
			})
		}
		t.Run("1 MB", func(t *testing.T) {
			res := e.do("GET", "/api/x", "", bearer(strings.Repeat("a", 1<<20))...)
			if res.StatusCode != 431 && res.StatusCode != 401 {
				t.Errorf("1 MB token = %d, want 431 or 401", res.StatusCode)
			}
		})
		wantStatus(t, "alice unharmed", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 200)
		wantStatus(t, "bob unharmed", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 200)
	})
}

// TestAlgConfusionThroughHTTP: with an Ed25519 key, an HS256 token keyed
// with the public key is refused.
func TestAlgConfusionThroughHTTP(t *testing.T) {
	ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, keys: ks})
	alice := e.loginJSON("alice", "alice-password")
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	res := e.do("GET", "/.well-known/jwks.json", "")
	res.json(t, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("jwks = %s", res.body)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["x"])
	now := e.clock.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "portcullis", "aud": "portcullis", "sub": "alice",
		"sid": alice.SessionID, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x"})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = ks.ActiveKeyID()
	for _, key := range [][]byte{pub, []byte(set.Keys[0]["x"])} {
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "alg confusion", e.do("GET", "/api/x", "", bearer(s)...), 401)
	}
	wantStatus(t, "real token", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 200)
}
