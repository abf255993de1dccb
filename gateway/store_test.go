package gateway

import (
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestStoreOutage: a paused redis-server (SIGSTOP) turns every auth endpoint
// and every authenticated proxied request into 503 + Retry-After — never a
// 401 or invalid_grant — and the gateway recovers on resume without restart.
func TestStoreOutage(t *testing.T) {
	e := newEnv(t, envOptions{store: redisStore, edit: trustLoopback})
	jar := e.cookieNames()
	alice := e.loginJSON("alice", "alice-password")
	b := &browser{}
	wantStatus(t, "form login", e.loginForm(b, "bob", "bob-password", "/"), http.StatusSeeOther)

	e.redis.Pause()
	resumed := false
	defer func() {
		if !resumed {
			e.redis.Resume()
		}
	}()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    []string
	}{
		{"proxied required bearer", "GET", "/api/x", "", bearer(alice.AccessToken)},
		{"proxied required cookie", "GET", "/api/x", "", []string{"Cookie", e.cookieHeader(b)}},
		{"proxied optional with token", "GET", "/opt", "", bearer(alice.AccessToken)},
		{"JSON login", "POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, []string{"Content-Type", "application/json"}},
		{"JSON login wrong password", "POST", "/auth/login", `{"username":"alice","password":"nope"}`, []string{"Content-Type", "application/json"}},
		{"JSON refresh", "POST", "/auth/refresh", `{"refresh_token":"` + alice.RefreshToken + `"}`, []string{"Content-Type", "application/json"}},
		{"cookie refresh", "POST", "/auth/refresh", "", []string{"Cookie", e.cookieHeader(b)}},
		{"me", "GET", "/auth/me", "", bearer(alice.AccessToken)},
		{"sessions", "GET", "/auth/sessions", "", bearer(alice.AccessToken)},
		{"logout", "POST", "/auth/logout", "", bearer(alice.AccessToken)},
		{"logout-all", "POST", "/auth/logout-all", "", bearer(alice.AccessToken)},
		{"delete session", "DELETE", "/auth/sessions/" + alice.SessionID, "", bearer(alice.AccessToken)},
		{"verify", "GET", "/auth/verify", "", append(bearer(alice.AccessToken), "X-Forwarded-Uri", "/api/x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.method, tt.path, tt.body, tt.hdr...)
			wantStatus(t, tt.name, res, http.StatusServiceUnavailable)
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			if c := res.errCode(t); c != "temporarily_unavailable" {
				t.Errorf("error = %q, want temporarily_unavailable", c)
			}
			if ck := res.cookie(jar.refreshName); ck != nil {
				t.Errorf("outage answer touched the refresh cookie: %v", ck)
			}
		})
	}
	t.Run("form login page", func(t *testing.T) {
		form := url.Values{"username": {"alice"}, "password": {"alice-password"}}.Encode()
		res := e.do("POST", "/auth/login", form, "Content-Type", "application/x-www-form-urlencoded")
		wantStatus(t, "form login", res, http.StatusServiceUnavailable)
		if res.Header.Get("Retry-After") == "" || res.cookie(jar.accessName) != nil {
			t.Errorf("form login during outage: Retry-After %q, cookies %v", res.Header.Get("Retry-After"), res.Cookies())
		}
	})
	t.Run("sessions page", func(t *testing.T) {
		res := e.do("GET", "/auth/sessions", "", "Accept", "text/html", "Cookie", e.cookieHeader(b))
		wantStatus(t, "sessions page", res, http.StatusServiceUnavailable)
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Retry-After") == "" {
			t.Errorf("sessions page outage: %q Retry-After %q", res.Header.Get("Content-Type"), res.Header.Get("Retry-After"))
		}
	})
	t.Run("form logout", func(t *testing.T) {
		res := e.do("POST", "/auth/logout", "rd=/", "Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b))
		wantStatus(t, "form logout", res, http.StatusServiceUnavailable)
		if len(res.Cookies()) != 0 {
			t.Errorf("form logout during outage touched cookies")
		}
	})
	t.Run("login page silent refresh", func(t *testing.T) {
		res := e.do("GET", "/auth/login?rd=/x", "", "Cookie", e.cookieHeader(b))
		wantStatus(t, "login page", res, http.StatusServiceUnavailable)
		if res.cookie(jar.refreshName) != nil {
			t.Errorf("outage cleared the refresh cookie")
		}
	})
	wantStatus(t, "public route during outage", e.do("GET", "/pub", ""), http.StatusOK)
	wantStatus(t, "optional anonymous during outage", e.do("GET", "/opt", ""), http.StatusOK)
	if got := testutil.ToFloat64(authMetricsOf(e.g).store.up); got != 0 {
		t.Errorf("session_store_up = %v during outage, want 0", got)
	}

	e.redis.Resume()
	resumed = true
	wantStatus(t, "proxied after resume", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), http.StatusOK)
	wantStatus(t, "cookie after resume", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), http.StatusOK)
	e.loginJSON("alice", "alice-password")
	if got := testutil.ToFloat64(authMetricsOf(e.g).store.up); got != 1 {
		t.Errorf("session_store_up = %v after resume, want 1", got)
	}
}

// TestReplicasShareRevocation: two gateways on one Redis; a logout on one is
// refused on the other at the very next request.
func TestReplicasShareRevocation(t *testing.T) {
	e1 := newEnv(t, envOptions{store: redisStore})
	e2 := newEnv(t, envOptions{store: redisStore, keys: e1.keys, shared: e1.newStore, clock: e1.clock, users: e1.users, usersAt: e1.usersPath})
	a := e1.loginJSON("alice", "alice-password")
	wantStatus(t, "replica 2 accepts", e2.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK)
	wantStatus(t, "logout on replica 1", e1.do("POST", "/auth/logout", "", bearer(a.AccessToken)...), http.StatusNoContent)
	wantStatus(t, "replica 2 refuses", e2.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusUnauthorized)

	b := e2.loginJSON("bob", "bob-password")
	c := e1.loginJSON("bob", "bob-password")
	wantStatus(t, "logout-all on replica 2", e2.do("POST", "/auth/logout-all", "", bearer(b.AccessToken)...), http.StatusNoContent)
	wantStatus(t, "replica 1 refuses", e1.do("GET", "/api/x", "", bearer(c.AccessToken)...), http.StatusUnauthorized)

	// A refresh on one replica, the grace answer on the other.
	d := e1.loginJSON("dave", "dave-password")
	r1 := e1.do("POST", "/auth/refresh", `{"refresh_token":"`+d.RefreshToken+`"}`, "Content-Type", "application/json")
	r2 := e2.do("POST", "/auth/refresh", `{"refresh_token":"`+d.RefreshToken+`"}`, "Content-Type", "application/json")
	wantStatus(t, "refresh on replica 1", r1, 200)
	wantStatus(t, "grace refresh on replica 2", r2, 200)
	var t1, t2 tokenResponse
	r1.json(t, &t1)
	r2.json(t, &t2)
	if t1.RefreshToken != t2.RefreshToken {
		t.Errorf("replicas answered different refresh tokens within the grace window")
	}
}

// TestUsersReload: role changes apply on the next request; a disabled user
// or a changed password ends the session (revoked, user_disabled).
func TestUsersReload(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		bob := e.loginJSON("bob", "bob-password")
		alice := e.loginJSON("alice", "alice-password")
		reload := func(edit func(name string, u *userEntry) bool) {
			t.Helper()
			writeUsersFile(t, e.usersPath, edit)
			if err := e.users.Reload(); err != nil {
				t.Fatalf("users reload: %v", err)
			}
		}
		wantStatus(t, "bob on adminarea", e.do("GET", "/adminarea", "", bearer(bob.AccessToken)...), 403)

		reload(func(name string, u *userEntry) bool {
			if name == "bob" {
				u.roles = []string{"admin"}
			}
			return true
		})
		wantStatus(t, "bob promoted", e.do("GET", "/adminarea", "", bearer(bob.AccessToken)...), 200)
		if got := e.up.last(t).Header.Get("X-Auth-Roles"); got != "admin" {
			t.Errorf("X-Auth-Roles = %q, want admin", got)
		}

		reload(func(name string, u *userEntry) bool {
			if name == "bob" {
				u.disabled = true
			}
			return true
		})
		res := e.do("GET", "/api/x", "", bearer(bob.AccessToken)...)
		wantStatus(t, "bob disabled", res, 401)
		if testutil.ToFloat64(authMetricsOf(e.g).revoked.WithLabelValues(revokedUserDisabled)) != 1 {
			t.Errorf("sessions_revoked_total{user_disabled} != 1")
		}
		reload(nil) // bob enabled again: the session stays revoked
		wantStatus(t, "bob re-enabled, old session", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 401)
		wantStatus(t, "bob re-enabled, old refresh", e.do("POST", "/auth/refresh", `{"refresh_token":"`+bob.RefreshToken+`"}`, "Content-Type", "application/json"), 401)

		// Password change: older sessions end, the new password works.
		reload(func(name string, u *userEntry) bool {
			if name == "alice" {
				u.hash = testHash(t, "new-alice-password")
			}
			return true
		})
		wantStatus(t, "alice after password change", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 401)
		wantStatus(t, "alice refresh after password change", e.do("POST", "/auth/refresh", `{"refresh_token":"`+alice.RefreshToken+`"}`, "Content-Type", "application/json"), 401)
		res = e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, "Content-Type", "application/json")
		wantStatus(t, "old password", res, 401)
		a2 := e.loginJSON("alice", "new-alice-password")
		wantStatus(t, "alice new session", e.do("GET", "/api/x", "", bearer(a2.AccessToken)...), 200)

		// A removed user is like a disabled one.
		dave := e.loginJSON("dave", "dave-password")
		reload(func(name string, u *userEntry) bool { return name != "dave" })
		wantStatus(t, "dave removed", e.do("GET", "/web", "", bearer(dave.AccessToken)...), 401)
	})
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
		if s, g := testutil.ToFloat64(authMetricsOf(e.g).refreshes.WithLabelValues(refreshSuccess)), testutil.ToFloat64(authMetricsOf(e.g).refreshes.WithLabelValues(refreshGrace)); s != 1 || g != n-1 {
			t.Errorf("refreshes success %v grace %v, want 1 and %d", s, g, n-1)
		}
	})
}
