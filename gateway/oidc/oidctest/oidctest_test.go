package oidctest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
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
