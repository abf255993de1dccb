package oidctest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/gateway/oidc/oidctest"
)

const (
	redirectURI   = "http://127.0.0.1:1/auth/oidc/test/callback"
	postLogoutURI = "http://127.0.0.1:1/auth/signed-out"
)

var (
	alice = oidctest.User{
		Subject: "sub-alice", Username: "alice", Email: "alice@example.org", EmailVerified: true,
		Groups: []string{"staff", "ops"}, Password: "alice-pw",
	}
	bob = oidctest.User{
		Subject: "sub-bob", Username: "bob", Email: "bob@example.org", EmailVerified: false,
		Password: "bob-pw",
	}
	confidential = oidctest.Client{
		ID: "portcullis", Secret: "s3cret",
		RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{postLogoutURI},
	}
	public = oidctest.Client{
		ID:           "portcullis-public",
		RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{postLogoutURI},
	}
)

func start(t *testing.T) *oidctest.Provider {
	t.Helper()
	return oidctest.Start(t, oidctest.Options{
		Clients: []oidctest.Client{confidential, public},
		Users:   []oidctest.User{alice, bob},
	})
}

// rp is a relying party as Portcullis builds it: go-oidc discovery and ID
// token verification, x/oauth2 for the code flow.
type rp struct {
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client
}

func newRP(t *testing.T, ctx context.Context, p *oidctest.Provider, c oidctest.Client) *rp {
	t.Helper()
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rp{
		provider: provider,
		config: oauth2.Config{
			ClientID: c.ID, ClientSecret: c.Secret, Endpoint: provider.Endpoint(),
			RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: c.ID}),
		browser: &http.Client{
			Jar: jar,
			// Stop at the client's redirect URI, like a browser reaching the RP.
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				if strings.HasPrefix(req.URL.String(), "http://127.0.0.1:1/") {
					return http.ErrUseLastResponse
				}
				return nil
			},
		},
	}
}

// authorize follows the authorize redirects and returns the query the
// provider sent to the redirect URI.
func (r *rp) authorize(t *testing.T, ctx context.Context, state, nonce, verifier string) url.Values {
	t.Helper()
	u := r.config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return r.follow(t, ctx, u)
}

func (r *rp) follow(t *testing.T, ctx context.Context, u string) url.Values {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.browser.Do(req)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize: status %d, want 302 to the client: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query()
}

// login runs the whole code flow and returns the token and verified ID token.
func (r *rp) login(t *testing.T, ctx context.Context) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := r.authorize(t, ctx, "state-1", "nonce-1", verifier)
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("callback query %v: want state-1 and a code", q)
	}
	tok, err := r.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	id := r.verifyIDToken(t, ctx, tok)
	if id.Nonce != "nonce-1" {
		t.Fatalf("nonce %q, want nonce-1", id.Nonce)
	}
	return tok, id
}

func (r *rp) verifyIDToken(t *testing.T, ctx context.Context, tok *oauth2.Token) *oidc.IDToken {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("no id_token in the token response")
	}
	id, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	return id
}

type claims struct {
	Sub               string   `json:"sub"`
	SID               string   `json:"sid"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Groups            []string `json:"groups"`
	AZP               string   `json:"azp"`
}

func idClaims(t *testing.T, id *oidc.IDToken) claims {
	t.Helper()
	var c claims
	if err := id.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestDiscovery(t *testing.T) {
	p := start(t)
	resp, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Issuer                string   `json:"issuer"`
		Authorization         string   `json:"authorization_endpoint"`
		Token                 string   `json:"token_endpoint"`
		Userinfo              string   `json:"userinfo_endpoint"`
		JWKS                  string   `json:"jwks_uri"`
		EndSession            string   `json:"end_session_endpoint"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		GrantTypes            []string `json:"grant_types_supported"`
		BackChannelLogout     bool     `json:"backchannel_logout_supported"`
		BackChannelLogoutSess bool     `json:"backchannel_logout_session_supported"`
		Claims                []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") || d.Issuer != p.Issuer() {
		t.Fatalf("issuer %q (discovery %q), want http://127.0.0.1:PORT in both", p.Issuer(), d.Issuer)
	}
	for name, ep := range map[string]string{"authorization": d.Authorization, "token": d.Token, "userinfo": d.Userinfo, "jwks": d.JWKS, "end_session": d.EndSession} {
		if !strings.HasPrefix(ep, p.Issuer()+"/") {
			t.Errorf("%s endpoint %q not under the issuer", name, ep)
		}
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", d.CodeChallengeMethods)
	}
	if !slices.Contains(d.GrantTypes, "refresh_token") {
		t.Errorf("grant_types_supported %v lacks refresh_token", d.GrantTypes)
	}
	if !d.BackChannelLogout || !d.BackChannelLogoutSess {
		t.Errorf("backchannel logout supported %v, session %v; want both", d.BackChannelLogout, d.BackChannelLogoutSess)
	}
	for _, c := range []string{"groups", "sid", "email_verified", "preferred_username"} {
		if !slices.Contains(d.Claims, c) {
			t.Errorf("claims_supported %v lacks %s", d.Claims, c)
		}
	}
	if got := p.Requests(); !slices.Contains(got, "/.well-known/openid-configuration") {
		t.Errorf("Requests() = %v, want the discovery path", got)
	}
}

func TestCodeFlowPKCE(t *testing.T) {
	for _, c := range []oidctest.Client{confidential, public} {
		t.Run(c.ID, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p := start(t)
			p.AutoLogin(alice.Subject)
			r := newRP(t, ctx, p, c)
			tok, id := r.login(t, ctx)

			got := idClaims(t, id)
			want := claims{Sub: alice.Subject, SID: p.SessionID(alice.Subject), PreferredUsername: "alice",
				Email: alice.Email, Groups: alice.Groups, AZP: c.ID}
			if got.SID == "" || got.Sub != want.Sub || got.SID != want.SID || got.PreferredUsername != want.PreferredUsername ||
				got.Email != want.Email || got.EmailVerified == nil || !*got.EmailVerified ||
				!slices.Equal(got.Groups, want.Groups) || got.AZP != want.AZP {
				t.Fatalf("ID token claims %+v, want %+v with email_verified true", got, want)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token")
			}

			info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var ui claims
			if err := info.Claims(&ui); err != nil {
				t.Fatal(err)
			}
			if ui.Sub != alice.Subject || ui.PreferredUsername != "alice" || !info.EmailVerified || !slices.Equal(ui.Groups, alice.Groups) {
				t.Fatalf("userinfo %+v", ui)
			}

			// A second login in the same provider session keeps its sid.
			_, id2 := r.login(t, ctx)
			if sid := idClaims(t, id2).SID; sid != got.SID {
				t.Fatalf("second login sid %q, want the session's %q", sid, got.SID)
			}
		})
	}
}

func TestEmailNotVerifiedIsExplicit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(bob.Subject)
	_, id := newRP(t, ctx, p, confidential).login(t, ctx)
	c := idClaims(t, id)
	if c.EmailVerified == nil || *c.EmailVerified || c.Email != bob.Email {
		t.Fatalf("claims %+v: want email with email_verified false present", c)
	}
	if c.Groups == nil || len(c.Groups) != 0 {
		t.Fatalf("groups %#v, want an empty array", c.Groups)
	}
}

func TestRefreshRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tok, id := r.login(t, ctx)
	sid := idClaims(t, id).SID

	refresh := func(rt string) (*oauth2.Token, error) {
		return r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	next, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh token not rotated: %q", next.RefreshToken)
	}
	c := idClaims(t, r.verifyIDToken(t, ctx, next))
	if c.Sub != alice.Subject || c.SID != sid || !slices.Equal(c.Groups, alice.Groups) {
		t.Fatalf("refreshed ID token %+v, want sub, sid %q and groups", c, sid)
	}

	// Reuse of the spent token is refused and revokes the whole family.
	if _, err := refresh(tok.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Fatalf("reused refresh token: %v, want invalid_grant", err)
	}
	if _, err := refresh(next.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Fatalf("refresh token of a revoked family: %v, want invalid_grant", err)
	}
	for _, bad := range []string{"not-a-token", strings.Repeat("x", 4096), ""} {
		if _, err := refresh(bad); err == nil {
			t.Errorf("refresh with %.10q accepted", bad)
		}
	}
}

func TestCodeFlowRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		q := r.authorize(t, ctx, "s", "n", oauth2.GenerateVerifier())
		_, err := r.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if errorCode(err) != "invalid_grant" {
			t.Fatalf("exchange: %v, want invalid_grant", err)
		}
	})
	t.Run("code replayed", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := r.authorize(t, ctx, "s", "n", v)
		if _, err := r.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); errorCode(err) != "invalid_grant" {
			t.Fatalf("replayed code: %v, want invalid_grant", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		q := r.authorize(t, ctx, "s", "n", v)
		bad := r.config
		bad.ClientSecret = "wrong"
		if _, err := bad.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); errorCode(err) != "invalid_client" {
			t.Fatalf("exchange: %v, want invalid_client", err)
		}
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		pub := newRP(t, ctx, p, public)
		q := pub.follow(t, ctx, pub.config.AuthCodeURL("s"))
		if _, err := pub.config.Exchange(ctx, q.Get("code")); errorCode(err) != "invalid_request" {
			t.Fatalf("exchange: %v, want invalid_request", err)
		}
	})
	t.Run("unregistered redirect URI", func(t *testing.T) {
		bad := r.config
		bad.RedirectURL = "http://127.0.0.1:1/elsewhere"
		resp, err := r.browser.Get(bad.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400 and no redirect", resp.StatusCode)
		}
	})
	t.Run("SetRedirectURIs", func(t *testing.T) {
		p.SetRedirectURIs(confidential.ID, "http://127.0.0.1:1/other")
		defer p.SetRedirectURIs(confidential.ID, redirectURI)
		resp, err := r.browser.Get(r.config.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d after the redirect URI was unregistered, want 400", resp.StatusCode)
		}
	})
	t.Run("unknown subject", func(t *testing.T) {
		p.AutoLogin("nobody")
		defer p.AutoLogin(alice.Subject)
		q := r.authorize(t, ctx, "s-unknown", "n", oauth2.GenerateVerifier())
		if q.Get("error") != "access_denied" || q.Get("state") != "s-unknown" || q.Get("code") != "" {
			t.Fatalf("callback %v, want error=access_denied with the state", q)
		}
	})
}

func TestLogoutTokenVerifiesWithJWKS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: confidential.ID})

	tok, err := verifier.Verify(ctx, p.LogoutToken(confidential.ID, alice.Subject, "sid-1", nil))
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	var c struct {
		SID    string                    `json:"sid"`
		JTI    string                    `json:"jti"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if tok.Subject != alice.Subject || c.SID != "sid-1" || c.JTI == "" || c.Nonce != nil {
		t.Fatalf("claims sub %q %+v", tok.Subject, c)
	}
	if _, ok := c.Events[oidctest.BackChannelLogoutEvent]; !ok {
		t.Fatalf("events %v lack the back-channel logout event", c.Events)
	}
	if first, second := p.LogoutToken(confidential.ID, "", "", nil), p.LogoutToken(confidential.ID, "", "", nil); first == second {
		t.Fatal("two logout tokens are identical: jti not fresh")
	}

	expired := p.LogoutToken(confidential.ID, alice.Subject, "", func(m map[string]any) {
		m["exp"] = time.Now().Add(-time.Minute).Unix()
	})
	if _, err := verifier.Verify(ctx, expired); err == nil {
		t.Fatal("expired logout token verified")
	}
	noSub := p.LogoutToken(confidential.ID, alice.Subject, "", func(m map[string]any) { delete(m, "sub") })
	if tok, err := verifier.Verify(ctx, noSub); err != nil || tok.Subject != "" {
		t.Fatalf("mutate delete sub: %v, sub %q", err, tok.Subject)
	}

	idLike := map[string]any{"iss": p.Issuer(), "aud": confidential.ID, "sub": alice.Subject,
		"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix()}
	if _, err := verifier.Verify(ctx, p.SignJWT(idLike)); err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
	if _, err := verifier.Verify(ctx, p.SignJWTForeign(idLike)); err == nil {
		t.Fatal("token signed by a foreign key verified")
	}
	if _, err := verifier.Verify(ctx, oidctest.UnsignedJWT(idLike)); err == nil {
		t.Fatal("alg none token verified")
	}
}

func TestSetGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tok, _ := r.login(t, ctx)

	for _, groups := range [][]string{{"admins"}, {}} {
		p.SetGroups(alice.Subject, groups...)
		next, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		tok = next
		if got := idClaims(t, r.verifyIDToken(t, ctx, tok)).Groups; got == nil || !slices.Equal(got, groups) {
			t.Fatalf("refreshed ID token groups %#v, want %#v", got, groups)
		}
		info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var ui claims
		if err := info.Claims(&ui); err != nil {
			t.Fatal(err)
		}
		if ui.Groups == nil || !slices.Equal(ui.Groups, groups) {
			t.Fatalf("userinfo groups %#v, want %#v", ui.Groups, groups)
		}
	}
}

// userinfoStatus is the status of a userinfo request with the access token.
func userinfoStatus(t *testing.T, ctx context.Context, r *rp, accessToken string) (int, string) {
	t.Helper()
	var ep struct {
		Userinfo string `json:"userinfo_endpoint"`
	}
	if err := r.provider.Claims(&ep); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.Userinfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func TestDisable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tok, _ := r.login(t, ctx)
	if status, _ := userinfoStatus(t, ctx, r, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo before Disable: %d", status)
	}

	p.Disable(alice.Subject)
	if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); errorCode(err) != "invalid_grant" {
		t.Fatalf("refresh of a disabled account: %v, want invalid_grant", err)
	}
	if status, challenge := userinfoStatus(t, ctx, r, tok.AccessToken); status != http.StatusUnauthorized || !strings.Contains(challenge, "invalid_token") {
		t.Fatalf("userinfo of a disabled account: %d %q, want 401 invalid_token", status, challenge)
	}
	q := r.authorize(t, ctx, "s-disabled", "n", oauth2.GenerateVerifier())
	if q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Fatalf("login of a disabled account: %v, want error=access_denied", q)
	}

	// Hostile access tokens get the same 401.
	for _, bad := range []string{"garbage", strings.Repeat("A", 8192), tok.AccessToken + "x"} {
		if status, _ := userinfoStatus(t, ctx, r, bad); status != http.StatusUnauthorized {
			t.Errorf("userinfo with %.10q: %d, want 401", bad, status)
		}
	}
}

func TestSetDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tok, _ := r.login(t, ctx)

	p.SetDown(true)
	for _, path := range []string{"/.well-known/openid-configuration", "/keys", "/authorize", "/oauth/token", "/userinfo", "/end_session"} {
		resp, err := http.Get(p.Issuer() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s while down: %d, want 503", path, resp.StatusCode)
		}
	}
	_, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("refresh while down: %v, want a 503", err)
	}
	if status, _ := userinfoStatus(t, ctx, r, tok.AccessToken); status != http.StatusServiceUnavailable {
		t.Fatalf("userinfo while down: %d, want 503", status)
	}

	p.SetDown(false)
	if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh once up again (the token was never spent): %v", err)
	}
}

func TestIssueRefreshTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)

	p.IssueRefreshTokens(false)
	tok, _ := r.login(t, ctx)
	if tok.RefreshToken != "" {
		t.Fatalf("refresh token %q issued with IssueRefreshTokens(false)", tok.RefreshToken)
	}
	if status, _ := userinfoStatus(t, ctx, r, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	r.config.Scopes = append(r.config.Scopes, oidc.ScopeOfflineAccess)
	if tok, _ := r.login(t, ctx); tok.RefreshToken != "" {
		t.Fatal("refresh token issued for offline_access with IssueRefreshTokens(false)")
	}

	p.IssueRefreshTokens(true)
	r.config.Scopes = r.config.Scopes[:len(r.config.Scopes)-1]
	if tok, _ := r.login(t, ctx); tok.RefreshToken == "" {
		t.Fatal("no refresh token with IssueRefreshTokens(true) and no offline_access scope")
	}
}

func endSessionURL(t *testing.T, r *rp, q url.Values) string {
	t.Helper()
	var ep struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.provider.Claims(&ep); err != nil || ep.EndSession == "" {
		t.Fatalf("end_session_endpoint %q: %v", ep.EndSession, err)
	}
	return ep.EndSession + "?" + q.Encode()
}

func getNoRedirect(t *testing.T, ctx context.Context, u string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestEndSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tok, id := r.login(t, ctx)
	sid := idClaims(t, id).SID
	rawID := tok.Extra("id_token").(string)

	refused := []struct {
		name string
		q    url.Values
	}{
		{"unregistered post_logout_redirect_uri", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"http://127.0.0.1:1/evil"}}},
		{"hint signed by a foreign key", url.Values{"id_token_hint": {p.SignJWTForeign(map[string]any{"iss": p.Issuer(), "sub": alice.Subject, "aud": confidential.ID, "azp": confidential.ID, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})}, "post_logout_redirect_uri": {postLogoutURI}}},
		{"alg none hint", url.Values{"id_token_hint": {oidctest.UnsignedJWT(map[string]any{"iss": p.Issuer(), "sub": alice.Subject, "aud": confidential.ID})}, "post_logout_redirect_uri": {postLogoutURI}}},
		{"malformed hint", url.Values{"id_token_hint": {"a.b.c"}}},
		{"client_id other than the hint's azp", url.Values{"id_token_hint": {rawID}, "client_id": {public.ID}}},
	}
	for _, tc := range refused {
		if resp := getNoRedirect(t, ctx, endSessionURL(t, r, tc.q)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if p.SessionID(alice.Subject) != sid || len(p.Logouts()) != 0 {
		t.Fatalf("a refused end_session ended the session")
	}

	resp := getNoRedirect(t, ctx, endSessionURL(t, r, url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {postLogoutURI}, "state": {"st"}}))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != postLogoutURI+"?state=st" {
		t.Fatalf("end_session: %d to %q, want 302 to %s?state=st", resp.StatusCode, resp.Header.Get("Location"), postLogoutURI)
	}
	want := oidctest.Logout{Subject: alice.Subject, ClientID: confidential.ID, SessionID: sid, RedirectURI: postLogoutURI + "?state=st"}
	if got := p.Logouts(); len(got) != 1 || got[0] != want {
		t.Fatalf("Logouts() = %+v, want [%+v]", got, want)
	}
	if got := p.SessionID(alice.Subject); got != "" {
		t.Fatalf("SessionID after end_session = %q, want none", got)
	}
	if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); errorCode(err) != "invalid_grant" {
		t.Fatalf("refresh after end_session: %v, want invalid_grant", err)
	}
	if status, _ := userinfoStatus(t, ctx, r, tok.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("userinfo after end_session: %d, want 401", status)
	}
	// The next login starts a new provider session.
	if _, id := r.login(t, ctx); idClaims(t, id).SID == sid || idClaims(t, id).SID != p.SessionID(alice.Subject) {
		t.Fatalf("sid after a new login %q, old %q", idClaims(t, id).SID, sid)
	}

	// No hint, no redirect: the provider's own signed-out page.
	resp = getNoRedirect(t, ctx, endSessionURL(t, r, url.Values{}))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != p.Issuer()+"/logged-out" {
		t.Fatalf("bare end_session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestLoginForm drives the HTML form as a browser would: the form, a wrong
// password, the right one, then single sign-on by the provider's session
// cookie until end_session.
func TestLoginForm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	r := newRP(t, ctx, p, confidential)

	form := func() (action string, id string) {
		resp, err := r.browser.Get(r.config.AuthCodeURL("s-form", oidc.Nonce("n-form"), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		page := string(body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("authorize without AutoLogin: %d, want the form", resp.StatusCode)
		}
		for _, want := range []string{`<input name="username" id="username"`, `<input name="password" type="password" id="password"`, `<button type="submit">`} {
			if !strings.Contains(page, want) {
				t.Fatalf("login page lacks %s:\n%s", want, page)
			}
		}
		_, rest, _ := strings.Cut(page, `name="authRequestID" value="`)
		id, _, _ = strings.Cut(rest, `"`)
		return resp.Request.URL.Scheme + "://" + resp.Request.URL.Host + "/login", id
	}
	post := func(action, id, user, password string) *http.Response {
		resp, err := r.browser.PostForm(action, url.Values{"authRequestID": {id}, "username": {user}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	action, id := form()
	for _, bad := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "alice-pw"}, {"", ""}, {"alice", strings.Repeat("x", 100000)}} {
		if resp := post(action, id, bad[0], bad[1]); resp.StatusCode != http.StatusOK {
			t.Fatalf("login %q/%.8q: %d, want the form again", bad[0], bad[1], resp.StatusCode)
		}
	}
	if resp := post(action, "forged-id", "alice", "alice-pw"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("login with an unknown auth request: %d, want 400", resp.StatusCode)
	}
	p.AutoLogin(alice.Subject)
	r.login(t, ctx) // a provider session started elsewhere, without the cookie
	p.AutoLogin("")
	elsewhere := p.SessionID(alice.Subject)
	resp := post(action, id, "alice", "alice-pw")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s-form" {
		t.Fatalf("login: %d to %q, want the client with a code", resp.StatusCode, loc)
	}
	if sid := p.SessionID(alice.Subject); sid == "" || sid == elsewhere {
		t.Fatalf("the form login's session %q, want a new one (not %q)", sid, elsewhere)
	}

	// Same browser: signed in by the provider session, no form.
	q := r.authorize(t, ctx, "s-sso", "n", oauth2.GenerateVerifier())
	if q.Get("code") == "" {
		t.Fatalf("second authorize in the browser: %v, want a code without the form", q)
	}

	// After end_session the form is back.
	p.AutoLogin(alice.Subject)
	tok, _ := r.login(t, ctx)
	p.AutoLogin("")
	getNoRedirect(t, ctx, endSessionURL(t, r, url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}))
	form()

	// Cancel gives access_denied at the client.
	_, id = form()
	q = r.follow(t, ctx, p.Issuer()+"/login/cancel?authRequestID="+url.QueryEscape(id))
	if q.Get("error") != "access_denied" || q.Get("state") != "s-form" {
		t.Fatalf("cancel: %v, want error=access_denied with the state", q)
	}
}

// TestConcurrentSpend: of several simultaneous uses of one code or one refresh
// token, exactly one gets tokens.
func TestConcurrentSpend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	for range 5 {
		v := oauth2.GenerateVerifier()
		code := r.authorize(t, ctx, "s", "n", v).Get("code")
		tokens := race(func() (*oauth2.Token, error) { return r.config.Exchange(ctx, code, oauth2.VerifierOption(v)) })
		if len(tokens) != 1 {
			t.Fatalf("one code exchanged concurrently: %d successes, want 1", len(tokens))
		}
		refreshed := race(func() (*oauth2.Token, error) {
			return r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tokens[0].RefreshToken}).Token()
		})
		if len(refreshed) != 1 {
			t.Fatalf("one refresh token spent concurrently: %d successes, want 1", len(refreshed))
		}
	}
}

const racers = 8

func race(f func() (*oauth2.Token, error)) []*oauth2.Token {
	results := make(chan *oauth2.Token, racers)
	start := make(chan struct{})
	for range racers {
		go func() {
			<-start
			tok, err := f()
			if err != nil {
				tok = nil
			}
			results <- tok
		}()
	}
	close(start)
	var ok []*oauth2.Token
	for range racers {
		if tok := <-results; tok != nil {
			ok = append(ok, tok)
		}
	}
	return ok
}

// TestSessionsPerBrowser: NewSession gives a subject a second provider
// session with its own sid, and end_session ends only the hinted one.
func TestSessionsPerBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t)
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, confidential)
	tokA, idA := r.login(t, ctx)
	sidA := idClaims(t, idA).SID

	sidB := p.NewSession(alice.Subject)
	tokB, idB := r.login(t, ctx)
	if got := idClaims(t, idB).SID; got != sidB || sidB == sidA || p.SessionID(alice.Subject) != sidB {
		t.Fatalf("after NewSession: login sid %q, NewSession %q, SessionID %q, first %q", got, sidB, p.SessionID(alice.Subject), sidA)
	}

	getNoRedirect(t, ctx, endSessionURL(t, r, url.Values{"id_token_hint": {tokA.Extra("id_token").(string)}}))
	if got := p.Logouts(); len(got) != 1 || got[0].SessionID != sidA {
		t.Fatalf("Logouts() = %+v, want one for %s", got, sidA)
	}
	if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tokA.RefreshToken}).Token(); errorCode(err) != "invalid_grant" {
		t.Fatalf("refresh in the ended session: %v, want invalid_grant", err)
	}
	if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tokB.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh in the other session: %v", err)
	}
	if p.SessionID(alice.Subject) != sidB {
		t.Fatalf("SessionID = %q, want the surviving %q", p.SessionID(alice.Subject), sidB)
	}
}

// TestBackChannelLogoutDelivery: ending a provider session sends each
// client signed in through it (with a back-channel logout URI) a logout
// token that verifies with the JWKS and names the session.
func TestBackChannelLogoutDelivery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type received struct {
		contentType, token string
	}
	got := make(chan received, 10)
	var status atomic.Int32
	status.Store(http.StatusOK)
	rpServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("back-channel logout with %s", r.Method)
		}
		got <- received{r.Header.Get("Content-Type"), r.PostFormValue("logout_token")}
		w.WriteHeader(int(status.Load()))
	}))
	defer rpServer.Close()

	withBCL := confidential
	withBCL.BackChannelLogoutURI = rpServer.URL + "/auth/oidc/test/backchannel-logout"
	unreachable := oidctest.Client{ID: "unreachable", Secret: "x", RedirectURIs: []string{redirectURI},
		BackChannelLogoutURI: "http://127.0.0.1:1/backchannel-logout"}
	p := oidctest.Start(t, oidctest.Options{
		Clients: []oidctest.Client{withBCL, public, unreachable},
		Users:   []oidctest.User{alice, bob},
	})
	p.AutoLogin(alice.Subject)
	r := newRP(t, ctx, p, withBCL)
	verifier := r.provider.Verifier(&oidc.Config{ClientID: withBCL.ID})

	tok, id := r.login(t, ctx)
	sid := idClaims(t, id).SID
	newRP(t, ctx, p, public).login(t, ctx) // same session, no back-channel URI

	resp := getNoRedirect(t, ctx, endSessionURL(t, r, url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("end_session: %d", resp.StatusCode)
	}
	// The delivery happened before end_session answered.
	want := []oidctest.BackChannelDelivery{{ClientID: withBCL.ID, URI: withBCL.BackChannelLogoutURI, Subject: alice.Subject, SessionID: sid, Status: http.StatusOK}}
	if d := p.BackChannelDeliveries(); !slices.Equal(d, want) {
		t.Fatalf("deliveries %+v, want %+v", d, want)
	}
	rcv := <-got
	if rcv.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", rcv.contentType)
	}
	lt, err := verifier.Verify(ctx, rcv.token)
	if err != nil {
		t.Fatalf("delivered logout token: %v", err)
	}
	var c struct {
		SID    string                    `json:"sid"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err := lt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Events[oidctest.BackChannelLogoutEvent]; !ok || lt.Subject != alice.Subject || c.SID != sid || c.Nonce != nil {
		t.Fatalf("delivered logout token: sub %q, claims %+v", lt.Subject, c)
	}

	// An administrator ends both of bob's sessions: one delivery each; a
	// refused and an unreachable client are recorded as such.
	status.Store(http.StatusBadRequest)
	p.AutoLogin(bob.Subject)
	bobRP := newRP(t, ctx, p, withBCL)
	bobTok1, _ := bobRP.login(t, ctx)
	sid1 := p.SessionID(bob.Subject)
	sid2 := p.NewSession(bob.Subject)
	bobTok2, _ := bobRP.login(t, ctx)
	newRP(t, ctx, p, unreachable).login(t, ctx)

	p.EndSessions(bob.Subject)
	d := p.BackChannelDeliveries()[1:]
	if len(d) != 3 {
		t.Fatalf("deliveries after EndSessions: %+v, want 3", d)
	}
	sids := map[string]int{}
	for _, x := range d {
		sids[x.SessionID]++
		switch x.ClientID {
		case withBCL.ID:
			if x.Status != http.StatusBadRequest || x.Err != "" {
				t.Errorf("refused delivery recorded as %+v", x)
			}
		case unreachable.ID:
			if x.Status != 0 || x.Err == "" || x.SessionID != sid2 {
				t.Errorf("unreachable delivery recorded as %+v", x)
			}
		default:
			t.Errorf("delivery to %q", x.ClientID)
		}
	}
	if sids[sid1] != 1 || sids[sid2] != 2 {
		t.Fatalf("deliveries per session %v, want %s once and %s twice", sids, sid1, sid2)
	}
	for _, rt := range []string{bobTok1.RefreshToken, bobTok2.RefreshToken} {
		if _, err := bobRP.config.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token(); errorCode(err) != "invalid_grant" {
			t.Fatalf("refresh after EndSessions: %v, want invalid_grant", err)
		}
	}
	if p.SessionID(bob.Subject) != "" {
		t.Fatalf("SessionID after EndSessions = %q", p.SessionID(bob.Subject))
	}
}
