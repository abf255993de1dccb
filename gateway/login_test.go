package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// TestFormLogin: 303 to rd with both cookies and their attributes; the body
// carries no token.
func TestFormLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()
		b := &browser{}
		res := e.loginForm(b, "alice", "alice-password", "/app?x=1")
		wantStatus(t, "form login", res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/app?x=1" {
			t.Errorf("Location = %q, want /app?x=1", loc)
		}
		if strings.Contains(res.body, b.access) || strings.Contains(res.body, b.refresh) {
			t.Errorf("form login body carries a token")
		}
		raw := res.Header.Values("Set-Cookie")
		if len(raw) != 2 {
			t.Fatalf("Set-Cookie = %q, want 2", raw)
		}
		at, rt := res.cookie(jar.accessName), res.cookie(jar.refreshName)
		if at == nil || rt == nil {
			t.Fatalf("cookies = %q", raw)
		}
		if jar.accessName != "__Host-portcullis_at" || jar.refreshName != "__Secure-portcullis_rt" {
			t.Errorf("cookie names = %q %q", jar.accessName, jar.refreshName)
		}
		for _, c := range []*http.Cookie{at, rt} {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
				t.Errorf("cookie %s attributes: %q", c.Name, c.Raw)
			}
			if c.MaxAge < 86400-5 || c.MaxAge > 86400 {
				t.Errorf("cookie %s Max-Age = %d, want the session's remaining lifetime (86400)", c.Name, c.MaxAge)
			}
		}
		if at.Path != "/" || rt.Path != "/auth/" {
			t.Errorf("paths = %q %q", at.Path, rt.Path)
		}
		// The cookies authenticate; the refresh cookie alone does not.
		wantStatus(t, "cookie GET", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), 200)
		wantStatus(t, "refresh cookie alone", e.do("GET", "/api/x", "", "Cookie", jar.refreshName+"="+b.refresh), 401)

		// Cookie refresh: 204, both cookies, no tokens in the body.
		old := *b
		res = e.do("POST", "/auth/refresh", "", "Cookie", e.cookieHeader(b))
		wantStatus(t, "cookie refresh", res, http.StatusNoContent)
		e.absorb(b, res)
		if b.refresh == old.refresh || b.access == old.access || res.body != "" {
			t.Errorf("cookie refresh did not rotate or has a body %q", res.body)
		}
		wantStatus(t, "after cookie refresh", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), 200)

		// A dead refresh cookie: 401 invalid_grant, cookies cleared.
		e.clock.Advance(time.Minute)
		res = e.do("POST", "/auth/refresh", "", "Cookie", e.cookieHeader(&old))
		wantStatus(t, "stale refresh cookie", res, 401)
		if c := res.cookie(jar.refreshName); c == nil || c.MaxAge >= 0 {
			t.Errorf("stale refresh cookie not cleared")
		}

		// Form logout: 303 to rd, cookies cleared.
		b2 := &browser{}
		e.loginForm(b2, "bob", "bob-password", "/")
		form := url.Values{"rd": {"/bye"}}.Encode()
		res = e.do("POST", "/auth/logout", form, "Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b2))
		wantStatus(t, "form logout", res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/bye" {
			t.Errorf("logout Location = %q", loc)
		}
		if c := res.cookie(jar.accessName); c == nil || c.MaxAge >= 0 {
			t.Errorf("logout did not clear the access cookie")
		}
		wantStatus(t, "after form logout", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b2)), 401)
	})
}

// TestFormLoginFailure: 401 with the form again, an error, no cookies.
func TestFormLoginFailure(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	b := &browser{}
	res := e.loginForm(b, "alice", "wrong", "/app")
	wantStatus(t, "bad form login", res, http.StatusUnauthorized)
	if len(res.Cookies()) != 0 {
		t.Errorf("failed form login set cookies")
	}
	if !strings.Contains(res.body, "Wrong username or password") || !strings.Contains(res.body, `value="alice"`) || strings.Contains(res.body, "wrong") {
		t.Errorf("form not re-rendered with the error and username (without the password): %s", res.body)
	}
	if !strings.Contains(res.body, `name="rd" value="/app"`) {
		t.Errorf("rd lost on re-render")
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type = %q", res.Header.Get("Content-Type"))
	}
	res = e.loginForm(b, "", "", "/app")
	wantStatus(t, "empty form", res, http.StatusBadRequest)
}

// TestLoginPage: the HTML form, its headers and accessibility basics.
func TestLoginPage(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	res := e.do("GET", "/auth/login?rd=/app", "")
	wantStatus(t, "login page", res, 200)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers = %v", res.Header)
	}
	for _, want := range []string{`<label for="username">`, `<label for="password">`, `id="username"`, `id="password"`, `type="password"`,
		`autocomplete="current-password"`, `method="post"`, `action="/auth/login"`, `name="rd" value="/app"`, `lang="en"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script", "src="} {
		if strings.Contains(res.body, bad) {
			t.Errorf("login page contains %q (external asset or script)", bad)
		}
	}
	if !strings.Contains(csp, styleHash(string(pageStyle))) {
		t.Errorf("CSP does not allow the page's own style")
	}
	res = e.do("GET", "/auth/login?rd=//evil.com", "")
	if !strings.Contains(res.body, `name="rd" value="/"`) {
		t.Errorf("unsafe rd reached the form")
	}
	res = e.do("GET", "/auth/login?rd="+url.QueryEscape(`"><script>alert(1)</script>`), "")
	if strings.Contains(res.body, "<script>") {
		t.Errorf("rd not escaped")
	}
}

// TestSilentRefresh: a browser sent to the login page with a still-good
// refresh cookie goes straight back to rd with fresh cookies.
func TestSilentRefresh(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()
		b := &browser{}
		e.loginForm(b, "alice", "alice-password", "/")
		e.clock.Advance(11 * time.Minute) // access cookie's JWT expired
		res := e.do("GET", "/api/x?y=2", "", "Cookie", e.cookieHeader(b), "Accept", "text/html")
		wantStatus(t, "expired navigation", res, http.StatusFound)
		loc := res.Header.Get("Location")
		res = e.do("GET", loc, "", "Cookie", e.cookieHeader(b), "Accept", "text/html")
		wantStatus(t, "login page with refresh cookie", res, http.StatusSeeOther)
		if got := res.Header.Get("Location"); got != "/api/x?y=2" {
			t.Errorf("silent refresh Location = %q, want /api/x?y=2", got)
		}
		if res.cookie(jar.accessName) == nil || res.cookie(jar.refreshName) == nil {
			t.Fatalf("silent refresh did not set both cookies")
		}
		e.absorb(b, res)
		wantStatus(t, "after silent refresh", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), 200)

		// A dead refresh cookie shows the form and clears the cookies.
		res = e.do("GET", "/auth/login", "", "Cookie", jar.refreshName+"=dead.dead")
		wantStatus(t, "login page with dead cookie", res, 200)
		if !strings.Contains(res.body, "<form") {
			t.Errorf("no form")
		}
		if c := res.cookie(jar.refreshName); c == nil || c.MaxAge >= 0 {
			t.Errorf("dead refresh cookie not cleared")
		}
	})
}

// TestFormLoginRevokesPlanted: a form login ends the session its cookies
// named — but only when they verify; a forged cookie revokes nothing.
func TestFormLoginRevokesPlanted(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		jar := e.cookieNames()
		attacker := &browser{}
		e.loginForm(attacker, "dave", "dave-password", "/")
		victim := &browser{access: attacker.access, refresh: attacker.refresh} // planted
		res := e.loginForm(victim, "alice", "alice-password", "/")
		wantStatus(t, "victim login", res, http.StatusSeeOther)
		if victim.access == attacker.access {
			t.Fatalf("victim kept the planted cookie")
		}
		wantStatus(t, "planted session revoked", e.do("GET", "/web", "", "Cookie", e.cookieHeader(attacker)), 401)
		wantStatus(t, "victim in", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(victim)), 200)

		// Re-login over one's own session: the old one ends (no orphans).
		old := *victim
		e.loginForm(victim, "alice", "alice-password", "/")
		wantStatus(t, "old own session", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(&old)), 401)

		// Forged cookies naming a live session: nothing happens to it.
		bob := e.loginJSON("bob", "bob-password")
		forged := &browser{access: "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiI" + bob.SessionID + "In0.AAAA", refresh: bob.SessionID + "." + strings.Repeat("A", 43)}
		e.loginForm(forged, "alice", "alice-password", "/")
		wantStatus(t, "bob survives forged cookies", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 200)
		_ = jar
	})
}

// TestRedirectAfterLogin: rd through the whole form flow.
func TestRedirectAfterLogin(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	tests := []struct{ rd, want string }{
		{"/ok", "/ok"},
		{"//evil.com", "/"},
		{"/\\evil.com", "/"},
		{"https:evil.com", "/"},
		{"https://evil.com/", "/"},
		{"https://app.example.com/x", "https://app.example.com/x"},
		{"https://user@app.example.com/x", "/"},
		{"http://app.example.com/x", "/"},
		{"/%09/evil.com", "/"},
		{"", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			res := e.loginForm(&browser{}, "bob", "bob-password", tt.rd)
			wantStatus(t, "login", res, http.StatusSeeOther)
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCookieConfig: domain, SameSite and insecure names reach Set-Cookie.
func TestCookieConfig(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		c.Cookies = config.Cookies{Domain: "example.com", Secure: true, SameSite: "strict"}
	}})
	res := e.loginForm(&browser{}, "bob", "bob-password", "/")
	at, rt := res.cookie("__Secure-portcullis_at"), res.cookie("__Secure-portcullis_rt")
	if at == nil || rt == nil {
		t.Fatalf("cookies = %q", res.Header.Values("Set-Cookie"))
	}
	if at.Domain != "example.com" || rt.Domain != "" || at.SameSite != http.SameSiteStrictMode {
		t.Errorf("access %q refresh %q", at.Raw, rt.Raw)
	}
}

// TestCustomAuthPrefix: endpoints, cookie path and redirects follow
// server.auth_prefix.
func TestCustomAuthPrefix(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) { c.Server.AuthPrefix = "/sso" }})
	form := url.Values{"username": {"bob"}, "password": {"bob-password"}, "rd": {"/x"}}.Encode()
	res := e.do("POST", "/sso/login", form, "Content-Type", "application/x-www-form-urlencoded")
	wantStatus(t, "login under /sso", res, http.StatusSeeOther)
	if c := res.cookie(e.cookieNames().refreshName); c == nil || c.Path != "/sso/" {
		t.Errorf("refresh cookie = %v, want Path=/sso/", c)
	}
	res = e.do("GET", "/api/x", "", "Accept", "text/html")
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/sso/login?rd=") {
		t.Errorf("Location = %q", loc)
	}
	res = e.do("GET", "/sso/login", "")
	if !strings.Contains(res.body, `action="/sso/login"`) {
		t.Errorf("form action does not follow the prefix")
	}
}
