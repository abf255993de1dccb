package gateway

import (
	"github.com/prometheus/client_golang/prometheus/testutil"
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
		for _, want := range []string{"Sign out this device", "Sign out everywhere", `action="/auth/logout-all"`,
			`action="/auth/sessions/` + other.SessionID + `/revoke"`, "(this device)", "&lt;b&gt;phone&lt;/b&gt;"} {
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
		if loc := res.Header.Get("Location"); loc != "/auth/login" {
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

// TestAuthMetrics: the SPEC §7 series exist with closed label values and
// count what happened.
func TestAuthMetrics(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	a := e.loginJSON("alice", "alice-password")
	e.do("POST", "/auth/login", loginBody("alice", "nope"), "Content-Type", "application/json")
	e.do("POST", "/auth/login", `{}`, "Content-Type", "application/json")
	e.do("GET", "/api/x", "", bearer(a.AccessToken)...)
	e.do("GET", "/api/x", "")
	e.do("GET", "/pub", "")
	e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/refresh", `{"refresh_token":"`+a.RefreshToken+`"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/refresh", `{"refresh_token":"x.y"}`, "Content-Type", "application/json")
	e.do("POST", "/auth/logout", "", bearer(a.AccessToken)...)

	m := authMetricsOf(e.g)
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"logins success", testutil.ToFloat64(m.logins.WithLabelValues(loginSuccess)), 1},
		{"logins failure", testutil.ToFloat64(m.logins.WithLabelValues(loginFailure)), 1},
		{"logins invalid_request", testutil.ToFloat64(m.logins.WithLabelValues(loginInvalidRequest)), 1},
		{"decisions allow ok", testutil.ToFloat64(m.decisions.WithLabelValues(decisionAllow, reasonOK)), 1},
		{"decisions deny missing_token", testutil.ToFloat64(m.decisions.WithLabelValues(decisionDeny, reasonMissingToken)), 1},
		{"decisions allow public", testutil.ToFloat64(m.decisions.WithLabelValues(decisionAllow, reasonPublic)), 1},
		{"refreshes success", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshSuccess)), 1},
		{"refreshes grace", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshGrace)), 1},
		{"refreshes invalid", testutil.ToFloat64(m.refreshes.WithLabelValues(refreshInvalid)), 1},
		{"revoked logout", testutil.ToFloat64(m.revoked.WithLabelValues(revokedLogout)), 1},
		{"check duration count (public not timed)", seriesSum(t, e.reg, metricAuthDuration, nil), 2},
		{"store up", testutil.ToFloat64(m.store.up), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string][]string{
		metricAuthDecisions:   {"decision": {decisionAllow, decisionDeny}, "reason": authReasons},
		metricLogins:          {"result": loginResults},
		metricRefreshes:       {"result": refreshResults},
		metricSessionsRevoked: {"reason": revokeReasons},
		metricStoreDuration:   {"op": storeOps},
		metricStoreErrors:     {"op": storeOps},
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
		labels, ok := allowed[f.GetName()]
		if !ok {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !aeContains(labels[lp.GetName()], lp.GetValue()) {
					t.Errorf("%s has label %s=%q outside its closed set", f.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	for _, name := range []string{metricAuthDecisions, metricAuthDuration, metricLogins, metricRefreshes, metricSessionsEvicted,
		metricSessionsRevoked, metricStoreDuration, metricStoreErrors, metricStoreUp} {
		if !seen[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

func aeContains(set []string, v string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}
