package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/config"
)

// Errors the gateway maps to answers (see doc.go).
var (
	ErrRefused     = errors.New("oidc: refused by the provider")
	ErrDenied      = errors.New("oidc: account not allowed")
	ErrUnreachable = errors.New("oidc: provider unreachable")
	// ErrUncheckable: the session holds no refresh token and its access
	// token has expired, so the provider cannot be asked about it any more
	// (Google without access_type=offline). Not a refusal: the session keeps
	// its login-time roles (docs/oidc.md).
	ErrUncheckable = errors.New("oidc: the provider cannot be asked about this session")
)

// Endpoint labels of portcullis_oidc_request_duration_seconds (SPEC §7).
const (
	EndpointDiscovery  = "discovery"
	EndpointJWKS       = "jwks"
	EndpointToken      = "token"
	EndpointUserinfo   = "userinfo"
	EndpointEndSession = "end_session"
)

// Endpoints lists every endpoint label, for metric initialisation.
var Endpoints = []string{EndpointDiscovery, EndpointJWKS, EndpointToken, EndpointUserinfo, EndpointEndSession}

// requestTimeout bounds each call to the provider.
const requestTimeout = 10 * time.Second

// maxTokenBytes bounds a token the gateway will look at (ID, logout; an
// ID token with many groups can be large, a logout token cannot).
const (
	maxTokenBytes       = 64 << 10
	maxLogoutTokenBytes = 8 << 10
)

// Observer receives the duration of each request to the provider.
type Observer func(provider, endpoint string, d time.Duration)

// Provider is one configured, discovered identity provider.
type Provider struct {
	cfg        config.IdentityProvider
	client     *http.Client
	op         *gooidc.Provider
	verifier   *gooidc.IDTokenVerifier
	endSession string
	userinfo   string
	discovery  string
	now        func() time.Time

	mu      sync.Mutex
	labels  map[string]string // request URL (no query) → endpoint label
	probeOK time.Time         // last successful Probe (wall clock)
}

// probeFresh is how long a successful Probe is trusted: a flood of sign-in
// starts must not become a flood of requests to the provider.
const probeFresh = 5 * time.Second

// Config returns the provider's configuration.
func (p *Provider) Config() config.IdentityProvider { return p.cfg }

// Name is the provider's configured name.
func (p *Provider) Name() string { return p.cfg.Name }

// Discover reads the provider's discovery document and builds the provider.
// ctx bounds discovery only; later calls take their own contexts. now is
// the clock used for token expiry (nil: time.Now); observe may be nil.
func Discover(ctx context.Context, cfg config.IdentityProvider, now func() time.Time, observe Observer) (*Provider, error) {
	if now == nil {
		now = time.Now
	}
	p := &Provider{cfg: cfg, now: now, labels: map[string]string{}}
	p.discovery = strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	p.labels[p.discovery] = EndpointDiscovery
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = requestTimeout
	p.client = &http.Client{Timeout: requestTimeout, Transport: &observed{next: base, p: p, observe: observe},
		// A provider answers token and userinfo requests itself; a redirect
		// there is a misconfiguration, not something to follow with a secret.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// go-oidc keeps this context for its JWKS fetches: it carries the
	// client, never a deadline.
	keep := gooidc.ClientContext(context.WithoutCancel(ctx), p.client)
	dctx, cancel := context.WithTimeout(gooidc.ClientContext(ctx, p.client), requestTimeout)
	defer cancel()
	op, err := gooidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %w", ErrUnreachable, cfg.Issuer, err)
	}
	var extra struct {
		JWKS       string `json:"jwks_uri"`
		EndSession string `json:"end_session_endpoint"`
		Userinfo   string `json:"userinfo_endpoint"`
	}
	if err := op.Claims(&extra); err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %w", ErrUnreachable, cfg.Issuer, err)
	}
	p.op, p.endSession, p.userinfo = op, extra.EndSession, extra.Userinfo
	p.mu.Lock()
	p.labels[extra.JWKS] = EndpointJWKS
	p.labels[op.Endpoint().TokenURL] = EndpointToken
	p.labels[extra.Userinfo] = EndpointUserinfo
	p.mu.Unlock()
	p.verifier = op.VerifierContext(keep, &gooidc.Config{ClientID: cfg.ClientID, Now: now})
	return p, nil
}

// Probe checks that the provider answers its discovery document now (the
// start of a login: an unreachable provider is a 503 there, not a dead end
// at the provider's door).
func (p *Provider) Probe(ctx context.Context) error {
	p.mu.Lock()
	fresh := time.Since(p.probeOK) < probeFresh
	p.mu.Unlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.discovery, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: discovery answered %d", ErrUnreachable, resp.StatusCode)
	}
	p.mu.Lock()
	p.probeOK = time.Now()
	p.mu.Unlock()
	return nil
}

// oauth is the OAuth 2.0 client config for redirectURI.
func (p *Provider) oauth(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret.Reveal(),
		Endpoint:     p.op.Endpoint(),
		RedirectURL:  redirectURI,
		Scopes:       p.cfg.Scopes,
	}
}

func (p *Provider) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

// Flow is what one authorization request must find again at its callback.
type Flow struct {
	Provider    string `json:"p"`
	State       string `json:"s"`
	Nonce       string `json:"n"`
	Verifier    string `json:"v"`
	RD          string `json:"r"`
	RedirectURI string `json:"u"`
	Expires     int64  `json:"e"` // Unix seconds
}

// FlowLifetime bounds the time between start and callback.
const FlowLifetime = 10 * time.Minute

// NewFlow starts a flow that returns to rd through redirectURI, and
// returns the authorization URL to send the browser to. prefix is put in
// front of the random state (the gateway's cookie slot).
func (p *Provider) NewFlow(prefix, rd, redirectURI string) (Flow, string) {
	f := Flow{
		Provider: p.cfg.Name, State: prefix + random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		RD: rd, RedirectURI: redirectURI, Expires: p.now().Add(FlowLifetime).Unix(),
	}
	u := p.oauth(redirectURI).AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return f, u
}

// Expired reports whether the flow is past its lifetime at now.
func (f Flow) Expired(now time.Time) bool { return now.Unix() >= f.Expires }

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Tokens are the provider tokens a session keeps (sealed) for refreshes and
// RP-initiated logout.
type Tokens struct {
	Access  string    `json:"a,omitempty"`
	Refresh string    `json:"r,omitempty"`
	ID      string    `json:"i,omitempty"`
	Expiry  time.Time `json:"e,omitzero"`
}

// Login is a verified sign-in: who, as whom, with which roles.
type Login struct {
	Subject, SID, Username string
	Roles                  []string
	Tokens                 Tokens
}

// Exchange redeems the code of flow f and verifies the ID token (iss, aud,
// exp, signature with an algorithm the provider's JWKS allows, nonce, azp),
// then applies the provider's account rules.
func (p *Provider) Exchange(ctx context.Context, f Flow, code string) (Login, error) {
	ctx, cancel := context.WithTimeout(p.ctx(ctx), requestTimeout)
	defer cancel()
	tok, err := p.oauth(f.RedirectURI).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Login{}, tokenError("code exchange", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Login{}, fmt.Errorf("%w: no id_token in the token response", ErrRefused)
	}
	idt, claims, err := p.verifyLogin(ctx, raw, f.Nonce)
	if err != nil {
		return Login{}, err
	}
	if err := p.fillClaims(ctx, claims, tok.AccessToken, idt.Subject); err != nil {
		return Login{}, err
	}
	l, err := p.account(claims)
	if err != nil {
		return Login{}, err
	}
	l.Subject = idt.Subject
	l.SID, _ = claims["sid"].(string)
	l.Tokens = Tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken, ID: raw, Expiry: tok.Expiry}
	return l, nil
}

// verifyLogin verifies the ID token of a login: verifyID, and the nonce of
// the flow (a token minted for another flow, or replayed, carries another).
func (p *Provider) verifyLogin(ctx context.Context, raw, nonce string) (*gooidc.IDToken, map[string]any, error) {
	idt, claims, err := p.verifyID(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, nil, fmt.Errorf("%w: nonce does not match the flow", ErrRefused)
	}
	return idt, claims, nil
}

// verifyID verifies an ID token and returns it with its claims.
func (p *Provider) verifyID(ctx context.Context, raw string) (*gooidc.IDToken, map[string]any, error) {
	if len(raw) > maxTokenBytes {
		return nil, nil, fmt.Errorf("%w: id_token larger than %d bytes", ErrRefused, maxTokenBytes)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: id_token: %w", ErrRefused, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fmt.Errorf("%w: id_token claims: %w", ErrRefused, err)
	}
	// OIDC Core 3.1.3.7: with several audiences azp is required; when
	// present it must be us.
	azp, hasAZP := claims["azp"]
	if (len(idt.Audience) > 1 || hasAZP) && azp != p.cfg.ClientID {
		return nil, nil, fmt.Errorf("%w: id_token azp is not this client", ErrRefused)
	}
	if _, ok := claims["events"]; ok {
		return nil, nil, fmt.Errorf("%w: a logout token is not an id_token", ErrRefused)
	}
	return idt, claims, nil
}

// fillClaims adds the userinfo claims when the ID token lacks the username
// or roles claim (many providers keep groups out of the ID token).
func (p *Provider) fillClaims(ctx context.Context, claims map[string]any, access, sub string) error {
	_, hasName := claims[p.cfg.UsernameClaim]
	_, hasRoles := claims[p.cfg.RolesClaim]
	if (hasName && (hasRoles || p.cfg.RolesClaim == "")) || p.userinfo == "" || access == "" {
		return nil
	}
	info, err := p.fetchUserinfo(ctx, access)
	if err != nil {
		return err
	}
	if info["sub"] != sub {
		return fmt.Errorf("%w: userinfo sub differs from the id_token's", ErrRefused)
	}
	for k, v := range info {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// tokenError classifies an error of the token endpoint: an OAuth error
// answer (invalid_grant, a 4xx) is a refusal; anything else, a 5xx
// included, means the provider could not be asked.
func tokenError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
		return fmt.Errorf("%w: %s: %s", ErrRefused, op, re.ErrorCode)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnreachable, op, err)
}

// EndSessionURL is the provider's RP-initiated logout URL, or "" when the
// provider has no end_session_endpoint.
func (p *Provider) EndSessionURL(idTokenHint, postLogout string) string {
	if p.endSession == "" {
		return ""
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", p.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}

// observed times each request to the provider by endpoint label.
type observed struct {
	next    http.RoundTripper
	p       *Provider
	observe Observer
}

func (o *observed) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.RoundTrip(r)
	if o.observe != nil {
		u := *r.URL
		u.RawQuery = ""
		o.p.mu.Lock()
		label, ok := o.p.labels[u.String()]
		o.p.mu.Unlock()
		if ok {
			o.observe(o.p.cfg.Name, label, time.Since(start))
		}
	}
	return resp, err
}
