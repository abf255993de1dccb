package gateway

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
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
	{Subject: "sub-dana-2", Username: "dana", Email: "dana2@example.com", EmailVerified: true, Password: "x"},
	{Subject: "sub-dave", Username: "dave", Email: "dave@example.com", EmailVerified: true, Password: "x"},
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
	// backchannel registers the gateway's back-channel logout URI at the
	// provider (through a relay: the provider starts before the gateway).
	backchannel bool
	// public registers a public client (no secret: PKCE only).
	public bool
}

// newOIDCEnv is a gateway (plain http cookies, so a Go cookie jar sends
// them) with provider "corp" at a fresh test OP, or at shared's.
func newOIDCEnv(t *testing.T, o oidcOptions) *oidcEnv {
	t.Helper()
	op := (*oidctest.Provider)(nil)
	var gatewayURL atomic.Pointer[url.URL]
	if o.shared != nil {
		op = o.shared.op
	} else {
		client := oidctest.Client{ID: opClient, Secret: opSecret}
		if o.public {
			client.Secret = ""
		}
		if o.backchannel {
			relay := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(gatewayURL.Load()) }})
			t.Cleanup(relay.Close)
			client.BackChannelLogoutURI = relay.URL + "/auth/oidc/corp/backchannel-logout"
		}
		op = oidctest.Start(t, oidctest.Options{Clients: []oidctest.Client{client}, Users: opUsers})
	}
	edit := func(c *config.Config) {
		c.Cookies.Secure, c.Cookies.AccessName, c.Cookies.RefreshName = false, "", ""
		ip := config.DefaultIdentityProvider()
		ip.Name, ip.DisplayName, ip.Issuer, ip.ClientID, ip.ClientSecret = "corp", "Corp SSO", op.Issuer(), opClient, opSecret
		ip.RolesClaim, ip.RoleMap = "groups", map[string]string{"staff-group": "staff", "admin-group": "admin"}
		if o.public {
			ip.ClientSecret = ""
		}
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
	u, _ := url.Parse(e.srv.URL)
	gatewayURL.Store(u)
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

// startFlow begins a flow in c and returns the provider's authorization
// URL, without visiting it.
func (e *oidcEnv) startFlow(c *http.Client, rd string) *url.URL {
	e.t.Helper()
	res := get(e.t, noFollow(c), e.srv.URL+"/auth/oidc/corp/start?rd="+url.QueryEscape(rd))
	wantStatus(e.t, "start", res, http.StatusFound)
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), e.op.Issuer()) {
		e.t.Fatalf("start redirected to %q, want the provider", res.Header.Get("Location"))
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("redirect_uri") != e.srv.URL+"/auth/oidc/corp/callback" {
		e.t.Fatalf("authorization request %v lacks PKCE S256, nonce, state or the redirect_uri", q)
	}
	return u
}

// callbackURL is the provider's answer to the authorization request u,
// obtained by following the provider's redirect (AutoLogin) without
// visiting the gateway.
func (e *oidcEnv) callbackURL(u *url.URL) string {
	e.t.Helper()
	res := get(e.t, noFollow(browserClient(e.t)), u.String())
	loc := res.Header.Get("Location")
	for i := 0; i < 5 && loc != "" && !strings.HasPrefix(loc, e.srv.URL); i++ {
		if !strings.HasPrefix(loc, "http") {
			loc = e.op.Issuer() + loc
		}
		res = get(e.t, noFollow(browserClient(e.t)), loc)
		loc = res.Header.Get("Location")
	}
	if !strings.HasPrefix(loc, e.srv.URL+"/auth/oidc/corp/callback?") {
		e.t.Fatalf("provider answered %d Location %q, want the callback", res.StatusCode, loc)
	}
	return loc
}

// TestOIDCCallbackRefusals: a callback that does not continue a flow of
// this browser, or that the provider answered with an error, is a 4xx page
// with a way to start again, never a 5xx, and signs nobody in.
func TestOIDCCallbackRefusals(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	e.op.AutoLogin("sub-dana")
	wantPage := func(t *testing.T, what string, res response, status int, text string) {
		t.Helper()
		wantStatus(t, what, res, status)
		if !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.body, text) ||
			!strings.Contains(res.body, "Start again") {
			t.Errorf("%s: page lacks %q or a Start again link:\n%s", what, text, res.body)
		}
		if res.cookie("portcullis_at") != nil && res.cookie("portcullis_at").MaxAge > 0 {
			t.Errorf("%s: a session cookie was set", what)
		}
	}

	t.Run("state from another browser", func(t *testing.T) {
		victim := browserClient(t)
		cb := e.callbackURL(e.startFlow(victim, "/api/x"))
		res := get(t, noFollow(browserClient(t)), cb) // the attacker's browser holds no flow cookie
		wantPage(t, "callback in another browser", res, http.StatusBadRequest, "not started in this browser")
	})
	t.Run("replayed callback", func(t *testing.T) {
		c := browserClient(t)
		cb := e.callbackURL(e.startFlow(c, "/api/x"))
		wantStatus(t, "first callback", get(t, noFollow(c), cb), http.StatusSeeOther)
		res := get(t, noFollow(c), cb)
		wantPage(t, "the same callback again", res, http.StatusBadRequest, "already used")
	})
	t.Run("state altered", func(t *testing.T) {
		c := browserClient(t)
		cb := e.callbackURL(e.startFlow(c, "/api/x"))
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		wantPage(t, "altered state", get(t, noFollow(c), u.String()), http.StatusBadRequest, "not started in this browser")
	})
	t.Run("expired flow", func(t *testing.T) {
		c := browserClient(t)
		cb := e.callbackURL(e.startFlow(c, "/api/x"))
		e.clock.Advance(11 * time.Minute)
		defer e.clock.Advance(-11 * time.Minute)
		wantPage(t, "late callback", get(t, noFollow(c), cb), http.StatusBadRequest, "expired")
	})
	t.Run("access_denied", func(t *testing.T) {
		c := browserClient(t)
		u := e.startFlow(c, "/api/x")
		cb := e.srv.URL + "/auth/oidc/corp/callback?error=access_denied&state=" + url.QueryEscape(u.Query().Get("state"))
		res := get(t, noFollow(c), cb)
		wantPage(t, "error=access_denied", res, http.StatusForbidden, "cancelled or denied")
		if !strings.Contains(res.body, `/auth/oidc/corp/start?rd=%2Fapi%2Fx`) {
			t.Errorf("Start again does not restart the flow with its rd:\n%s", res.body)
		}
	})
	t.Run("code not issued by the provider", func(t *testing.T) {
		c := browserClient(t)
		u := e.startFlow(c, "/api/x")
		cb := e.srv.URL + "/auth/oidc/corp/callback?code=forged&state=" + url.QueryEscape(u.Query().Get("state"))
		wantPage(t, "forged code", get(t, noFollow(c), cb), http.StatusBadRequest, "could not be accepted")
	})
	hostile := map[string]string{
		"no state":          "/auth/oidc/corp/callback?code=x",
		"oversized state":   "/auth/oidc/corp/callback?code=x&state=0" + strings.Repeat("A", 8000),
		"slot out of range": "/auth/oidc/corp/callback?code=x&state=9abc",
		"binary state":      "/auth/oidc/corp/callback?code=x&state=%00%01",
	}
	for name, path := range hostile {
		t.Run(name, func(t *testing.T) {
			wantPage(t, name, get(t, noFollow(browserClient(t)), e.srv.URL+path), http.StatusBadRequest, "Please start again")
		})
	}
	t.Run("unknown provider", func(t *testing.T) {
		wantStatus(t, "unknown provider", get(t, browserClient(t), e.srv.URL+"/auth/oidc/nope/start"), http.StatusNotFound)
	})
	if n := seriesSum(t, e.reg, "portcullis_oidc_logins_total", map[string]string{"provider": "corp", "result": "refused"}); n < 8 {
		t.Errorf("oidc logins refused = %v, want every refusal counted", n)
	}
	if n := seriesSum(t, e.reg, "portcullis_http_requests_total", map[string]string{"code": "500"}); n != 0 {
		t.Errorf("%v answers were 500", n)
	}
}

// TestOIDCUnreachableProvider: a provider that does not answer makes the
// start of a sign-in a 503 page (never a dead end at the provider's door).
func TestOIDCUnreachableProvider(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	e.op.SetDown(true)
	res := get(t, noFollow(browserClient(t)), e.srv.URL+"/auth/oidc/corp/start?rd=/api/x")
	wantStatus(t, "start with the provider down", res, http.StatusServiceUnavailable)
	if !strings.Contains(res.body, "cannot be reached") || res.Header.Get("Retry-After") == "" {
		t.Errorf("503 page = %q (Retry-After %q)", res.body, res.Header.Get("Retry-After"))
	}
	if n := seriesSum(t, e.reg, "portcullis_oidc_logins_total", map[string]string{"provider": "corp", "result": "error"}); n != 1 {
		t.Errorf("oidc logins error = %v, want 1", n)
	}
	e.op.SetDown(false)
	_, res = e.signIn("sub-dana", "/api/x")
	wantStatus(t, "sign-in once the provider is back", res, http.StatusOK)
}

// TestOIDCUsernameTaken: a provider account whose username is a local
// user's, or another provider account's, is refused with the 403 page, so
// no provider account can take over a local one.
func TestOIDCUsernameTaken(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newOIDCEnv(t, oidcOptions{store: sk})
		_, res := e.signIn("sub-alice-at-op", "/api/x")
		wantStatus(t, "provider account named like local alice", res, http.StatusForbidden)
		if !strings.Contains(res.body, "already belongs to another account") {
			t.Errorf("403 page = %s", res.body)
		}
		// Another (provider, sub) under a name a provider account holds.
		_, res = e.signIn("sub-dana", "/api/x")
		wantStatus(t, "dana", res, http.StatusOK)
		_, res = e.signIn("sub-dana-2", "/api/x")
		wantStatus(t, "a second provider account named dana", res, http.StatusForbidden)
		_, res = e.signIn("sub-dana", "/api/x")
		wantStatus(t, "dana again", res, http.StatusOK)

		// A local user added later under a provider account's name ends
		// that account's sessions at their next request.
		writeUsersFile(t, e.usersPath, func(name string, _ *userEntry) bool { return name != "dave" })
		if err := e.users.Reload(); err != nil {
			t.Fatal(err)
		}
		c, res := e.signIn("sub-dave", "/")
		wantStatus(t, "provider dave while no local dave exists", res, http.StatusOK)
		writeUsersFile(t, e.usersPath, nil)
		if err := e.users.Reload(); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "provider dave after local dave was added", get(t, noFollow(c), e.srv.URL+"/"), http.StatusFound)
	})
}

// TestOIDCLogoutAtProvider: with logout: provider, "Sign out" ends the
// session here and sends the browser to the provider's end_session_endpoint
// with id_token_hint and post_logout_redirect_uri.
func TestOIDCLogoutAtProvider(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, edit: func(ip *config.IdentityProvider) { ip.Logout = config.LogoutProvider }})
	c, _ := e.signIn("sub-dana", "/api/x")
	for _, path := range []string{"/auth/logout", "/auth/logout-all"} {
		if path == "/auth/logout-all" {
			c, _ = e.signIn("sub-dana", "/api/x")
		}
		res := postForm(t, c, e.srv.URL+path, url.Values{"rd": {"/"}})
		wantStatus(t, path, res, http.StatusSeeOther)
		u, err := url.Parse(res.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(u.String(), e.op.Issuer()) || u.Query().Get("id_token_hint") == "" ||
			u.Query().Get("post_logout_redirect_uri") != e.srv.URL+"/auth/login?signed_out=1" {
			t.Errorf("%s redirected to %q, want the provider's end_session with id_token_hint and post_logout_redirect_uri", path, res.Header.Get("Location"))
		}
		wantStatus(t, "after "+path, get(t, noFollow(c), e.srv.URL+"/api/x"), http.StatusFound)
	}
}

// TestOIDCSameSiteStrict: with cookies.same_site: strict the callback
// answers 200 with a page that navigates to rd (a redirect would be part of
// the provider's cross-site navigation and leave the Strict cookies behind).
func TestOIDCSameSiteStrict(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: func(c *config.Config) { c.Cookies.SameSite = "strict" }})
	c, res := e.signIn("sub-dana", "/api/x?y=1")
	wantStatus(t, "callback under strict", res, http.StatusOK)
	if res.Request.URL.Path != "/auth/oidc/corp/callback" || !strings.Contains(res.body, `content="0;url=/api/x?y=1"`) ||
		!strings.Contains(res.body, `href="/api/x?y=1"`) {
		t.Errorf("callback page at %s = %s, want one that navigates to rd", res.Request.URL.Path, res.body)
	}
	wantStatus(t, "rd with the new cookies", get(t, c, e.srv.URL+"/api/x?y=1"), http.StatusOK)
}

// TestOIDCRedirectURI: the redirect_uri comes from the request, with
// X-Forwarded-Proto/-Host believed only from trusted proxies, unless the
// provider sets redirect_url; a forwarded host outside the host grammar is
// refused.
func TestOIDCRedirectURI(t *testing.T) {
	t.Parallel()
	redirectURI := func(t *testing.T, e *oidcEnv, hdr ...string) (int, string) {
		t.Helper()
		res := e.do("GET", "/auth/oidc/corp/start?rd=/", "", append([]string{"Accept", "text/html"}, hdr...)...)
		u, _ := url.Parse(res.Header.Get("Location"))
		return res.StatusCode, u.Query().Get("redirect_uri")
	}
	fwd := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "gw.example.com"}
	t.Run("untrusted peer", func(t *testing.T) {
		e := newOIDCEnv(t, oidcOptions{store: memoryStore})
		if code, got := redirectURI(t, e, fwd...); code != http.StatusFound || got != e.srv.URL+"/auth/oidc/corp/callback" {
			t.Errorf("redirect_uri = %d %q, want the connection's own", code, got)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: trustLoopback})
		if code, got := redirectURI(t, e, fwd...); code != http.StatusFound || got != "https://gw.example.com/auth/oidc/corp/callback" {
			t.Errorf("redirect_uri = %d %q, want the forwarded one", code, got)
		}
		if code, _ := redirectURI(t, e, "X-Forwarded-Host", "evil.example.com/x?"); code != http.StatusBadRequest {
			t.Errorf("hostile X-Forwarded-Host: %d, want 400", code)
		}
	})
	t.Run("redirect_url", func(t *testing.T) {
		e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: trustLoopback, edit: func(ip *config.IdentityProvider) {
			ip.RedirectURL = "https://sso.example.com/auth/oidc/corp/callback"
		}})
		if _, got := redirectURI(t, e, fwd...); got != "https://sso.example.com/auth/oidc/corp/callback" {
			t.Errorf("redirect_uri = %q, want redirect_url", got)
		}
	})
}

// TestOIDCReload: a reload discovers the providers again; one that cannot
// be discovered refuses the reload (the old config keeps serving); a
// provider removed by a reload ends its sessions at their next request.
func TestOIDCReload(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	c, _ := e.signIn("sub-dana", "/api/x")
	next := *e.cfg
	bad := next.IdentityProviders[0]
	bad.Issuer = "http://127.0.0.1:1"
	next.IdentityProviders = []config.IdentityProvider{bad}
	if err := e.g.Reload(&next); err == nil {
		t.Fatal("Reload with an undiscoverable provider succeeded")
	}
	wantStatus(t, "after the refused reload", get(t, c, e.srv.URL+"/api/x"), http.StatusOK)
	next.IdentityProviders = nil
	if err := e.g.Reload(&next); err != nil {
		t.Fatalf("Reload without providers: %v", err)
	}
	res := get(t, noFollow(c), e.srv.URL+"/api/x")
	wantStatus(t, "a removed provider's session", res, http.StatusFound)
	wantStatus(t, "a removed provider's start", get(t, browserClient(t), e.srv.URL+"/auth/oidc/corp/start"), http.StatusNotFound)
}

// TestOIDCProvidersOnlyLoginPage: without a users file the login page shows
// only the provider links, no password form.
func TestOIDCProvidersOnlyLoginPage(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	e.g.users = nil // as serve builds it without users.file
	page := get(t, browserClient(t), e.srv.URL+"/auth/login")
	if strings.Contains(page.body, `name="password"`) || !strings.Contains(page.body, "Sign in with Corp SSO") {
		t.Errorf("login page without a users file:\n%s", page.body)
	}
}

// TestOIDCFlowPerTab: flows started in several tabs of one browser each
// complete, in any order, each returning to its own rd.
func TestOIDCFlowPerTab(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore})
	e.op.AutoLogin("sub-dana")
	c := browserClient(t)
	first := e.callbackURL(e.startFlow(c, "/api/one"))
	second := e.callbackURL(e.startFlow(c, "/api/two"))
	for _, tc := range []struct{ cb, rd string }{{second, "/api/two"}, {first, "/api/one"}} {
		res := get(t, noFollow(c), tc.cb)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.rd {
			t.Errorf("callback = %d to %q, want 303 to %s", res.StatusCode, res.Header.Get("Location"), tc.rd)
		}
	}
}

// TestOIDCFlowCookie: the flow cookie is HttpOnly, SameSite=Lax whatever
// cookies.same_site says, lives for the flow only, and never reaches an
// upstream; the provider requests it causes are timed per endpoint.
func TestOIDCFlowCookie(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: func(c *config.Config) { c.Cookies.SameSite = "strict" }})
	c := browserClient(t)
	res := get(t, noFollow(c), e.srv.URL+"/auth/oidc/corp/start?rd=/pub/x")
	fc := res.cookie("portcullis_oidc_0")
	if fc == nil || !fc.HttpOnly || fc.SameSite != http.SameSiteLaxMode || fc.Path != "/" || fc.MaxAge != 600 || fc.Domain != "" {
		t.Fatalf("flow cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, Max-Age=600, no Domain", fc)
	}
	wantStatus(t, "public route with a flow cookie", get(t, c, e.srv.URL+"/pub/x"), http.StatusOK)
	if cookie := e.up.last(t).Header.Get("Cookie"); strings.Contains(cookie, "portcullis_oidc") {
		t.Errorf("upstream got the flow cookie: %q", cookie)
	}
	if n := seriesSum(t, e.reg, "portcullis_oidc_request_duration_seconds", map[string]string{"provider": "corp", "endpoint": "discovery"}); n < 2 {
		t.Errorf("discovery requests timed = %v, want at least 2 (start-up and the start's check)", n)
	}
}

// TestOIDCForwardAuth: /auth/verify answers for a provider session with the
// provider's username and the session's roles, like any other session.
func TestOIDCForwardAuth(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: trustLoopback})
	c, _ := e.signIn("sub-dana", "/")
	verify := func(uri string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/auth/verify", nil)
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-Host", e.addr())
		req.Header.Set("X-Forwarded-Method", "GET")
		res, err := noFollow(c).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := verify("/api/x")
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Auth-User") != "dana" || res.Header.Get("X-Auth-Roles") != "staff" {
		t.Errorf("verify /api/x = %d %q %q, want 200 dana staff", res.StatusCode, res.Header.Get("X-Auth-User"), res.Header.Get("X-Auth-Roles"))
	}
	if res := verify("/adminarea"); res.StatusCode != http.StatusForbidden {
		t.Errorf("verify /adminarea = %d, want 403", res.StatusCode)
	}
}

// TestOIDCPublicClient: a public client (no client_secret) signs in with
// PKCE alone, and its provider refresh works too.
func TestOIDCPublicClient(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, public: true})
	c, res := e.signIn("sub-erin", "/adminarea")
	wantStatus(t, "public client sign-in", res, http.StatusOK)
	e.op.SetGroups("sub-erin", "staff-group")
	e.clock.Advance(6 * time.Minute)
	wantStatus(t, "after a provider refresh", get(t, c, e.srv.URL+"/adminarea"), http.StatusForbidden)
}

// TestOIDCAdminByUsername: the admin API names a provider account by its
// username (what upstreams see), through the username's claim.
func TestOIDCAdminByUsername(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("t", 40)
	e := newOIDCEnv(t, oidcOptions{store: memoryStore, cfg: func(c *config.Config) { c.Admin.Token = config.Secret(token) }})
	c, _ := e.signIn("sub-dana", "/")
	admin := serve(t, e.g.AdminHandler())
	res := do(t, "GET", admin+"/admin/users/dana/sessions", "", "Authorization", "Bearer "+token)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `"provider":"corp"`) {
		t.Fatalf("admin list of dana = %d %s, want her provider session", res.StatusCode, res.body)
	}
	wantStatus(t, "admin revoke all of dana", do(t, "DELETE", admin+"/admin/users/dana/sessions", "", "Authorization", "Bearer "+token), http.StatusNoContent)
	wantStatus(t, "dana after the admin revoked her", get(t, noFollow(c), e.srv.URL+"/api/x"), http.StatusFound)
	if n := seriesSum(t, e.reg, "portcullis_sessions_revoked_total", map[string]string{"reason": "admin"}); n != 1 {
		t.Errorf("sessions revoked admin = %v, want 1", n)
	}
}
