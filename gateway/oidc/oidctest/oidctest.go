// Package oidctest runs a real OpenID Provider in-process for Portcullis' tests.
//
// The provider is github.com/zitadel/oidc/v3/pkg/op (a certified OP
// implementation) over an in-memory storage written for tests, served with
// net/http/httptest on 127.0.0.1 (plain http: Portcullis allows http issuers
// only on loopback). It speaks discovery, JWKS, the authorization code flow
// (PKCE S256, state, nonce), the authorization_code and refresh_token grants
// (refresh tokens rotate; presenting a spent one is refused and revokes its
// whole family), userinfo and RP-initiated logout (end_session with
// id_token_hint and post_logout_redirect_uri). ID tokens carry sid, groups,
// preferred_username, email and email_verified. Ending a provider session
// (end_session, EndSessions) sends back-channel logouts to the clients that
// registered a BackChannelLogoutURI, as Keycloak does.
//
// Only tests may import this package.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Options configures a Provider.
type Options struct {
	Clients []Client
	Users   []User
}

// Client is a relying party registered at the provider.
type Client struct {
	// ID and Secret: Secret "" makes a public client (PKCE required, token
	// endpoint auth method none); otherwise client_secret_basic or
	// client_secret_post.
	ID, Secret string
	// RedirectURIs match exactly; SetRedirectURIs changes them later.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// BackChannelLogoutURI, when set, receives a back-channel logout
	// (OpenID Connect Back-Channel Logout 1.0: a POST with a logout_token
	// carrying sub and sid) whenever a provider session the client signed in
	// through ends: end_session or EndSessions. Deliveries are synchronous
	// (before end_session redirects) and listed by BackChannelDeliveries.
	BackChannelLogoutURI string
}

// User is an account at the provider. Subject is "sub"; Username is
// "preferred_username" (scope profile); Email and EmailVerified are "email"
// and "email_verified" (scope email; email_verified is always present, false
// included).
type User struct {
	Subject, Username, Email string
	EmailVerified            bool
	// Groups is emitted as the "groups" claim (ID token and userinfo), an
	// empty array when the user has none.
	Groups []string
	// Password is checked by the HTML login form.
	Password string
}

// Lifetimes of what the provider issues.
const (
	AccessTokenLifetime  = time.Hour
	RefreshTokenLifetime = 24 * time.Hour
	IDTokenLifetime      = time.Hour
	authRequestLifetime  = 10 * time.Minute
)

// Provider is a running OpenID Provider. Its methods are safe for concurrent
// use.
type Provider struct {
	srv    *httptest.Server
	op     *op.Provider
	st     *storage
	issuer string
}

// Start runs a provider on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidctest: signing key: %v", err)
	}
	st := newStorage(issuer, key, opts)

	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatalf("oidctest: token key: %v", err)
	}
	cfg := &op.Config{
		CryptoKey:                         cryptoKey,
		DefaultLogoutRedirectURI:          issuer + loggedOutPath,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedClaims:                   append(slices.Clone(op.DefaultSupportedClaims), "groups", "sid"),
		SupportedScopes:                   []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess, "groups"},
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	provider, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatalf("oidctest: provider: %v", err)
	}
	p := &Provider{srv: srv, op: provider, st: st, issuer: issuer}

	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.serveLogin)
	mux.HandleFunc(cancelPath, p.serveCancel)
	mux.HandleFunc(loggedOutPath, serveLoggedOut)
	mux.HandleFunc("/userinfo", p.serveUserinfo)
	mux.Handle("/", provider)
	srv.Config.Handler = p.front(mux)
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// Issuer is the provider's issuer URL, http://127.0.0.1:PORT.
func (p *Provider) Issuer() string { return p.issuer }

// SetRedirectURIs replaces the client's registered redirect URIs.
func (p *Provider) SetRedirectURIs(clientID string, uris ...string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if c, ok := p.st.clients[clientID]; ok {
		c.redirectURIs = slices.Clone(uris)
	}
}

// AutoLogin makes authorize requests complete at once as subject, with no
// login form, until AutoLogin(""): Go tests follow the redirects with a
// plain client. An unknown or disabled subject gets error=access_denied.
func (p *Provider) AutoLogin(subject string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.autoLogin = subject
}

// SetGroups replaces the subject's groups; tokens issued from now on (ID
// tokens of later refreshes, userinfo) carry the new ones.
func (p *Provider) SetGroups(subject string, groups ...string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if u, ok := p.st.users[subject]; ok {
		u.Groups = slices.Clone(groups)
	}
}

// Disable disables the subject's account: the refresh_token grant answers
// invalid_grant, userinfo answers 401 and logins are refused.
func (p *Provider) Disable(subject string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.disabled[subject] = true
}

// SetDown makes every endpoint answer 503 (true) or serve again (false):
// the provider is unreachable, nothing it has issued changes.
func (p *Provider) SetDown(down bool) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.down = down
}

// SessionID is the "sid" of the subject's current session at the provider,
// as put in its ID tokens; "" when the subject has none. The current session
// is the one most recently started: by a first login, by a login in a
// browser without the provider's session cookie (login form), or by
// NewSession. AutoLogin logins join it (starting one if there is none); a
// browser with a live provider session cookie joins that session. A session
// lives until end_session ends it.
func (p *Provider) SessionID(subject string) string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.current[subject]
}

// NewSession starts another provider session for subject, as a sign-in from
// another browser would, makes it the current one (the next AutoLogin login
// joins it) and returns its sid. Earlier sessions stay alive.
func (p *Provider) NewSession(subject string) string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.startSession(subject)
}

// EndSessions ends every provider session of subject, as an administrator
// signing the user out at the provider would: their tokens stop working
// (refresh invalid_grant, userinfo 401) and every client signed in through
// them that registered a BackChannelLogoutURI gets a back-channel logout
// before EndSessions returns.
func (p *Provider) EndSessions(subject string) {
	p.st.mu.Lock()
	var owed []backChannelLogout
	for _, sid := range slices.Sorted(maps.Keys(p.st.live)) {
		if p.st.live[sid] == subject {
			owed = append(owed, p.st.endSession(sid)...)
		}
	}
	p.st.mu.Unlock()
	p.st.sendBackChannelLogouts(context.Background(), owed)
}

// IssueRefreshTokens decides whether code exchanges from now on return a
// refresh token (true, the default, whatever the scopes) or none (false:
// the relying party has to fall back to userinfo). Refresh grants on
// tokens already issued keep rotating.
func (p *Provider) IssueRefreshTokens(on bool) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.issueRefresh = on
}

// Requests lists the paths the provider was asked for, in order.
func (p *Provider) Requests() []string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return slices.Clone(p.st.requests)
}

// front records every request and answers 503 while the provider is down.
func (p *Provider) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.st.mu.Lock()
		p.st.requests = append(p.st.requests, r.URL.Path)
		down := p.st.down
		p.st.mu.Unlock()
		if down {
			http.Error(w, "provider unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveUserinfo answers 401 with an invalid_token challenge (RFC 6750) when
// the access token is unknown, expired, revoked or its user disabled, which
// the op package would answer with 403; a valid token goes on to op.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if ok {
		ok = false
		if plain, err := p.op.Crypto().Decrypt(token); err == nil {
			if id, subject, found := strings.Cut(plain, ":"); found {
				ok = p.st.accessTokenValid(id, subject)
			}
		}
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	p.op.ServeHTTP(w, r)
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// randomID is 128 random bits, base64url.
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("oidctest: random: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Logout is one end_session request the provider served.
type Logout struct {
	Subject     string // from the id_token_hint; "" without one
	ClientID    string // the hint's azp, or the client_id parameter
	SessionID   string // the hint's sid
	RedirectURI string // where the browser was sent: post_logout_redirect_uri (with state) or the provider's signed-out page
}

// Logouts lists the end_session requests served, in order.
func (p *Provider) Logouts() []Logout {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return slices.Clone(p.st.logouts)
}
