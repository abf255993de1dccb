package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// TestFailedLoginLog: a failed login is logged at info with the attempted
// username (only when it obeys the username grammar, else "invalid"), the
// reason and the client IP; never the password, and never a name outside
// the grammar (a password typed into the username field, a forged log
// line). A success logs no failure.
func TestFailedLoginLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: noThrottle})
	const password = "PASSWORD-SECRET-1"
	tests := []struct {
		name, user, pass string
		form             bool
		want             int
		wantLog          string
		never            string
	}{
		{"wrong password", "bob", password, false, http.StatusUnauthorized, "username=bob reason=invalid_credentials client_ip=127.0.0.1", ""},
		{"unknown user", "mallory@example.com", password, true, http.StatusUnauthorized, "username=mallory@example.com reason=invalid_credentials", ""},
		{"password as username", "Tr0ub4dor&3 horse", password, false, http.StatusUnauthorized, "username=invalid reason=invalid_credentials", "Tr0ub4dor"},
		{"password as username form", "c0rrect!horse", password, true, http.StatusUnauthorized, "username=invalid", "c0rrect"},
		{"newline forges a line", "bob\nlevel=ERROR msg=FORGED", password, false, http.StatusUnauthorized, "username=invalid", "FORGED"},
		{"newline in form", "bob\r\nFORGED=1", password, true, http.StatusUnauthorized, "username=invalid", "FORGED"},
		{"control character", "bob\x1b[31mRED", password, false, http.StatusUnauthorized, "username=invalid", "RED"},
		{"trailing newline", "bob\n", password, false, http.StatusUnauthorized, "username=invalid", ""},
		{"oversized", strings.Repeat("a", 129), password, false, http.StatusUnauthorized, "username=invalid", strings.Repeat("a", 129)},
		{"no password", "bob", "", false, http.StatusBadRequest, "username=bob reason=invalid_request", ""},
		{"no username", "", password, true, http.StatusBadRequest, "username=invalid reason=invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res response
			if tt.form {
				form := url.Values{"username": {tt.user}, "password": {tt.pass}}.Encode()
				res = e.do("POST", "/auth/login", form, "Content-Type", "application/x-www-form-urlencoded",
					"Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
			} else {
				body, _ := json.Marshal(map[string]string{"username": tt.user, "password": tt.pass})
				res = e.do("POST", "/auth/login", string(body), "Content-Type", "application/json")
			}
			wantStatus(t, "login", res, tt.want)
			id := res.Header.Get("X-Request-ID")
			var line string
			waitFor(t, "the failed login line", func() bool {
				for _, l := range strings.Split(e.logs.String(), "\n") {
					if strings.Contains(l, `msg="login failed"`) && strings.Contains(l, "request_id="+id) {
						line = l
						return true
					}
				}
				return false
			})
			if !strings.Contains(line, "level=INFO") || !strings.Contains(line, tt.wantLog) {
				t.Errorf("failed login line lacks level=INFO and %q:\n%s", tt.wantLog, line)
			}
			if tt.never != "" && strings.Contains(e.logs.String(), tt.never) {
				t.Errorf("log contains %q:\n%s", tt.never, e.logs.String())
			}
		})
	}
	tr := e.loginJSON("alice", "alice-password")
	wantStatus(t, "me", e.do("GET", "/auth/me", "", bearer(tr.AccessToken)...), http.StatusOK)
	logs := e.logs.String()
	if strings.Contains(logs, password) || strings.Contains(logs, "alice-password") {
		t.Errorf("log contains a password:\n%s", logs)
	}
	if n := strings.Count(logs, `msg="login failed"`); n != len(tests) {
		t.Errorf("%d failed login lines, want %d (a success logged a failure?)", n, len(tests))
	}
}

// TestFailedLoginLogRateLimited: a throttled login logs its reason.
func TestFailedLoginLogRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) { c.Login.RateLimit.PerUser = 1 }})
	body := `{"username":"bob","password":"PASSWORD-SECRET-2"}`
	wantStatus(t, "first", e.do("POST", "/auth/login", body, "Content-Type", "application/json"), http.StatusUnauthorized)
	wantStatus(t, "second", e.do("POST", "/auth/login", body, "Content-Type", "application/json"), http.StatusTooManyRequests)
	waitFor(t, "the throttled login line", func() bool {
		return strings.Contains(e.logs.String(), "username=bob reason=too_many_requests client_ip=127.0.0.1")
	})
	if strings.Contains(e.logs.String(), "PASSWORD-SECRET-2") {
		t.Errorf("log contains the password:\n%s", e.logs.String())
	}
}
