package gateway

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

// The identity-provider tests run the whole flow against oidctest, a real
// OpenID Provider (zitadel/oidc) on loopback, with a cookie jar following
// redirects as a browser would.

const (
	opClient = "portcullis"
	opSecret = "client-secret-0123456789"
)

// opUsers are the provider's accounts: dana (staff), erin (admin), and
// "alice", whose username is also a local user's.
var opUsers = []oidctest.User{
	{Subject: "sub-dana", Username: "dana", Email: "dana@example.com", EmailVerified: true, Groups: []string{"staff-group"}, Password: "dana-pw"},
	{Subject: "sub-erin", Username: "erin", Email: "erin@example.com", EmailVerified: true, Groups: []string{"admin-group"}, Password: "erin-pw"},
	{Subject: "sub-alice-at-op", Username: "alice", Email: "alice@example.com", EmailVerified: true, Password: "x"},
}

type oidcEnv struct {
	*env
	op *oidctest.Provider
}

// oidcOptions tunes newOIDCEnv.
type oidcOptions struct {
	store  storeKind
	shared *oidcEnv // a second replica over the same store and provider
	edit   func(*config.IdentityProvider)
	cfg    func(*config.Config)
}

// newOIDCEnv is a gateway (plain http cookies, so a Go cookie jar sends
// them) with provider "corp" at a fresh test OP, or at shared's.
func newOIDCEnv(t *testing.T, o oidcOptions) *oidcEnv {
	t.Helper()
	op := (*oidctest.Provider)(nil)
	if o.shared != nil {
		op = o.shared.op
	} else {
		op = oidctest.Start(t, oidctest.Options{
			Clients: []oidctest.Client{{ID: opClient, Secret: opSecret}},
			Users:   opUsers,
		})
	}
	edit := func(c *config.Config) {
		c.Cookies.Secure, c.Cookies.AccessName, c.Cookies.RefreshName = false, "", ""
		ip := config.DefaultIdentityProvider()
		ip.Name, ip.DisplayName, ip.Issuer, ip.ClientID, ip.ClientSecret = "corp", "Corp SSO", op.Issuer(), opClient, opSecret
		ip.RolesClaim, ip.RoleMap = "groups", map[string]string{"staff-group": "staff", "admin-group": "admin"}
		if o.edit != nil {
			o.edit(&ip)
		}
		c.IdentityProviders = []config.IdentityProvider{ip}
		if o.cfg != nil {
			o.cfg(c)
		}
	}
	eo := envOptions{store: o.store, edit: edit}
	if o.shared != nil {
		eo.shared, eo.clock = o.shared.newStore, o.shared.clock
	}
	e := newEnv(t, eo)
	cb := []string{e.srv.URL + "/auth/oidc/corp/callback"}
	if o.shared != nil {
		cb = append(cb, o.shared.srv.URL+"/auth/oidc/corp/callback")
	}
	op.SetRedirectURIs(opClient, cb...)
	return &oidcEnv{env: e, op: op}
}

// browserClient is a cookie jar that follows redirects.
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// get sends a browser navigation with c and reads the answer.
func get(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res, string(b)}
}

// signIn runs the whole code flow for subject and returns the browser and
// the last answer (after every redirect).
func (e *oidcEnv) signIn(subject, rd string) (*http.Client, response) {
	e.t.Helper()
	e.op.AutoLogin(subject)
	c := browserClient(e.t)
	return c, get(e.t, c, e.srv.URL+"/auth/oidc/corp/start?rd="+url.QueryEscape(rd))
}

// noFollow is c without following redirects (same jar).
func noFollow(c *http.Client) *http.Client {
	n := *c
	n.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &n
}

// TestOIDCCodeFlow: sign in with the provider, land on the original URL
// with its query, and be the provider's user upstream (X-Auth-User is the
// username claim, roles mapped from groups); the session lists its provider.
func TestOIDCCodeFlow(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newOIDCEnv(t, oidcOptions{store: sk})
		page := get(t, browserClient(t), e.srv.URL+"/auth/login?rd=/api/x")
		if !strings.Contains(page.body, `href="/auth/oidc/corp/start?rd=%2Fapi%2Fx"`) || !strings.Contains(page.body, "Sign in with Corp SSO") ||
			!strings.Contains(page.body, `name="password"`) {
			t.Errorf("login page lacks the provider link or the local form:\n%s", page.body)
		}

		c, res := e.signIn("sub-dana", "/api/report?q=1&x=%2F")
		wantStatus(t, "landing after the flow", res, http.StatusOK)
		if got := res.Request.URL.RequestURI(); got != "/api/report?q=1&x=%2F" {
			t.Errorf("landed on %q, want the original URL with its query", got)
		}
		up := e.up.last(t)
		if up.Header.Get("X-Auth-User") != "dana" || up.Header.Get("X-Auth-Roles") != "staff" || up.Header.Get("X-Auth-Session") == "" {
			t.Errorf("upstream identity = %q %q %q, want dana, staff and a session", up.Header.Get("X-Auth-User"), up.Header.Get("X-Auth-Roles"), up.Header.Get("X-Auth-Session"))
		}
		if cookie := up.Header.Get("Cookie"); strings.Contains(cookie, "portcullis") {
			t.Errorf("upstream got gateway cookies: %q", cookie)
		}
		res = get(t, c, e.srv.URL+"/adminarea")
		wantStatus(t, "admin area as staff", res, http.StatusForbidden)

		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/auth/sessions", nil)
		r2, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		if !strings.Contains(string(b), `"provider":"corp"`) {
			t.Errorf("sessions JSON = %s, want the provider", b)
		}
		if n := seriesSum(t, e.reg, "portcullis_oidc_logins_total", map[string]string{"provider": "corp", "result": "success"}); n != 1 {
			t.Errorf("oidc logins success = %v, want 1", n)
		}
		if n := seriesSum(t, e.reg, "portcullis_logins_total", map[string]string{"result": "success"}); n != 1 {
			t.Errorf("logins success = %v, want 1", n)
		}
	})
}
