package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// isHTMLPage reports whether res is one of the gateway's styled pages.
func isHTMLPage(res response) bool {
	return strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && strings.Contains(res.body, "<main>")
}

// TestBrowserErrorPages: a browser navigation answered with 403, 404 or 405,
// on gateway endpoints and proxied routes, gets the HTML page; an API client
// asking the same gets the JSON of SPEC §5.
func TestBrowserErrorPages(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	b := &browser{}
	e.loginForm(b, "bob", "bob-password", "/")
	cookie := []string{"Cookie", e.cookieHeader(b)}
	nav := append([]string{"Accept", "text/html,application/xhtml+xml", "Sec-Fetch-Mode", "navigate"}, cookie...)
	navOnly := append([]string{"Sec-Fetch-Mode", "navigate"}, cookie...) // a typed URL, no HTML in Accept
	api := append([]string{"Accept", "application/json"}, cookie...)
	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		page               bool
		want               []string // in the page, or the JSON error code
	}{
		{"missing role, browser", "GET", "/adminarea/x", nav, 403, true, []string{"signed in as <strong>bob</strong>",
			"Sign in as someone else", `action="/auth/logout"`, `value="/auth/login?rd=%2Fadminarea%2Fx"`, `value="/auth/login?signed_out=1"`, `href="/"`}},
		{"missing role, HEAD", "HEAD", "/adminarea/x", nav, 403, false, nil},
		{"missing role, API", "GET", "/adminarea/x", api, 403, false, []string{"forbidden"}},
		{"missing role, bearer API", "GET", "/adminarea/x", bearer(e.loginJSON("bob", "bob-password").AccessToken), 403, false, []string{"forbidden"}},
		{"no endpoint, browser", "GET", "/auth/nope", nav, 404, true, []string{"There is no page at this address.", `href="/"`}},
		{"no endpoint, API", "GET", "/auth/nope", api, 404, false, []string{"not_found"}},
		{"typed logout, browser", "GET", "/auth/logout", navOnly, 405, true, []string{"cannot be opened like this"}},
		{"typed logout, API", "GET", "/auth/logout", api, 405, false, []string{"method_not_allowed"}},
		{"POST is never a navigation", "POST", "/auth/nope", nav, 404, false, []string{"not_found"}},
		// Forward-auth answers a proxy, whatever Accept it passes on.
		{"verify stays JSON", "GET", "/auth/verify", append(nav, "X-Forwarded-Uri", "/adminarea"), 403, false, []string{"forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.method, tt.path, "", tt.hdr...)
			wantStatus(t, tt.name, res, tt.status)
			if got := isHTMLPage(res); got != tt.page {
				t.Fatalf("HTML page = %v, want %v: %q %s", got, tt.page, res.Header.Get("Content-Type"), res.body)
			}
			if tt.page {
				if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") || res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("page headers = %v", res.Header)
				}
				for _, w := range tt.want {
					if !strings.Contains(res.body, w) {
						t.Errorf("page lacks %q:\n%s", w, res.body)
					}
				}
				return
			}
			if tt.method == "HEAD" {
				if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
					t.Errorf("HEAD navigation Content-Type = %q", res.Header.Get("Content-Type"))
				}
				return
			}
			if c := res.errCode(t); c != tt.want[0] {
				t.Errorf("error = %q, want %q", c, tt.want[0])
			}
		})
	}
	if res := e.do("GET", "/auth/logout", "", navOnly...); res.Header.Get("Allow") != "POST" {
		t.Errorf("405 page Allow = %q", res.Header.Get("Allow"))
	}
}

// TestBrowserErrorPageRetry: 429 and 503 pages say when to retry and keep
// Retry-After; an API client gets the JSON; the admin listener is always JSON.
func TestBrowserErrorPageRetry(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	tests := []struct {
		name   string
		err    error
		accept string
		status int
		page   bool
		want   string
	}{
		{"429 browser", errTooManyAttempts.withRetryAfter(42), "text/html", 429, true, "Please try again in 42 seconds."},
		{"429 API", errTooManyAttempts.withRetryAfter(42), "application/json", 429, false, "too_many_requests"},
		{"503 browser", errStoreUnavailable, "text/html", 503, true, "Please try again in 5 seconds."},
		{"503 API", errStoreUnavailable, "*/*", 503, false, "temporarily_unavailable"},
		{"503 one second", errPasswordBusy, "text/html", 503, true, "Please try again in 1 second."},
		{"502 stays JSON", errUpstream, "text/html", 502, false, "bad_gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/x", nil)
			r.Header.Set("Accept", tt.accept)
			r = beginRequest(e.g, r, "/api/x", true)
			w := httptest.NewRecorder()
			writeError(e.g, w, r, tt.err)
			res := response{Response: w.Result(), body: w.Body.String()}
			wantStatus(t, tt.name, res, tt.status)
			if isHTMLPage(res) != tt.page {
				t.Fatalf("HTML page = %v, want %v: %s", !tt.page, tt.page, res.body)
			}
			if tt.status != 502 && res.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			if tt.page && !strings.Contains(res.body, tt.want) {
				t.Errorf("page lacks %q:\n%s", tt.want, res.body)
			}
			if !tt.page && res.errCode(t) != tt.want {
				t.Errorf("error = %q, want %q", res.errCode(t), tt.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/admin/nope", nil)
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	w := httptest.NewRecorder()
	e.g.AdminHandler().ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); w.Code != 401 || ct != "application/json" {
		t.Errorf("admin navigation = %d %q, want 401 JSON", w.Code, ct)
	}
}

// TestSignedOutNotice: the login page says "You have been signed out" after
// a sign-out; the flag only selects the fixed text, it never reflects input.
func TestSignedOutNotice(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	const notice = "You have been signed out."
	for _, tt := range []struct {
		query string
		want  bool
	}{
		{"", false},
		{"?rd=%2Fx", false},
		{"?signed_out=1", true},
		{"?signed_out=%3Cscript%3Ealert(1)%3C%2Fscript%3E", true},
		{"?signed_out=" + strings.Repeat("A", 4000), true},
	} {
		res := e.do("GET", "/auth/login"+tt.query, "", "Accept", "text/html")
		wantStatus(t, "login page "+tt.query, res, 200)
		if got := strings.Contains(res.body, notice); got != tt.want {
			t.Errorf("%q: notice = %v, want %v", tt.query, got, tt.want)
		}
		if strings.Contains(res.body, "<script>") || strings.Contains(res.body, "AAAA") {
			t.Errorf("%q: the flag's value is reflected", tt.query)
		}
	}
	// The error page's "Sign out": a form logout back to the notice.
	b := &browser{}
	e.loginForm(b, "bob", "bob-password", "/")
	res := e.do("POST", "/auth/logout", url.Values{"rd": {"/auth/login?signed_out=1"}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b), "Origin", e.srv.URL)
	wantStatus(t, "sign out", res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/auth/login?signed_out=1" {
		t.Errorf("Location = %q", loc)
	}
}

// TestSessionsPageBack: the sessions page links back to a validated rd (the
// login page's rules) or "/", and signing out another device keeps it.
func TestSessionsPageBack(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	b := &browser{}
	e.loginForm(b, "alice", "alice-password", "/")
	other := e.loginJSON("alice", "alice-password")
	html := []string{"Accept", "text/html", "Cookie", e.cookieHeader(b)}
	for _, tt := range []struct{ rd, want string }{
		{"", "/"},
		{"/app/x?tab=1", "/app/x?tab=1"},
		{"https://app.example.com/home", "https://app.example.com/home"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/\\evil.example", "/"},
	} {
		res := e.do("GET", "/auth/sessions?rd="+url.QueryEscape(tt.rd), "", html...)
		wantStatus(t, "sessions page", res, 200)
		want := `<a href="` + templateEscape(tt.want) + `">Back to the application</a>`
		if !strings.Contains(res.body, want) {
			t.Errorf("rd %q: page lacks %s", tt.rd, want)
		}
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b), "Origin", e.srv.URL}
	res := e.do("POST", "/auth/sessions/"+other.SessionID+"/revoke", "rd="+url.QueryEscape("/app/x"), form...)
	wantStatus(t, "revoke other", res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/auth/sessions?rd=%2Fapp%2Fx" {
		t.Errorf("Location = %q", loc)
	}
	var me meJSON
	e.do("GET", "/auth/me", "", "Cookie", e.cookieHeader(b)).json(t, &me)
	res = e.do("POST", "/auth/sessions/"+me.SessionID+"/revoke", "rd="+url.QueryEscape("//evil.example"), form...)
	wantStatus(t, "revoke current", res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/auth/login?signed_out=1" {
		t.Errorf("Location = %q", loc)
	}
}

// templateEscape is how html/template writes a URL attribute.
func templateEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }
