package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis-gw/portcullis/config"
)

// maxUserinfoBytes bounds a userinfo answer.
const maxUserinfoBytes = 64 << 10

// account applies the provider's account rules to verified claims: the
// username claim (email only when verified, and in the users-file grammar),
// allowed_domains, allowed_groups and the role mapping.
func (p *Provider) account(claims map[string]any) (Login, error) {
	cfg := p.cfg
	email, _ := claims["email"].(string)
	verified := isTrue(claims["email_verified"])
	var name string
	switch cfg.UsernameClaim {
	case config.ClaimEmail:
		if verified {
			name = email
		}
	default:
		name, _ = claims[cfg.UsernameClaim].(string)
	}
	if !config.ValidUsername(name) {
		return Login{}, fmt.Errorf("%w: no usable %s claim", ErrDenied, cfg.UsernameClaim)
	}
	if len(cfg.AllowedDomains) > 0 {
		_, domain, ok := strings.Cut(email, "@")
		if !verified || !ok || !slices.ContainsFunc(cfg.AllowedDomains, func(d string) bool { return strings.EqualFold(d, domain) }) {
			return Login{}, fmt.Errorf("%w: email domain not allowed", ErrDenied)
		}
	}
	groups := stringList(claims[cfg.RolesClaim])
	if len(cfg.AllowedGroups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(cfg.AllowedGroups, g) }) {
		return Login{}, fmt.Errorf("%w: not in an allowed group", ErrDenied)
	}
	return Login{Username: name, Roles: p.roles(groups)}, nil
}

// roles maps provider values to gateway roles: through role_map when one is
// set (unmapped values dropped), else the values that are valid role names.
func (p *Provider) roles(groups []string) []string {
	var out []string
	for _, g := range groups {
		r := g
		if len(p.cfg.RoleMap) > 0 {
			r = p.cfg.RoleMap[g]
		}
		if r != "" && config.ValidRole(r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// stringList reads a claim that is a string or a list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// isTrue reads a boolean claim (some providers send "true").
func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// fetchUserinfo asks the userinfo endpoint with an access token: 401/403
// is an explicit refusal (account disabled, consent or token revoked).
func (p *Provider) fetchUserinfo(ctx context.Context, access string) (map[string]any, error) {
	if p.userinfo == "" {
		return nil, fmt.Errorf("%w: the provider has no userinfo endpoint", ErrRefused)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.userinfo, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrUnreachable, err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: userinfo answered %d", ErrRefused, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: userinfo answered %d", ErrUnreachable, resp.StatusCode)
	}
	var info map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxUserinfoBytes)).Decode(&info); err != nil {
		return nil, fmt.Errorf("%w: userinfo body: %w", ErrRefused, err)
	}
	return info, nil
}

// Refreshed is what a provider refresh learned.
type Refreshed struct {
	Roles  []string
	Tokens Tokens
}

// Refresh asks the provider whether the account of subject still signs in
// (SPEC §9): the refresh-token grant when the provider issued a refresh
// token (a new ID token, if any, is verified and must name the same
// subject), else userinfo with the access token. ErrRefused (invalid_grant,
// userinfo 401/403, an account the rules now deny) ends the session;
// ErrUnreachable keeps it.
func (p *Provider) Refresh(ctx context.Context, subject string, t Tokens) (Refreshed, error) {
	ctx, cancel := context.WithTimeout(p.ctx(ctx), requestTimeout)
	defer cancel()
	next := t
	var claims map[string]any
	if t.Refresh == "" && !t.Expiry.IsZero() && !p.now().Before(t.Expiry) {
		// Userinfo would answer 401 for the expired token: that is no
		// statement about the account (lead decision, docs/oidc.md).
		return Refreshed{}, ErrUncheckable
	}
	if t.Refresh != "" {
		tok, err := p.oauth("").TokenSource(ctx, &oauth2.Token{RefreshToken: t.Refresh, Expiry: time.Unix(1, 0)}).Token()
		if err != nil {
			return Refreshed{}, tokenError("refresh", err)
		}
		next.Access, next.Expiry = tok.AccessToken, tok.Expiry
		if tok.RefreshToken != "" {
			next.Refresh = tok.RefreshToken
		}
		if raw, _ := tok.Extra("id_token").(string); raw != "" {
			idt, c, err := p.verifyID(ctx, raw)
			if err != nil {
				return Refreshed{}, err
			}
			if idt.Subject != subject {
				return Refreshed{}, fmt.Errorf("%w: refreshed id_token names another subject", ErrRefused)
			}
			next.ID, claims = raw, c
		}
	}
	if claims == nil || !hasAll(claims, p.cfg.UsernameClaim, p.cfg.RolesClaim) {
		info, err := p.fetchUserinfo(ctx, next.Access)
		if err != nil {
			return Refreshed{}, err
		}
		if info["sub"] != subject {
			return Refreshed{}, fmt.Errorf("%w: userinfo names another subject", ErrRefused)
		}
		if claims == nil {
			claims = info
		} else {
			for k, v := range info {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	}
	l, err := p.account(claims)
	if err != nil {
		return Refreshed{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return Refreshed{Roles: l.Roles, Tokens: next}, nil
}

func hasAll(claims map[string]any, names ...string) bool {
	for _, n := range names {
		if _, ok := claims[n]; n != "" && !ok {
			return false
		}
	}
	return true
}

// Logout is a verified back-channel logout token.
type Logout struct {
	Subject, SID, JTI string
	Expiry            time.Time
}

// logoutLeeway is how far in the future a logout token's iat may be (clock skew).
const logoutLeeway = time.Minute

// VerifyLogout verifies a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0, 2.6): signature with a key of the provider's
// JWKS, iss, aud, exp, iat, jti, the backchannel-logout event as a JSON
// object, no nonce, and sub and/or sid. Replay (the jti) is the caller's
// to check, in the shared store.
func (p *Provider) VerifyLogout(ctx context.Context, raw string) (Logout, error) {
	if raw == "" || len(raw) > maxLogoutTokenBytes {
		return Logout{}, fmt.Errorf("%w: logout_token missing or larger than %d bytes", ErrRefused, maxLogoutTokenBytes)
	}
	ctx, cancel := context.WithTimeout(p.ctx(ctx), requestTimeout)
	defer cancel()
	lt, err := p.verifier.VerifyLogout(ctx, raw)
	if err != nil {
		return Logout{}, fmt.Errorf("%w: logout_token: %w", ErrRefused, err)
	}
	var c struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := lt.Claims(&c); err != nil {
		return Logout{}, fmt.Errorf("%w: logout_token claims: %w", ErrRefused, err)
	}
	ev := c.Events["http://schemas.openid.net/event/backchannel-logout"]
	if len(ev) == 0 || ev[0] != '{' {
		return Logout{}, fmt.Errorf("%w: logout_token event is not a JSON object", ErrRefused)
	}
	if lt.IssuedAt.IsZero() || lt.IssuedAt.After(p.now().Add(logoutLeeway)) {
		return Logout{}, fmt.Errorf("%w: logout_token iat missing or in the future", ErrRefused)
	}
	return Logout{Subject: lt.Subject, SID: lt.SessionID, JTI: lt.TokenID, Expiry: lt.Expiry}, nil
}
