package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

// TestVerify: forward-auth (SPEC §5).
func TestVerify(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: trustLoopback})
		jar := e.cookieNames()
		alice := e.loginJSON("alice", "alice-password")
		dave := e.loginJSON("dave", "dave-password")
		ac := jar.accessName + "=" + alice.AccessToken
		uri := func(u string) []string { return []string{"X-Forwarded-Uri", u} }
		with := func(parts ...[]string) []string {
			var out []string
			for _, p := range parts {
				out = append(out, p...)
			}
			return out
		}
		tests := []struct {
			name     string
			hdr      []string
			want     int
			wantUser string
		}{
			{"cookie ok", with(uri("/api/x?q=1"), []string{"Cookie", ac}), 200, "alice"},
			{"bearer ok", with(uri("/api/x"), bearer(alice.AccessToken)), 200, "alice"},
			{"original uri", with([]string{"X-Original-URI", "/api/x"}, bearer(alice.AccessToken)), 200, "alice"},
			{"both uri headers", with(uri("/api/x"), []string{"X-Original-URI", "/api/x"}, bearer(alice.AccessToken)), 403, ""},
			{"no uri", bearer(alice.AccessToken), 403, ""},
			{"two forwarded uris", with(uri("/api/x"), uri("/api/y"), bearer(alice.AccessToken)), 403, ""},
			{"unparseable uri", with(uri("/api/%2e%2e/x"), bearer(alice.AccessToken)), 403, ""},
			{"climbing uri", with(uri("/../etc"), bearer(alice.AccessToken)), 403, ""},
			{"absolute uri", with(uri("http://x/api"), bearer(alice.AccessToken)), 403, ""},
			{"no token", uri("/api/x"), 401, ""},
			{"no token html", with(uri("/api/x"), []string{"Accept", "text/html", "Sec-Fetch-Mode", "navigate"}), 401, ""},
			{"bad token", with(uri("/api/x"), bearer("x.y.z")), 401, ""},
			{"roles", with(uri("/api/x"), bearer(dave.AccessToken)), 403, ""},
			{"roles by route", with(uri("/web"), bearer(dave.AccessToken)), 200, "dave"},
			{"dot segments resolved", with(uri("/web/../api/x"), bearer(dave.AccessToken)), 403, ""},
			{"double slash", with(uri("//adminarea"), bearer(dave.AccessToken)), 403, ""},
			{"public needs a session", uri("/pub"), 401, ""},
			{"public with session", with(uri("/pub"), bearer(dave.AccessToken)), 200, "dave"},
			{"method", with(uri("/api/x"), []string{"X-Forwarded-Method", "POST"}, bearer(alice.AccessToken)), 200, "alice"},
			{"cross-site cookie POST", with(uri("/api/x"), []string{"X-Forwarded-Method", "POST", "Cookie", ac, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}), 403, ""},
			{"cross-site bearer POST", with(uri("/api/x"), []string{"X-Forwarded-Method", "POST", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, bearer(alice.AccessToken)), 200, "alice"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.do("GET", "/auth/verify", "", tt.hdr...)
				wantStatus(t, "verify", res, tt.want)
				if res.StatusCode/100 == 3 {
					t.Errorf("verify redirected")
				}
				// Only a navigation's 401 carries the login URL (SPEC §5).
				if loc := res.Header.Get("Location"); loc != "" && tt.name != "no token html" {
					t.Errorf("Location %q on a non-navigation answer", loc)
				}
				if tt.want != 200 {
					if res.Header.Get("X-Auth-User") != "" {
						t.Errorf("refusal carries X-Auth-User")
					}
					return
				}
				if got := res.Header.Get("X-Auth-User"); got != tt.wantUser {
					t.Errorf("X-Auth-User = %q, want %q", got, tt.wantUser)
				}
				for _, h := range []string{"X-Auth-User", "X-Auth-Roles", "X-Auth-Session"} {
					if _, ok := res.Header[h]; !ok {
						t.Errorf("verify lacks %s", h)
					}
				}
			})
		}
		res := e.do("GET", "/auth/verify", "", with(uri("/web"), bearer(dave.AccessToken))...)
		if v, ok := res.Header["X-Auth-Roles"]; !ok || len(v) != 1 || v[0] != "" {
			t.Errorf("X-Auth-Roles for a user without roles = %q (present %v), want empty", v, ok)
		}
		res = e.do("GET", "/auth/verify", "", with(uri("/api/x"), bearer(alice.AccessToken))...)
		if res.Header.Get("X-Auth-Roles") != "admin,staff" || res.Header.Get("X-Auth-Session") != alice.SessionID {
			t.Errorf("verify identity = %q %q", res.Header.Get("X-Auth-Roles"), res.Header.Get("X-Auth-Session"))
		}
	})
}

// TestVerifyHostAndNoRoute: the host comes from X-Forwarded-Host; no route → 403;
// an untrusted peer → 403.
func TestVerifyHostAndNoRoute(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		trustLoopback(c)
		r := config.DefaultRoute()
		r.Name, r.Host, r.PathPrefix, r.Upstream, r.Roles = "hosted", "app.example.com", "/", "echo:", []string{"admin"}
		c.Routes = []config.Route{r}
	}})
	bob := e.loginJSON("bob", "bob-password")
	alice := e.loginJSON("alice", "alice-password")
	wantStatus(t, "no route", e.do("GET", "/auth/verify", "", append(bearer(alice.AccessToken), "X-Forwarded-Uri", "/x")...), 403)
	wantStatus(t, "host route", e.do("GET", "/auth/verify", "", append(bearer(alice.AccessToken), "X-Forwarded-Uri", "/x", "X-Forwarded-Host", "APP.example.com")...), 200)
	wantStatus(t, "host route roles", e.do("GET", "/auth/verify", "", append(bearer(bob.AccessToken), "X-Forwarded-Uri", "/x", "X-Forwarded-Host", "app.example.com")...), 403)

	untrusted := newEnv(t, envOptions{store: memoryStore})
	a := untrusted.loginJSON("alice", "alice-password")
	res := untrusted.do("GET", "/auth/verify", "", append(bearer(a.AccessToken), "X-Forwarded-Uri", "/api/x")...)
	wantStatus(t, "untrusted peer", res, 403)
}

// TestAdminAPI: the admin listener's session endpoints.
func TestAdminAPI(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		const token = "admin-token-0123456789-0123456789-abcdef"
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) { c.Admin.Token = token }})
		admin := httptest.NewServer(e.g.AdminHandler())
		t.Cleanup(admin.Close)
		auth := []string{"Authorization", "Bearer " + token}
		a := e.loginJSON("alice", "alice-password")
		b := e.loginJSON("alice", "alice-password")
		bob := e.loginJSON("bob", "bob-password")

		res := do(t, "GET", admin.URL+"/admin/users/alice/sessions", "", auth...)
		wantStatus(t, "admin list", res, 200)
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		res.json(t, &list)
		if len(list.Sessions) != 2 {
			t.Fatalf("admin list = %s", res.body)
		}
		if _, ok := list.Sessions[0]["current"]; ok {
			t.Errorf("admin list has current")
		}
		wantStatus(t, "admin list no token", do(t, "GET", admin.URL+"/admin/users/alice/sessions", ""), 401)
		wantStatus(t, "admin list wrong token", do(t, "GET", admin.URL+"/admin/users/alice/sessions", "", "Authorization", "Bearer "+strings.Repeat("x", 40)), 401)
		res = do(t, "GET", admin.URL+"/admin/users/nobody/sessions", "", auth...)
		wantStatus(t, "admin list unknown user", res, 200)

		wantStatus(t, "admin delete one", do(t, "DELETE", admin.URL+"/admin/users/alice/sessions/"+a.SessionID, "", auth...), 204)
		wantStatus(t, "a revoked", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), 401)
		wantStatus(t, "admin delete one again", do(t, "DELETE", admin.URL+"/admin/users/alice/sessions/"+a.SessionID, "", auth...), 404)
		wantStatus(t, "admin delete wrong user", do(t, "DELETE", admin.URL+"/admin/users/alice/sessions/"+bob.SessionID, "", auth...), 404)
		wantStatus(t, "bob untouched", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 200)
		wantStatus(t, "admin delete all", do(t, "DELETE", admin.URL+"/admin/users/alice/sessions", "", auth...), 204)
		wantStatus(t, "b revoked", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), 401)
		wantStatus(t, "admin wrong method", do(t, "POST", admin.URL+"/admin/users/alice/sessions", "", auth...), 405)
		wantStatus(t, "admin unknown path", do(t, "GET", admin.URL+"/admin/nope", "", auth...), 404)
		if got := testutil.ToFloat64(metricsOf(e.g).revoked.WithLabelValues(revokedAdmin)); got != 2 {
			t.Errorf("sessions_revoked_total{admin} = %v, want 2", got)
		}
	})
}

// TestVerifySubrequestMethod: a POST subrequest whose own Host differs from
// the browser's is judged on the forwarded method and host, not refused by
// the endpoint-level origin check.
func TestVerifySubrequestMethod(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: trustLoopback})
	a := e.loginJSON("alice", "alice-password")
	ac := e.cookieNames().accessName + "=" + a.AccessToken
	res := e.do("POST", "/auth/verify", "", "Cookie", ac, "X-Forwarded-Uri", "/api/x", "X-Forwarded-Method", "POST",
		"X-Forwarded-Host", "app.example.com", "Origin", "https://app.example.com")
	wantStatus(t, "same-origin POST via subrequest", res, 200)
	res = e.do("POST", "/auth/verify", "", "Cookie", ac, "X-Forwarded-Uri", "/api/x", "X-Forwarded-Method", "POST",
		"X-Forwarded-Host", "app.example.com", "Origin", "https://evil.example")
	wantStatus(t, "cross-origin POST via subrequest", res, 403)
}

// TestVerifyMalformedForwardedHost: /auth/verify takes the host from
// X-Forwarded-Host; one outside the Host grammar is refused (403, like an
// unparseable forwarded URI), never matched as a host-less route.
func TestVerifyMalformedForwardedHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: trustLoopback})
	alice := e.loginJSON("alice", "alice-password")
	for _, tc := range []struct {
		host string
		want int
	}{
		{"app.example.com", http.StatusOK},
		{"App.Example.com.:443", http.StatusOK},
		{"app.example.com:80:90", http.StatusForbidden},
		{"app.example.com::", http.StatusForbidden},
		{"app..example.com", http.StatusForbidden},
		{"user@app.example.com", http.StatusForbidden},
		{"app.example.com:99999", http.StatusForbidden},
	} {
		res := e.do("GET", "/auth/verify", "", append(bearer(alice.AccessToken),
			"X-Forwarded-Uri", "/api/x", "X-Forwarded-Host", tc.host)...)
		wantStatus(t, "verify with X-Forwarded-Host "+tc.host, res, tc.want)
	}
	// The forwarded URI is matched like a proxied path: parameters in any
	// segment do not move it off the admin-only route.
	dave := e.loginJSON("dave", "dave-password")
	for _, uri := range []string{"/;x/adminarea", "/;/adminarea/x", "/adminarea;x/y"} {
		res := e.do("GET", "/auth/verify", "", append(bearer(dave.AccessToken), "X-Forwarded-Uri", uri)...)
		wantStatus(t, "verify "+uri+" as a user without the admin role", res, http.StatusForbidden)
	}
}
