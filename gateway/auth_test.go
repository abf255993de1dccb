package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// TestProxiedCredentials: SPEC §6 steps 4–6 on required, optional and public routes.
func TestProxiedCredentials(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()
		alice := e.loginJSON("alice", "alice-password")
		bob := e.loginJSON("bob", "bob-password")
		dave := e.loginJSON("dave", "dave-password")
		expired := e.loginJSON("alice", "alice-password")
		e.clock.Advance(11 * time.Minute)
		alice = e.loginJSON("alice", "alice-password") // fresh after the clock move
		bob = e.loginJSON("bob", "bob-password")
		dave = e.loginJSON("dave", "dave-password")
		ac := jar.accessName + "=" + alice.AccessToken

		tests := []struct {
			name     string
			method   string
			path     string
			hdr      []string
			want     int
			wantUser string // upstream X-Auth-User when forwarded
			wantCode string // JSON error code when not
		}{
			{"required no token", "GET", "/api/x", nil, 401, "", "missing_token"},
			{"required bearer", "GET", "/api/x", bearer(alice.AccessToken), 200, "alice", ""},
			{"required cookie", "GET", "/api/x", []string{"Cookie", ac}, 200, "alice", ""},
			{"bearer lower case", "GET", "/api/x", []string{"Authorization", "bearer " + alice.AccessToken}, 200, "alice", ""},
			{"invalid bearer beats valid cookie", "GET", "/api/x", append(bearer("nope.nope.nope"), "Cookie", ac), 401, "", "invalid_token"},
			{"empty bearer beats valid cookie", "GET", "/api/x", []string{"Authorization", "Bearer", "Cookie", ac}, 401, "", "invalid_token"},
			{"basic auth then cookie", "GET", "/api/x", []string{"Authorization", "Basic YTpi", "Cookie", ac}, 200, "alice", ""},
			{"duplicate access cookie", "GET", "/api/x", []string{"Cookie", ac + "; " + ac}, 401, "", "invalid_token"},
			{"duplicate access cookie two headers", "GET", "/api/x", []string{"Cookie", ac, "Cookie", ac}, 401, "", "invalid_token"},
			{"expired token", "GET", "/api/x", bearer(expired.AccessToken), 401, "", "invalid_token"},
			{"refresh token as bearer", "GET", "/api/x", bearer(alice.RefreshToken), 401, "", "invalid_token"},
			{"roles any-of", "GET", "/api/x", bearer(bob.AccessToken), 200, "bob", ""},
			{"no role", "GET", "/api/x", bearer(dave.AccessToken), 403, "", "forbidden"},
			{"no roles needed", "GET", "/web", bearer(dave.AccessToken), 200, "dave", ""},
			{"admin only", "GET", "/adminarea", bearer(bob.AccessToken), 403, "", "forbidden"},
			{"admin ok", "GET", "/adminarea", bearer(alice.AccessToken), 200, "alice", ""},
			{"optional anonymous", "GET", "/opt", nil, 200, "", ""},
			{"optional invalid token is anonymous", "GET", "/opt", bearer("bad.bad.bad"), 200, "", ""},
			{"optional expired is anonymous", "GET", "/opt", bearer(expired.AccessToken), 200, "", ""},
			{"optional duplicate cookie is anonymous", "GET", "/opt", []string{"Cookie", ac + "; " + ac}, 200, "", ""},
			{"optional valid", "GET", "/opt", bearer(alice.AccessToken), 200, "alice", ""},
			{"optional spoofed identity", "GET", "/opt", []string{"X-Auth-User", "mallory", "X_Auth_User", "mallory"}, 200, "", ""},
			{"required spoofed identity", "GET", "/api/x", append(bearer(bob.AccessToken), "X-Auth-User", "alice", "X-Auth-Roles", "admin"), 200, "bob", ""},
			{"public ignores token", "GET", "/pub", bearer(alice.AccessToken), 200, "", ""},
			{"public anonymous", "GET", "/pub", nil, 200, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.up.count()
				res := e.do(tt.method, tt.path, "", tt.hdr...)
				wantStatus(t, tt.method+" "+tt.path, res, tt.want)
				if tt.want != 200 {
					if e.up.count() != before {
						t.Errorf("upstream was called on a %d", tt.want)
					}
					if c := res.errCode(t); c != tt.wantCode {
						t.Errorf("error = %q, want %q", c, tt.wantCode)
					}
					return
				}
				h := e.up.last(t).Header
				if got := h.Get("X-Auth-User"); got != tt.wantUser {
					t.Errorf("X-Auth-User = %q, want %q", got, tt.wantUser)
				}
				if tt.wantUser == "" && (h.Get("X-Auth-Roles") != "" || h.Get("X-Auth-Session") != "") {
					t.Errorf("anonymous request carried identity %q %q", h.Get("X-Auth-Roles"), h.Get("X-Auth-Session"))
				}
				if strings.Contains(h.Get("Cookie"), jar.accessName) {
					t.Errorf("upstream got the access cookie")
				}
			})
		}
	})
}

// TestProxied401Challenges: WWW-Authenticate and the browser redirect.
func TestProxied401Challenges(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	res := e.do("GET", "/api/x", "")
	wantStatus(t, "no token", res, 401)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="portcullis"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	res = e.do("GET", "/api/x", "", bearer("a.b.c")...)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="portcullis", error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	res = e.do("GET", "/api/x?q=1", "", "Accept", "text/html")
	wantStatus(t, "browser navigation", res, http.StatusFound)
	if got := res.Header.Get("Location"); got != "/auth/login?rd=%2Fapi%2Fx%3Fq%3D1" {
		t.Errorf("Location = %q", got)
	}
	res = e.do("GET", "/api/x", "", "Sec-Fetch-Mode", "navigate", "Cookie", e.cookieNames().accessName+"=garbage")
	wantStatus(t, "browser navigation with a bad cookie", res, http.StatusFound)
	res = e.do("POST", "/api/x", "", "Accept", "text/html")
	wantStatus(t, "POST is no navigation", res, http.StatusUnauthorized)
}

// TestProxiedCrossOrigin: cookie-authenticated unsafe requests from another
// origin are refused unless the route opts out; bearer requests are exempt.
func TestProxiedCrossOrigin(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		c.Login.TrustedOrigins = []string{"https://trusted.example.com"}
	}})
	alice := e.loginJSON("alice", "alice-password")
	ac := []string{"Cookie", e.cookieNames().accessName + "=" + alice.AccessToken}
	cross := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		want   int
	}{
		{"cookie cross-site POST", "POST", "/api/x", append(append([]string{}, ac...), cross...), 403},
		{"cookie cross-site DELETE", "DELETE", "/api/x", append(append([]string{}, ac...), cross...), 403},
		{"cookie origin only", "POST", "/api/x", append(append([]string{}, ac...), "Origin", "https://evil.example"), 403},
		{"cookie cross-site GET", "GET", "/api/x", append(append([]string{}, ac...), cross...), 200},
		{"cookie same-origin POST", "POST", "/api/x", append(append([]string{}, ac...), "Sec-Fetch-Site", "same-origin"), 200},
		{"cookie no browser headers", "POST", "/api/x", ac, 200},
		{"cookie trusted origin", "POST", "/api/x", append(append([]string{}, ac...), "Origin", "https://trusted.example.com"), 200},
		{"bearer cross-site POST", "POST", "/api/x", append(bearer(alice.AccessToken), cross...), 200},
		{"csrf false route", "POST", "/nocsrf", append(append([]string{}, ac...), cross...), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.method, tt.path, "", tt.hdr...)
			wantStatus(t, tt.name, res, tt.want)
			if tt.want == 403 {
				if c := res.errCode(t); c != "cross_origin" {
					t.Errorf("error = %q, want cross_origin", c)
				}
			}
		})
	}
}

// TestAssertionHeader: with headers.assertion the upstream gets a signed
// assertion whose audience is the route.
func TestAssertionHeader(t *testing.T) {
	ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, keys: ks, edit: func(c *config.Config) { c.Headers.Assertion = "X-Auth-Assertion" }})
	alice := e.loginJSON("alice", "alice-password")
	wantStatus(t, "GET /api", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 200)
	wantAssertion(t, e.up.last(t).Header.Get("X-Auth-Assertion"), "api", Identity{User: "alice", SessionID: alice.SessionID})
	wantStatus(t, "GET /opt anonymous", e.do("GET", "/opt", ""), 200)
	if got, ok := e.up.last(t).Header["X-Auth-Assertion"]; ok {
		t.Errorf("anonymous assertion header = %q, want absent (SPEC §6 step 4)", got)
	}
}

// TestOptionalRouteRefusals: an optional route turns an unverifiable caller
// into an anonymous one, but never a refused cross-origin request, a missing
// role or a store outage (those would forward what must not pass).
func TestOptionalRouteRefusals(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		r := config.DefaultRoute()
		r.Name, r.PathPrefix, r.Upstream, r.Auth, r.Roles = "optadmin", "/optadmin", c.Routes[0].Upstream, config.AuthOptional, []string{"admin"}
		c.Routes = append([]config.Route{r}, c.Routes...)
	}})
	alice, bob := e.loginJSON("alice", "alice-password"), e.loginJSON("bob", "bob-password")
	ac := []string{"Cookie", e.cookieNames().accessName + "=" + alice.AccessToken}
	tests := []struct {
		name, method, path string
		hdr                []string
		want               int
		user               string
	}{
		{"anonymous", "GET", "/optadmin", nil, 200, ""},
		{"invalid token is anonymous", "GET", "/optadmin", bearer("bad.bad.bad"), 200, ""},
		{"role held", "GET", "/optadmin", bearer(alice.AccessToken), 200, "alice"},
		{"role missing", "GET", "/optadmin", bearer(bob.AccessToken), 403, ""},
		{"cookie cross-site POST", "POST", "/opt", append(append([]string{}, ac...), "Sec-Fetch-Site", "cross-site"), 403, ""},
		{"cookie same-origin POST", "POST", "/opt", append(append([]string{}, ac...), "Sec-Fetch-Site", "same-origin"), 200, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.up.count()
			res := e.do(tt.method, tt.path, "", tt.hdr...)
			wantStatus(t, tt.method+" "+tt.path, res, tt.want)
			if tt.want != http.StatusOK {
				if e.up.count() != before {
					t.Errorf("refused request reached the upstream")
				}
				return
			}
			if got := e.up.last(t).Header.Get("X-Auth-User"); got != tt.user {
				t.Errorf("X-Auth-User = %q, want %q", got, tt.user)
			}
		})
	}
}

// TestProxied401InvalidTokenChallenge: an expired token, a revoked session
// and a disabled user all answer 401 with error="invalid_token" (clients
// refresh on it), and a browser navigation goes to the login page instead.
func TestProxied401InvalidTokenChallenge(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		expired := e.loginJSON("alice", "alice-password")
		e.clock.Advance(11 * time.Minute)
		revoked := e.loginJSON("alice", "alice-password")
		wantStatus(t, "logout", e.do("POST", "/auth/logout", "", bearer(revoked.AccessToken)...), http.StatusNoContent)
		disabled := e.loginJSON("bob", "bob-password")
		writeUsersFile(t, e.usersPath, func(name string, u *userEntry) bool {
			u.disabled = u.disabled || name == "bob"
			return true
		})
		if err := e.users.Reload(); err != nil {
			t.Fatalf("users reload: %v", err)
		}
		for _, tt := range []struct{ name, token string }{
			{"expired token", expired.AccessToken},
			{"revoked session", revoked.AccessToken},
			{"disabled user", disabled.AccessToken},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do("GET", "/api/x", "", bearer(tt.token)...)
				wantStatus(t, "GET /api/x", res, http.StatusUnauthorized)
				if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="portcullis", error="invalid_token"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				res = e.do("GET", "/api/x", "", "Sec-Fetch-Mode", "navigate", "Cookie", e.cookieNames().accessName+"="+tt.token)
				wantStatus(t, "navigation", res, http.StatusFound)
				if got := res.Header.Get("Location"); got != "/auth/login?rd=%2Fapi%2Fx" {
					t.Errorf("Location = %q", got)
				}
			})
		}
	})
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
		good := signHS256(hdr(nil), claims(nil), testSecret)
		wantStatus(t, "crafted good token", e.do("GET", "/api/x", "", bearer(good)...), 200)

		parts := strings.Split(alice.AccessToken, ".")
		var payload map[string]any
		pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(pb, &payload)
		payload["sid"] = bob.SessionID
		payload["sub"] = "bob"
		tampered := parts[0] + "." + b64JSON(payload) + "." + parts[2]

		attacks := []struct{ name, token string }{
			{"alg none", b64JSON(hdr(func(h map[string]any) { h["alg"] = "none" })) + "." + b64JSON(claims(nil)) + "."},
			{"alg none with signature", b64JSON(hdr(func(h map[string]any) { h["alg"] = "none" })) + "." + b64JSON(claims(nil)) + "." + parts[2]},
			{"alg HS384 header on HS256 key", signHS256(hdr(func(h map[string]any) { h["alg"] = "HS384" }), claims(nil), testSecret)},
			{"alg RS256 header", signHS256(hdr(func(h map[string]any) { h["alg"] = "RS256" }), claims(nil), testSecret)},
			{"missing typ", signHS256(hdr(func(h map[string]any) { delete(h, "typ") }), claims(nil), testSecret)},
			{"typ JWT", signHS256(hdr(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil), testSecret)},
			{"assertion typ", signHS256(hdr(func(h map[string]any) { h["typ"] = tokens.TypeAssertion }), claims(nil), testSecret)},
			{"expired", signHS256(hdr(nil), claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), testSecret)},
			{"no exp", signHS256(hdr(nil), claims(func(c map[string]any) { delete(c, "exp") }), testSecret)},
			{"wrong iss", signHS256(hdr(nil), claims(func(c map[string]any) { c["iss"] = "evil" }), testSecret)},
			{"wrong aud", signHS256(hdr(nil), claims(func(c map[string]any) { c["aud"] = "other" }), testSecret)},
			{"unknown kid", signHS256(hdr(func(h map[string]any) { h["kid"] = "k2" }), claims(nil), testSecret)},
			{"no kid", signHS256(hdr(func(h map[string]any) { delete(h, "kid") }), claims(nil), testSecret)},
			{"wrong key", signHS256(hdr(nil), claims(nil), []byte(strings.Repeat("t", 32)))},
			{"jku to attacker key", signHS256(hdr(func(h map[string]any) { h["jku"] = "https://evil.example/jwks" }), claims(nil), []byte(strings.Repeat("t", 32)))},
			{"crit", signHS256(hdr(func(h map[string]any) { h["crit"] = []string{"exp"} }), claims(nil), testSecret)},
			{"forged sid of another user", signHS256(hdr(nil), claims(func(c map[string]any) { c["sid"] = bob.SessionID }), testSecret)},
			{"unknown sid", signHS256(hdr(nil), claims(func(c map[string]any) { c["sid"] = "0000" }), testSecret)},
			{"tampered payload", tampered},
			{"truncated", alice.AccessToken[:len(alice.AccessToken)-4]},
			{"two segments", parts[0] + "." + parts[1]},
			{"100 KB", strings.Repeat("a", 100<<10)},
			{"9 KB signed", signHS256(hdr(nil), claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9<<10) }), testSecret)},
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

// TestUnverifiedBearerOnProxiedRoutes: a bearer that does not verify is the
// only credential of a proxied request: 401 on a required csrf route (the
// victim's cookies do not rescue it), anonymous on an optional one.
func TestUnverifiedBearerOnProxiedRoutes(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	victim := &browser{}
	wantStatus(t, "victim login", e.loginForm(victim, "alice", "alice-password", "/"), http.StatusSeeOther)
	for name, auth := range unverifiedBearers(t, e) {
		hdr := append(append(append([]string{}, auth...), "Cookie", e.cookieHeader(victim)), crossSite...)
		before := e.up.count()
		if res := e.do("POST", "/api/x", "", hdr...); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: POST /api/x = %d, want 401", name, res.StatusCode)
		}
		if e.up.count() != before {
			t.Errorf("%s: required route forwarded", name)
		}
		wantStatus(t, name+": POST /opt/x", e.do("POST", "/opt/x", "", hdr...), http.StatusOK)
		for n, v := range e.up.last(t).Header {
			if strings.HasPrefix(normHeader(n), "x-auth-") {
				t.Errorf("%s: optional route forwarded %s = %q, want anonymous", name, n, v)
			}
		}
	}
}

// testSecret is the HS256 secret of the test keyset (kid k1).
var testSecret = []byte(strings.Repeat("s", 32))

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signHS256 signs header.claims with an HMAC key, whatever the header says.
func signHS256(header, claims map[string]any, key []byte) string {
	in := b64JSON(header) + "." + b64JSON(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
