package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuthEndpointErrors: the failure codes of SPEC §5, each with its public
// error code and Cache-Control: no-store.
func TestAuthEndpointErrors(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()
		alice := e.loginJSON("alice", "alice-password")
		bob := e.loginJSON("bob", "bob-password")
		js := []string{"Content-Type", "application/json"}
		big := `{"username":"alice","password":"` + strings.Repeat("x", 17<<10) + `"}`
		tests := []struct {
			name     string
			method   string
			path     string
			body     string
			hdr      []string
			want     int
			wantCode string
		}{
			{"login empty object", "POST", "/auth/login", `{}`, js, 400, "invalid_request"},
			{"login no password", "POST", "/auth/login", `{"username":"alice"}`, js, 400, "invalid_request"},
			{"login empty strings", "POST", "/auth/login", `{"username":"","password":""}`, js, 400, "invalid_request"},
			{"login bad JSON", "POST", "/auth/login", `{"username":`, js, 400, "invalid_request"},
			{"login trailing JSON", "POST", "/auth/login", `{"username":"a","password":"b"} {}`, js, 400, "invalid_request"},
			{"login wrong types", "POST", "/auth/login", `{"username":1,"password":true}`, js, 400, "invalid_request"},
			{"login array", "POST", "/auth/login", `[]`, js, 400, "invalid_request"},
			{"login wrong password", "POST", "/auth/login", `{"username":"alice","password":"nope"}`, js, 401, "invalid_credentials"},
			{"login too large", "POST", "/auth/login", big, js, 413, "request_too_large"},
			{"login form too large", "POST", "/auth/login", "username=a&password=" + strings.Repeat("x", 17<<10), []string{"Content-Type", "application/x-www-form-urlencoded"}, 413, ""},
			{"login text/plain", "POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"login no content type", "POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, nil, 415, "unsupported_media_type"},
			{"login multipart", "POST", "/auth/login", "--x--", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"},
			{"login PUT", "PUT", "/auth/login", "", nil, 405, "method_not_allowed"},
			{"unknown endpoint", "GET", "/auth/nope", "", nil, 404, "not_found"},
			{"refresh body and cookie", "POST", "/auth/refresh", `{"refresh_token":"` + alice.RefreshToken + `"}`, append([]string{"Cookie", jar.refreshName + "=" + bob.RefreshToken}, js...), 400, "invalid_request"},
			{"refresh nothing", "POST", "/auth/refresh", "", nil, 400, "invalid_request"},
			{"refresh empty JSON", "POST", "/auth/refresh", `{}`, js, 400, "invalid_request"},
			{"refresh text body", "POST", "/auth/refresh", `x`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"refresh bad JSON", "POST", "/auth/refresh", `{"refresh_token":`, js, 400, "invalid_request"},
			{"refresh garbage", "POST", "/auth/refresh", `{"refresh_token":"garbage"}`, js, 401, "invalid_grant"},
			{"refresh too large", "POST", "/auth/refresh", `{"refresh_token":"` + strings.Repeat("x", 17<<10) + `"}`, js, 413, "request_too_large"},
			{"refresh GET", "GET", "/auth/refresh", "", nil, 405, "method_not_allowed"},
			{"me no token", "GET", "/auth/me", "", nil, 401, "missing_token"},
			{"me bad token", "GET", "/auth/me", "", bearer("x.y.z"), 401, "invalid_token"},
			{"sessions no token", "GET", "/auth/sessions", "", nil, 401, "missing_token"},
			{"logout-all no token", "POST", "/auth/logout-all", "", nil, 401, "missing_token"},
			{"delete other user's session", "DELETE", "/auth/sessions/" + bob.SessionID, "", bearer(alice.AccessToken), 404, "not_found"},
			{"delete unknown session", "DELETE", "/auth/sessions/nope", "", bearer(alice.AccessToken), 404, "not_found"},
			{"delete without token", "DELETE", "/auth/sessions/" + bob.SessionID, "", nil, 401, "missing_token"},
			{"cross-origin login", "POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, append([]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, js...), 403, "cross_origin"},
			{"cross-origin logout by cookie", "POST", "/auth/logout", "", []string{"Cookie", jar.accessName + "=" + bob.AccessToken, "Origin", "https://evil.example"}, 403, "cross_origin"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do(tt.method, tt.path, tt.body, tt.hdr...)
				wantStatus(t, tt.name, res, tt.want)
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}
				if tt.wantCode != "" {
					if c := res.errCode(t); c != tt.wantCode {
						t.Errorf("error = %q, want %q", c, tt.wantCode)
					}
				}
				if len(res.Header.Values("Set-Cookie")) != 0 && tt.path != "/auth/refresh" {
					t.Errorf("error set cookies: %q", res.Header.Values("Set-Cookie"))
				}
			})
		}
		// Nothing above changed anyone's state.
		wantStatus(t, "alice still in", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 200)
		wantStatus(t, "bob still in", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 200)
	})
}

// TestLoginFailuresIdentical: unknown, wrong-password and disabled users
// get the same status and body.
func TestLoginFailuresIdentical(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	var bodies []string
	for _, c := range []struct{ user, pw string }{{"alice", "wrong"}, {"nobody", "alice-password"}, {"carol", "carol-password"}} {
		b, _ := json.Marshal(map[string]string{"username": c.user, "password": c.pw})
		res := e.do("POST", "/auth/login", string(b), "Content-Type", "application/json")
		wantStatus(t, "login "+c.user, res, 401)
		bodies = append(bodies, res.body)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("login failure bodies differ: %q", bodies)
	}
}

// TestBearerExemptOnEndpoints: bearer requests skip the origin check.
func TestBearerExemptOnEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	a := e.loginJSON("alice", "alice-password")
	res := e.do("POST", "/auth/logout", "", append(bearer(a.AccessToken), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")...)
	wantStatus(t, "bearer logout cross-site", res, http.StatusNoContent)
	wantStatus(t, "session ended", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 401)
}

// TestDeleteCurrentSession: deleting the current session is a logout.
func TestDeleteCurrentSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("alice", "alice-password")
		b := e.loginJSON("alice", "alice-password")
		res := e.do("DELETE", "/auth/sessions/"+b.SessionID, "", bearer(a.AccessToken)...)
		wantStatus(t, "delete other own session", res, 204)
		wantStatus(t, "b revoked", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), 401)
		res = e.do("DELETE", "/auth/sessions/"+a.SessionID, "", bearer(a.AccessToken)...)
		wantStatus(t, "delete current", res, 204)
		if ck := res.cookie(e.cookieNames().accessName); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("delete current did not clear the access cookie")
		}
		wantStatus(t, "a revoked", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 401)
	})
}

// TestSessionsList: JSON shape, order and current.
func TestSessionsList(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		a := e.loginJSON("alice", "alice-password", "User-Agent", "first")
		e.clock.Advance(2e9)
		b := e.loginJSON("alice", "alice-password", "User-Agent", "second")
		e.loginJSON("bob", "bob-password")
		res := e.do("GET", "/auth/sessions", "", bearer(a.AccessToken)...)
		wantStatus(t, "sessions", res, 200)
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		res.json(t, &list)
		if len(list.Sessions) != 2 {
			t.Fatalf("sessions = %s", res.body)
		}
		first, second := list.Sessions[0], list.Sessions[1]
		if first["id"] != b.SessionID || second["id"] != a.SessionID {
			t.Errorf("order = %v, %v; want most recently used first", first["id"], second["id"])
		}
		if first["current"] != false || second["current"] != true {
			t.Errorf("current = %v, %v", first["current"], second["current"])
		}
		for _, k := range []string{"id", "created_at", "last_used_at", "ip", "user_agent", "device", "current"} {
			if _, ok := first[k]; !ok {
				t.Errorf("session lacks %q", k)
			}
		}
		if len(first) != 7 || first["user_agent"] != "second" || first["ip"] != "127.0.0.1" {
			t.Errorf("session = %v", first)
		}
	})
}

// TestJWKS: the public keys endpoint.
func TestJWKS(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	res := e.do("GET", "/.well-known/jwks.json", "")
	wantStatus(t, "jwks", res, 200)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	res.json(t, &set)
	if set.Keys == nil || len(set.Keys) != 0 {
		t.Errorf("HMAC-only jwks = %s, want an empty set", res.body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	wantStatus(t, "jwks POST", e.do("POST", "/.well-known/jwks.json", ""), 405)
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
