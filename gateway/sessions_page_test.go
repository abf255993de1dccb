package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestSessionsPage: the HTML page and its two kinds of form.
func TestSessionsPage(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		b := &browser{}
		e.loginForm(b, "alice", "alice-password", "/")
		other := e.loginJSON("alice", "alice-password", "User-Agent", "<b>phone</b>")
		html := []string{"Accept", "text/html", "Cookie", e.cookieHeader(b)}
		res := e.do("GET", "/auth/sessions", "", html...)
		wantStatus(t, "sessions page", res, 200)
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("headers = %v", res.Header)
		}
		for _, want := range []string{"Sign out of this device", "Sign out everywhere", `name="confirm_all"`,
			`action="/auth/sessions/` + other.SessionID + `/revoke"`, `<span class="badge">This device</span>`, "&lt;b&gt;phone&lt;/b&gt;"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("sessions page lacks %q", want)
			}
		}
		if strings.Contains(res.body, "<b>phone</b>") {
			t.Errorf("user agent not escaped")
		}
		form := []string{"Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b), "Origin", e.srv.URL}
		res = e.do("POST", "/auth/sessions/"+other.SessionID+"/revoke", "", form...)
		wantStatus(t, "revoke other", res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/auth/sessions" {
			t.Errorf("Location = %q", loc)
		}
		wantStatus(t, "other revoked", e.do("GET", "/api/x", "", bearer(other.AccessToken)...), 401)
		res = e.do("POST", "/auth/sessions/"+other.SessionID+"/revoke", "", form...)
		wantStatus(t, "revoke twice", res, 404)
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.body, "no longer exists") {
			t.Errorf("form error is not an HTML page: %q %s", res.Header.Get("Content-Type"), res.body)
		}
		res = e.do("POST", "/auth/sessions/x/revoke", "", "Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b), "Origin", "https://evil.example")
		wantStatus(t, "cross-site revoke", res, 403)

		third := e.loginJSON("alice", "alice-password")
		res = e.do("POST", "/auth/logout-all", "", form...)
		wantStatus(t, "sign out everywhere", res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/auth/login?signed_out=1" {
			t.Errorf("Location = %q", loc)
		}
		wantStatus(t, "third revoked", e.do("GET", "/api/x", "", bearer(third.AccessToken)...), 401)
		wantStatus(t, "browser revoked", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), 401)

		// Without a valid cookie the page sends the browser to the login page.
		res = e.do("GET", "/auth/sessions", "", html...)
		wantStatus(t, "sessions page signed out", res, http.StatusFound)
		if loc := res.Header.Get("Location"); loc != "/auth/login?rd=%2Fauth%2Fsessions" {
			t.Errorf("Location = %q", loc)
		}
		res = e.do("POST", "/auth/logout-all", "", form...)
		wantStatus(t, "form with dead cookie", res, http.StatusSeeOther)
	})
}

func contains(set []string, v string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}
