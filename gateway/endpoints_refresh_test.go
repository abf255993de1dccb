package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAuthLifecycle: login → proxied request → refresh → grace → reuse after
// grace revokes → logout → logout-all, against each store.
func TestAuthLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})

		body := `{"username":"alice","password":"alice-password"}`
		res := e.do("POST", "/auth/login", body, "Content-Type", "application/json")
		wantStatus(t, "JSON login", res, http.StatusOK)
		if len(res.Cookies()) != 0 {
			t.Errorf("JSON login set cookies %v, want none", res.Header.Values("Set-Cookie"))
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		var raw map[string]any
		res.json(t, &raw)
		for _, k := range []string{"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in", "session_id"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("login response lacks %q: %s", k, res.body)
			}
		}
		if len(raw) != 6 {
			t.Errorf("login response has %d fields, want 6: %s", len(raw), res.body)
		}
		var tr tokenResponse
		res.json(t, &tr)
		if tr.TokenType != "Bearer" || tr.ExpiresIn != 600 || tr.RefreshExpiresIn <= 0 || tr.SessionID == "" {
			t.Errorf("login response = %+v", tr)
		}
		if !strings.HasPrefix(tr.RefreshToken, tr.SessionID+".") {
			t.Errorf("refresh token does not start with the session id")
		}

		// Proxied request with the bearer token.
		res = e.do("GET", "/api/things", "", bearer(tr.AccessToken)...)
		wantStatus(t, "GET /api with bearer", res, http.StatusOK)
		h := e.up.last(t).Header
		if h.Get("X-Auth-User") != "alice" || h.Get("X-Auth-Roles") != "admin,staff" || h.Get("X-Auth-Session") != tr.SessionID {
			t.Errorf("identity headers = %q %q %q", h.Get("X-Auth-User"), h.Get("X-Auth-Roles"), h.Get("X-Auth-Session"))
		}
		if h.Get("Authorization") != "" {
			t.Errorf("upstream got Authorization %q", h.Get("Authorization"))
		}

		// /auth/me.
		res = e.do("GET", "/auth/me", "", bearer(tr.AccessToken)...)
		wantStatus(t, "GET /auth/me", res, http.StatusOK)
		var me map[string]any
		res.json(t, &me)
		if me["user"] != "alice" || me["session_id"] != tr.SessionID || me["expires_at"] == "" || me["session_expires_at"] == "" {
			t.Errorf("me = %v", me)
		}
		if roles, _ := me["roles"].([]any); len(roles) != 2 {
			t.Errorf("me roles = %v", me["roles"])
		}

		// Refresh with the JSON body.
		res = e.do("POST", "/auth/refresh", `{"refresh_token":"`+tr.RefreshToken+`"}`, "Content-Type", "application/json")
		wantStatus(t, "refresh", res, http.StatusOK)
		if len(res.Cookies()) != 0 {
			t.Errorf("JSON refresh set cookies")
		}
		var tr2 tokenResponse
		res.json(t, &tr2)
		if tr2.RefreshToken == tr.RefreshToken || tr2.SessionID != tr.SessionID || tr2.AccessToken == "" {
			t.Errorf("refresh did not rotate: %+v", tr2)
		}
		wantStatus(t, "GET /api with refreshed token", e.do("GET", "/api/x", "", bearer(tr2.AccessToken)...), http.StatusOK)

		// The previous secret within the grace window returns the same new token.
		res = e.do("POST", "/auth/refresh", `{"refresh_token":"`+tr.RefreshToken+`"}`, "Content-Type", "application/json")
		wantStatus(t, "refresh in grace", res, http.StatusOK)
		var tr3 tokenResponse
		res.json(t, &tr3)
		if tr3.RefreshToken != tr2.RefreshToken {
			t.Errorf("grace refresh returned a different refresh token")
		}

		// After the grace window: theft, the session is revoked.
		e.clock.Advance(31 * time.Second)
		res = e.do("POST", "/auth/refresh", `{"refresh_token":"`+tr.RefreshToken+`"}`, "Content-Type", "application/json")
		wantStatus(t, "reuse after grace", res, http.StatusUnauthorized)
		if c := res.errCode(t); c != "invalid_grant" {
			t.Errorf("reuse error = %q, want invalid_grant", c)
		}
		res = e.do("GET", "/api/x", "", bearer(tr2.AccessToken)...)
		wantStatus(t, "GET /api after reuse", res, http.StatusUnauthorized)
		if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		wantStatus(t, "refresh after reuse", e.do("POST", "/auth/refresh", `{"refresh_token":"`+tr2.RefreshToken+`"}`, "Content-Type", "application/json"), http.StatusUnauthorized)

		// Logout ends one session only.
		a := e.loginJSON("alice", "alice-password")
		b := e.loginJSON("alice", "alice-password")
		wantStatus(t, "logout", e.do("POST", "/auth/logout", "", bearer(a.AccessToken)...), http.StatusNoContent)
		wantStatus(t, "GET /api after logout", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusUnauthorized)
		wantStatus(t, "refresh after logout", e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json"), http.StatusUnauthorized)
		wantStatus(t, "other session after logout", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusOK)
		wantStatus(t, "logout again", e.do("POST", "/auth/logout", "", bearer(a.AccessToken)...), http.StatusNoContent)

		// Logout-all ends the rest.
		c := e.loginJSON("alice", "alice-password")
		wantStatus(t, "logout-all", e.do("POST", "/auth/logout-all", "", bearer(b.AccessToken)...), http.StatusNoContent)
		wantStatus(t, "b after logout-all", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusUnauthorized)
		wantStatus(t, "c after logout-all", e.do("GET", "/api/x", "", bearer(c.AccessToken)...), http.StatusUnauthorized)
		wantStatus(t, "logout-all without session", e.do("POST", "/auth/logout-all", "", bearer(b.AccessToken)...), http.StatusUnauthorized)
	})
}

// TestLogoutCredentials: logout acts on an expired but correctly signed
// access token, on the refresh token (body or cookie), and never on a bare id.
func TestLogoutCredentials(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()

		a := e.loginJSON("bob", "bob-password")
		e.clock.Advance(11 * time.Minute) // access token expired, session alive
		wantStatus(t, "expired token on /api", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusUnauthorized)
		wantStatus(t, "logout with expired token", e.do("POST", "/auth/logout", "", bearer(a.AccessToken)...), http.StatusNoContent)
		wantStatus(t, "refresh after logout", e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json"), http.StatusUnauthorized)

		b := e.loginJSON("bob", "bob-password")
		wantStatus(t, "logout with body refresh token", e.do("POST", "/auth/logout", `{"refresh_token":"`+b.RefreshToken+`"}`, "Content-Type", "application/json"), http.StatusNoContent)
		wantStatus(t, "b after logout", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusUnauthorized)

		c := e.loginJSON("bob", "bob-password")
		res := e.do("POST", "/auth/logout", "", "Cookie", jar.refreshName+"="+c.RefreshToken)
		wantStatus(t, "logout with refresh cookie", res, http.StatusNoContent)
		for _, name := range []string{jar.accessName, jar.refreshName} {
			if ck := res.cookie(name); ck == nil || ck.MaxAge >= 0 {
				t.Errorf("logout did not clear cookie %s", name)
			}
		}
		wantStatus(t, "c after logout", e.do("GET", "/api/x", "", bearer(c.AccessToken)...), http.StatusUnauthorized)

		// A guessed refresh secret or a bare session id revokes nothing.
		d := e.loginJSON("bob", "bob-password")
		forged := d.SessionID + "." + strings.Repeat("A", 43)
		wantStatus(t, "logout with forged refresh", e.do("POST", "/auth/logout", `{"refresh_token":"`+forged+`"}`, "Content-Type", "application/json"), http.StatusNoContent)
		wantStatus(t, "logout with session id", e.do("POST", "/auth/logout", `{"refresh_token":"`+d.SessionID+`"}`, "Content-Type", "application/json"), http.StatusNoContent)
		wantStatus(t, "d survives forged logouts", e.do("GET", "/api/x", "", bearer(d.AccessToken)...), http.StatusOK)
		wantStatus(t, "logout with nothing", e.do("POST", "/auth/logout", ""), http.StatusNoContent)
	})
}

// TestRefreshGuessing: unknown secrets change nothing.
func TestRefreshGuessing(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("bob", "bob-password")
		guesses := []string{
			a.SessionID + "." + strings.Repeat("A", 43),
			a.SessionID + ".",
			a.SessionID,
			"garbage",
			strings.Repeat("x", 4000),
			a.RefreshToken + "x",
			"." + strings.Split(a.RefreshToken, ".")[1],
		}
		for _, g := range guesses {
			b, _ := json.Marshal(map[string]string{"refresh_token": g})
			res := e.do("POST", "/auth/refresh", string(b), "Content-Type", "application/json")
			wantStatus(t, "refresh with a guess", res, http.StatusUnauthorized)
			if c := res.errCode(t); c != "invalid_grant" {
				t.Errorf("guess error = %q, want invalid_grant", c)
			}
		}
		wantStatus(t, "session after guesses", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK)
		res := e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
		wantStatus(t, "real refresh after guesses", res, http.StatusOK)
		var tr tokenResponse
		res.json(t, &tr)
		if tr.SessionID != a.SessionID {
			t.Errorf("refresh moved to session %q", tr.SessionID)
		}
	})
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

// TestConcurrentRefresh: many clients refreshing with the same token at once
// (tabs, retries) all succeed and all get the one token the winning rotation
// issued.
func TestConcurrentRefresh(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("bob", "bob-password")
		const n = 8
		got := make(chan response, n)
		for range n {
			go func() {
				var res response
				defer func() { got <- res }() // also when do fails the test: no hang
				res = do(t, "POST", e.srv.URL+"/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
			}()
		}
		tokens := map[string]bool{}
		for range n {
			res := <-got
			if res.Response == nil {
				t.Fatal("a concurrent refresh failed")
			}
			wantStatus(t, "concurrent refresh", res, 200)
			var tr tokenResponse
			res.json(t, &tr)
			tokens[tr.RefreshToken] = true
		}
		if len(tokens) != 1 {
			t.Errorf("concurrent refreshes answered %d different refresh tokens, want 1", len(tokens))
		}
		if s, g := testutil.ToFloat64(metricsOf(e.g).refreshes.WithLabelValues(refreshSuccess)), testutil.ToFloat64(metricsOf(e.g).refreshes.WithLabelValues(refreshGrace)); s != 1 || g != n-1 {
			t.Errorf("refreshes success %v grace %v, want 1 and %d", s, g, n-1)
		}
	})
}

// TestReplayedLogout: logging out twice is 204 both times and the replay
// touches nothing else, not even a newer session of the same user.
func TestReplayedLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("bob", "bob-password")
		js := []string{"Content-Type", "application/json"}
		body := `{"refresh_token":"` + a.RefreshToken + `"}`
		wantStatus(t, "logout", e.do("POST", "/auth/logout", body, append(js, bearer(a.AccessToken)...)...), http.StatusNoContent)
		b := e.loginJSON("bob", "bob-password")
		wantStatus(t, "replayed logout", e.do("POST", "/auth/logout", body, append(js, bearer(a.AccessToken)...)...), http.StatusNoContent)
		wantStatus(t, "replayed refresh", e.do("POST", "/auth/refresh", body, js...), http.StatusUnauthorized)
		wantStatus(t, "newer session after replays", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusOK)
		if got := testutil.ToFloat64(metricsOf(e.g).revoked.WithLabelValues(revokedLogout)); got != 1 {
			t.Errorf("revoked{logout} = %v, want 1", got)
		}
	})
}
