package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// Provider refresh (SPEC §9): every refresh_interval while a session is
// used, the request that wins the session's lock asks the provider, within
// providerRefreshTimeout; the others go on with the stored roles.
const (
	providerRefreshTimeout = 5 * time.Second
	// providerRefreshLock is how long a won lock keeps other replicas off:
	// it also spaces out retries against an unreachable provider.
	providerRefreshLock = 10 * time.Second
)

// checkProviderUser is the user check of a session created through an
// identity provider: no users file; the roles are the session's, refreshed
// from the provider every refresh_interval. A provider that refuses (or
// that is no longer configured) ends the session on every replica.
func (g *Gateway) checkProviderUser(ctx context.Context, s sessions.Session) (users.User, error) {
	u := users.User{Name: s.Provider.Username, Roles: s.Provider.Roles}
	snap := g.snap.Load()
	slot := snap.providers[s.Provider.Name]
	if slot == nil {
		return users.User{}, g.endProviderSession(ctx, s, errors.New("provider no longer configured"))
	}
	if _, local := g.lookupUser(s.Provider.Username); local {
		// The users file gained this name since the sign-in: a provider
		// session must never speak for a local user (SPEC §9).
		return users.User{}, g.endProviderSession(ctx, s, errors.New("the username is now a local user's"))
	}
	every := slot.cfg.RefreshInterval
	if every <= 0 || s.Provider.Unchecked || g.now().Sub(s.Provider.RefreshedAt) < every {
		return u, nil
	}
	won, err := g.store.LockProviderRefresh(ctx, s.ID, providerRefreshLock)
	if err != nil || !won {
		return u, err // lost: another request refreshes; the stored roles hold meanwhile
	}
	roles, err := g.refreshProvider(ctx, snap, slot, s)
	switch {
	case errors.Is(err, oidc.ErrUncheckable):
		next := s.Provider
		next.Unchecked = true
		g.log.Debug("identity provider cannot check this session any more (no refresh token, access token expired); login-time roles kept",
			"provider", s.Provider.Name, "session", s.ID)
		return u, g.store.UpdateProvider(ctx, s.User, s.ID, next, nil)
	case err == nil:
		g.metrics.oidc.refreshes.WithLabelValues(s.Provider.Name, oidcSuccess).Inc()
		u.Roles = roles
		return u, nil
	case errors.Is(err, oidc.ErrUnreachable), errors.Is(err, sessions.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// Keep the session: the provider (or store) could not be asked. The
		// lock's expiry is the retry.
		g.metrics.oidc.refreshes.WithLabelValues(s.Provider.Name, oidcError).Inc()
		g.log.Warn("identity provider refresh failed; session kept", "provider", s.Provider.Name, "session", s.ID, "error", err)
		return u, nil
	}
	g.metrics.oidc.refreshes.WithLabelValues(s.Provider.Name, oidcRefused).Inc()
	return users.User{}, g.endProviderSession(ctx, s, err)
}

// endProviderSession revokes a provider session the provider refused
// (provider_refused) and answers as for a disabled user.
func (g *Gateway) endProviderSession(ctx context.Context, s sessions.Session, cause error) error {
	g.log.Info("identity provider refused a session; revoked", "provider", s.Provider.Name, "session", s.ID, "error", cause)
	return g.revokeFailedCheck(ctx, s, revokedProviderNo)
}

// refreshProvider asks the provider about session s and stores what it
// learned (roles, tokens, time) in one step; it returns the new roles.
func (g *Gateway) refreshProvider(ctx context.Context, snap *snapshot, slot *providerSlot, s sessions.Session) ([]string, error) {
	tok, err := g.openTokens(ctx, snap, s.User, s.ID)
	if err != nil {
		return nil, err
	}
	// Only the provider's part is bounded by providerRefreshTimeout.
	rctx, cancel := context.WithTimeout(ctx, providerRefreshTimeout)
	defer cancel()
	p, err := slot.get(rctx)
	if err != nil {
		return nil, err
	}
	res, err := p.Refresh(rctx, s.Provider.Subject, tok)
	if err != nil {
		return nil, err
	}
	// The provider may have rotated its refresh token: store the new one even
	// if the client gave up meanwhile, or the next refresh would spend the
	// old one (invalid_grant) and end the session.
	ctx, cancelStore := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancelStore()
	next := s.Provider
	next.Roles, next.RefreshedAt = res.Roles, g.now()
	b, _ := json.Marshal(res.Tokens)
	if err := g.store.UpdateProvider(ctx, s.User, s.ID, next, snap.sealer.Seal(b, tokensPurpose+s.User)); err != nil {
		return nil, err
	}
	return res.Roles, nil
}

// openTokens reads and opens a provider session's sealed tokens. Tokens
// sealed under another signing key (rotated since) no longer open: that is
// a refusal, the account cannot be checked any more.
func (g *Gateway) openTokens(ctx context.Context, snap *snapshot, user, id string) (oidc.Tokens, error) {
	sealed, err := g.store.ProviderTokens(ctx, user, id)
	if err != nil {
		return oidc.Tokens{}, err
	}
	b, err := snap.sealer.Open(sealed, tokensPurpose+user)
	if err != nil {
		return oidc.Tokens{}, fmt.Errorf("%w: stored provider tokens: %w", oidc.ErrRefused, err)
	}
	var t oidc.Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		return oidc.Tokens{}, fmt.Errorf("%w: stored provider tokens: %w", oidc.ErrRefused, err)
	}
	return t, nil
}

// providerName is the provider of a store user made by sessions.ProviderUser.
func providerName(user string) (string, bool) {
	rest, ok := strings.CutPrefix(user, "oidc:")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, ":")
	return name, ok
}

// providerLogoutURL is where a browser signing out of a provider session
// goes next when its provider is configured with logout: provider: the
// provider's end_session_endpoint with id_token_hint and
// post_logout_redirect_uri (the login page saying "signed out"). "" for
// anything else. Read before the session is revoked (its tokens go with it).
func (g *Gateway) providerLogoutURL(r *http.Request, snap *snapshot) string {
	v, ok, amb := cookieValue(r, snap.cookies.accessName)
	if !ok || amb || !validTokenSyntax(v) {
		return ""
	}
	claims, err := snap.keys.Verify(v, g.now())
	if err != nil && !errors.Is(err, tokens.ErrExpired) {
		return ""
	}
	name, ok := providerName(claims.Subject)
	slot := snap.providers[name]
	if !ok || slot == nil || slot.cfg.Logout != config.LogoutProvider {
		return ""
	}
	origin, ok := requestOrigin(r)
	if !ok {
		return ""
	}
	p, err := slot.get(r.Context())
	if err != nil {
		return ""
	}
	t, err := g.openTokens(r.Context(), snap, claims.Subject, claims.SessionID)
	if err != nil {
		return ""
	}
	return p.EndSessionURL(t.ID, origin+signedOutURL(snap))
}
