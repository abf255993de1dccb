package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// Issue 7 item 7 (SPEC §5 cross-origin protection): only a bearer that
// verifies and is the credential used exempts a request from the origin
// check, and a request carrying a bearer never acts on the gateway's cookies.
// Issue 7 item 8 (SPEC §6 steps 4 and 6): anonymous requests carry no
// identity header at all.

// crossSite are the headers a browser adds to a cross-site request.
var crossSite = []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}

// unverifiedBearers are Authorization values that carry a bearer that does
// not verify, in the spellings extractCredential accepts as a bearer.
func unverifiedBearers(t *testing.T, e *env) map[string][]string {
	t.Helper()
	other, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: time.Minute,
		Keys: []config.Key{{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("o", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue("alice", "sid", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"garbage":       {"Authorization", "Bearer x"},
		"lower case":    {"Authorization", "bearer x"},
		"empty":         {"Authorization", "Bearer"},
		"wrong key":     {"Authorization", "Bearer " + forged},
		"malformed":     {"Authorization", "Bearer a b c"},
		"two bearers":   {"Authorization", "Bearer x", "Authorization", "Bearer y"},
		"tab separator": {"Authorization", "Bearer\tx"},
	}
}

// TestUnverifiedBearerExemptsNothing: a cross-site request with the victim's
// cookies and a bearer that does not verify is refused by the origin check
// on every state-changing gateway endpoint, and changes nothing.
func TestUnverifiedBearerExemptsNothing(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	victim := &browser{}
	wantStatus(t, "victim login", e.loginForm(victim, "alice", "alice-password", "/"), http.StatusSeeOther)
	me := e.loginJSON("alice", "alice-password") // a second session, for the revoke endpoints
	cookies := []string{"Cookie", e.cookieHeader(victim)}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	endpoints := []struct{ method, path, body string }{
		{"POST", "/auth/refresh", ""},
		{"POST", "/auth/logout", ""},
		{"POST", "/auth/logout", "rd=/"},
		{"POST", "/auth/logout-all", ""},
		{"DELETE", "/auth/sessions/" + me.SessionID, ""},
		{"POST", "/auth/sessions/" + me.SessionID + "/revoke", ""},
	}
	for name, auth := range unverifiedBearers(t, e) {
		for _, ep := range endpoints {
			hdr := append(append(append([]string{}, auth...), cookies...), crossSite...)
			if ep.body != "" || strings.HasSuffix(ep.path, "/revoke") {
				hdr = append(hdr, form...)
			}
			res := e.do(ep.method, ep.path, ep.body, hdr...)
			if res.StatusCode != http.StatusForbidden || res.errCode(t) != "cross_origin" {
				t.Errorf("%s: %s %s = %d %s, want 403 cross_origin", name, ep.method, ep.path, res.StatusCode, res.body)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("%s: %s %s set cookies %v", name, ep.method, ep.path, res.Header.Values("Set-Cookie"))
			}
		}
	}
	// Nothing happened: both sessions live, the refresh cookie unrotated.
	wantStatus(t, "victim session", e.do("GET", "/auth/me", "", cookies...), http.StatusOK)
	wantStatus(t, "second session", e.do("GET", "/auth/me", "", bearer(me.AccessToken)...), http.StatusOK)
	sameSite := append(append([]string{}, cookies...), "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, "victim's own refresh", e.do("POST", "/auth/refresh", "", sameSite...), http.StatusNoContent)
}

// TestBearerNeverActsOnCookies: a verified bearer exempts the request, but
// the cookies riding along are never used: not rotated, not revoked, not the
// identity of a proxied request.
func TestBearerNeverActsOnCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		victim := &browser{}
		wantStatus(t, "victim login", e.loginForm(victim, "alice", "alice-password", "/"), http.StatusSeeOther)
		mallory := e.loginJSON("bob", "bob-password")
		hdr := append(append(bearer(mallory.AccessToken), "Cookie", e.cookieHeader(victim)), crossSite...)

		// A refresh acts with a refresh token, never with the bearer: the
		// bearer does not exempt it, and its cookies are ignored even where
		// the origin check passes (an API client sends no Origin).
		res := e.do("POST", "/auth/refresh", "", hdr...)
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Errorf("cross-site refresh with a verified bearer = %d %s, cookies %v; want 403, none set",
				res.StatusCode, res.body, res.Header.Values("Set-Cookie"))
		}
		res = e.do("POST", "/auth/refresh", "", append(bearer(mallory.AccessToken), "Cookie", e.cookieHeader(victim))...)
		if res.StatusCode != http.StatusBadRequest || len(res.Cookies()) != 0 {
			t.Errorf("refresh with a bearer and cookies = %d %s, cookies %v; want 400 (no refresh token), none set",
				res.StatusCode, res.body, res.Header.Values("Set-Cookie"))
		}
		res = e.do("POST", "/auth/login", "username=alice&password=alice-password&rd=%2F",
			append(hdr, "Content-Type", "application/x-www-form-urlencoded")...)
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Errorf("cross-site form login with a verified bearer = %d, cookies %v; want 403, none set",
				res.StatusCode, res.Header.Values("Set-Cookie"))
		}
		wantStatus(t, "proxied csrf route acts as the bearer", e.do("POST", "/api/x", "", hdr...), http.StatusOK)
		if u := e.up.last(t).Header.Get("X-Auth-User"); u != "bob" {
			t.Errorf("upstream X-Auth-User = %q, want bob (the bearer's)", u)
		}
		wantStatus(t, "logout with a bearer and cookies", e.do("POST", "/auth/logout", "", hdr...), http.StatusNoContent)
		wantStatus(t, "the bearer's session ended", e.do("GET", "/auth/me", "", bearer(mallory.AccessToken)...), http.StatusUnauthorized)

		cookies := []string{"Cookie", e.cookieHeader(victim), "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"}
		wantStatus(t, "victim session", e.do("GET", "/auth/me", "", cookies...), http.StatusOK)
		wantStatus(t, "victim's refresh cookie unrotated", e.do("POST", "/auth/refresh", "", cookies...), http.StatusNoContent)
	})
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

// TestJSONRefreshWithStaleBearer: an API client that sends its expired
// access token along with a body refresh token keeps working (no Origin:
// not a browser).
func TestJSONRefreshWithStaleBearer(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	a := e.loginJSON("bob", "bob-password")
	e.clock.Advance(11 * time.Minute)
	res := e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`,
		append(bearer(a.AccessToken), "Content-Type", "application/json")...)
	wantStatus(t, "JSON refresh with an expired bearer", res, http.StatusOK)
}

// identityNames are the renamed identity headers of TestAnonymousCarriesNoIdentity.
var identityNames = []string{"x-webauth-user", "x-webauth-groups", "x-webauth-sid", "x-webauth-jwt"}

// TestAnonymousCarriesNoIdentity: public routes and anonymous requests on
// optional routes reach the upstream with none of the identity headers, in
// the renamed configuration too and whatever the client sent; an
// authenticated request gets all of them, empty when there is no value.
func TestAnonymousCarriesNoIdentity(t *testing.T) {
	ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, keys: ks, edit: func(c *config.Config) {
		c.Headers.User, c.Headers.Roles = "X-Webauth-User", "X-Webauth-Groups"
		c.Headers.Session, c.Headers.Assertion = "X-Webauth-Sid", "X-Webauth-Jwt"
	}})
	alice := e.loginJSON("alice", "alice-password")
	dave := e.loginJSON("dave", "dave-password") // no roles
	gone := e.loginJSON("bob", "bob-password")
	wantStatus(t, "logout", e.do("POST", "/auth/logout", "", bearer(gone.AccessToken)...), http.StatusNoContent)
	spoofed := []string{
		"X-Webauth-User", "mallory", "x_webauth_user", "mallory", "X-WEBAUTH-GROUPS", "admin",
		"X_Webauth_Sid", "s", "x-webauth-jwt", "a.b.c", "X-Webauth-User", "second",
	}
	anonymous := []struct {
		name, path string
		auth       []string
	}{
		{"public", "/pub/x", nil},
		{"public with a valid token", "/pub/x", bearer(alice.AccessToken)},
		{"optional without a token", "/opt/x", nil},
		{"optional with a bad token", "/opt/x", bearer("x")},
		{"optional with an ended session", "/opt/x", bearer(gone.AccessToken)},
	}
	for _, tc := range anonymous {
		wantStatus(t, tc.name, e.do("GET", tc.path, "", append(append([]string{}, spoofed...), tc.auth...)...), http.StatusOK)
		for name, v := range e.up.last(t).Header {
			n := normHeader(name)
			if strings.HasPrefix(n, "x-auth-") || strings.HasPrefix(n, "x-webauth-") {
				t.Errorf("%s: upstream saw %s = %q, want absent", tc.name, name, v)
			}
		}
	}
	wantStatus(t, "optional as dave", e.do("GET", "/opt/x", "", append(append([]string{}, spoofed...), bearer(dave.AccessToken)...)...), http.StatusOK)
	h := e.up.last(t).Header
	for _, n := range identityNames {
		if v := h.Values(n); len(v) != 1 {
			t.Errorf("authenticated: %s = %q, want exactly one value", n, v)
		}
	}
	if h.Get("X-Webauth-User") != "dave" || h.Get("X-Webauth-Groups") != "" || h.Get("X-Webauth-Sid") != dave.SessionID || h.Get("X-Webauth-Jwt") == "" {
		t.Errorf("authenticated identity = %v", h)
	}
}
