package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
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
		if len(raw) != 3 || res.cookie(snapshotOf(e.g).cookies.deviceName) == nil {
			t.Fatalf("Set-Cookie = %q, want the two session cookies and the device cookie (TestDeviceCookieIssued)", raw)
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

// TestSessionLimitEviction: past max_per_user the least recently used
// session is evicted, visibly through HTTP.
func TestSessionLimitEviction(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, sopts: func(o *sessions.Options) { o.MaxPerUser = 2 }})
		a := e.loginJSON("bob", "bob-password")
		e.clock.Advance(time.Second)
		b := e.loginJSON("bob", "bob-password")
		e.clock.Advance(2 * time.Minute)
		wantStatus(t, "use a", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK) // a is now more recent than b
		e.clock.Advance(time.Second)
		c := e.loginJSON("bob", "bob-password")
		wantStatus(t, "evicted b", e.do("GET", "/api/x", "", bearer(b.AccessToken)...), http.StatusUnauthorized)
		wantStatus(t, "kept a", e.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK)
		wantStatus(t, "new c", e.do("GET", "/api/x", "", bearer(c.AccessToken)...), http.StatusOK)
		res := e.do("GET", "/auth/sessions", "", bearer(c.AccessToken)...)
		wantStatus(t, "sessions", res, http.StatusOK)
		var list struct {
			Sessions []map[string]any `json:"sessions"`
		}
		res.json(t, &list)
		if len(list.Sessions) != 2 {
			t.Fatalf("sessions = %d, want 2: %s", len(list.Sessions), res.body)
		}
		if got := testutil.ToFloat64(metricsOf(e.g).evicted); got != 1 {
			t.Errorf("sessions_evicted_total = %v, want 1", got)
		}
	})
}

// TestHostileLoginJSON: what encoding/json would silently accept (duplicate
// or case-folded members, invalid UTF-8) is refused, so no other parser in
// front of the gateway can read different credentials from the same body.
func TestHostileLoginJSON(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: noThrottle})
	big := strings.Repeat("u", 12<<10)
	tests := []struct {
		name, body string
		want       int
		code       string
	}{
		{"duplicate username", `{"username":"bob","password":"bob-password","username":"alice"}`, 400, "invalid_request"},
		{"duplicate password", `{"username":"bob","password":"x","password":"bob-password"}`, 400, "invalid_request"},
		{"case-folded duplicate", `{"username":"bob","password":"bob-password","Username":"alice"}`, 400, "invalid_request"},
		{"case-folded name only", `{"USERNAME":"bob","password":"bob-password"}`, 400, "invalid_request"},
		{"unicode-folded name", `{"u` + "\u017f" + `ername":"bob","password":"bob-password"}`, 400, "invalid_request"},
		{"null username", `{"username":null,"password":"bob-password"}`, 400, "invalid_request"},
		{"object username", `{"username":{"$ne":""},"password":"bob-password"}`, 400, "invalid_request"},
		{"array password", `{"username":"bob","password":["bob-password"]}`, 400, "invalid_request"},
		{"invalid UTF-8 password", "{\"username\":\"bob\",\"password\":\"bob-\xffpassword\"}", 400, "invalid_request"},
		{"invalid UTF-8 username", "{\"username\":\"b\xc3ob\",\"password\":\"bob-password\"}", 400, "invalid_request"},
		{"byte order mark", "\xef\xbb\xbf{\"username\":\"bob\",\"password\":\"bob-password\"}", 400, "invalid_request"},
		{"two objects", `{"username":"bob","password":"bob-password"}{"username":"alice"}`, 400, "invalid_request"},
		{"unterminated object", `{"username":"bob","password":"bob-password"`, 400, "invalid_request"},
		{"lone surrogate escape", `{"username":"bob","password":"\ud800"}`, 401, "invalid_credentials"},
		{"NUL in username", `{"username":"bo\u0000b","password":"bob-password"}`, 401, "invalid_credentials"},
		{"huge username", `{"username":"` + big + `","password":"bob-password"}`, 401, "invalid_credentials"},
		{"huge password", `{"username":"bob","password":"` + big + `"}`, 401, "invalid_credentials"},
		{"unknown members ignored", `{"username":"bob","password":"bob-password","remember":{"a":[1,2]}}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("POST", "/auth/login", tt.body, "Content-Type", "application/json")
			wantStatus(t, "login", res, tt.want)
			if tt.code != "" {
				if got := res.errCode(t); got != tt.code {
					t.Errorf("error = %q, want %q", got, tt.code)
				}
			}
		})
	}
}

// TestHostileLoginForm: repeated keys, bad encodings and non-UTF-8 in a form
// login are 400 with the form re-rendered and no cookies.
func TestHostileLoginForm(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: noThrottle})
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"repeated username", "/auth/login", "username=bob&username=alice&password=bob-password", 400},
		{"repeated password", "/auth/login", "username=bob&password=x&password=bob-password", 400},
		{"repeated rd", "/auth/login", "username=bob&password=bob-password&rd=/a&rd=//evil.example", 400},
		{"bad escape", "/auth/login", "username=%zz&password=bob-password", 400},
		{"non-UTF-8 password", "/auth/login", "username=bob&password=bob-%FFpassword", 400},
		{"credentials in the query only", "/auth/login?username=bob&password=bob-password", "", 400},
		{"huge username", "/auth/login", "username=" + strings.Repeat("u", 12<<10) + "&password=bob-password", 401},
		{"ok", "/auth/login", "username=bob&password=bob-password&rd=/x", 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("POST", tt.path, tt.body, "Content-Type", mediaForm)
			wantStatus(t, "form login", res, tt.want)
			if tt.want == http.StatusSeeOther {
				return
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("failed form login set cookies %v", res.Header["Set-Cookie"])
			}
			if !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.body, `role="alert"`) {
				t.Errorf("failed form login = %q %q, want the form with an error", res.Header.Get("Content-Type"), res.body)
			}
		})
	}
}

// FuzzDecodeJSONFields: never panics, and whatever it accepts encoding/json
// reads the same way (the strict reader is a subset, never a different
// interpretation).
func FuzzDecodeJSONFields(f *testing.F) {
	for _, s := range []string{`{"username":"a","password":"b"}`, `{"username":"a","username":"b"}`, `{"Username":"a"}`,
		`{"username":null}`, "{\"password\":\"\xff\"}", `{"x":[1,{"y":2}],"password":"\u00e9"}`, `{}`, `[]`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var user, pw string
		r, _ := http.NewRequest("POST", "/", strings.NewReader(string(body)))
		if err := decodeJSONFields(r, map[string]*string{"username": &user, "password": &pw}); err != nil {
			return
		}
		var std struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("strict reader accepted %q, encoding/json refused it: %v", body, err)
		}
		if std.Username != user || std.Password != pw {
			t.Fatalf("%q: strict read (%q, %q), encoding/json (%q, %q)", body, user, pw, std.Username, std.Password)
		}
	})
}
