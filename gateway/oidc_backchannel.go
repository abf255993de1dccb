package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis-gw/portcullis/gateway/oidc"
	"github.com/portcullis-gw/portcullis/sessions"
)

// oidcBackchannelLogout is POST <auth_prefix>/oidc/<name>/backchannel-logout
// (OpenID Connect Back-Channel Logout 1.0): the provider posts a signed
// logout_token; the sessions it names (by sid and/or sub) end on every
// replica. 200, or 400 for a token that is refused (Cache-Control: no-store
// on both, set for every gateway endpoint).
func (g *Gateway) oidcBackchannelLogout(w http.ResponseWriter, r *http.Request, snap *snapshot, name string) (err error) {
	slot := snap.providers[name]
	if slot == nil {
		return errEndpointNotFound
	}
	defer func() { g.metrics.oidc.backchannel.WithLabelValues(name, oidcResultOf(err)).Inc() }()
	if err := r.ParseForm(); err != nil {
		return bodyError(err)
	}
	if len(r.PostForm["logout_token"]) != 1 {
		return errBadLogoutToken
	}
	p, err := slot.get(r.Context())
	if err != nil {
		return fmt.Errorf("%w: %w", errProviderUnavailable, err)
	}
	lt, err := p.VerifyLogout(r.Context(), r.PostForm.Get("logout_token"))
	if err != nil {
		return fmt.Errorf("%w: %w", errBadLogoutToken, err)
	}
	// Remembered before acting, on the shared store: a replayed token is
	// refused on every replica, even one that arrives while this one runs.
	fresh, err := g.store.RememberLogoutToken(r.Context(), name, lt.JTI, lt.Expiry)
	if err != nil {
		return err
	}
	if !fresh {
		return fmt.Errorf("%w: jti replayed", errBadLogoutToken)
	}
	n, err := g.revokeProviderSessions(r, name, lt)
	g.metrics.revoke(revokedProviderOut, n)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// revokeProviderSessions ends the sessions a logout token names: those of
// its sid (and, with both, only the sub's among them), or all of the sub's.
func (g *Gateway) revokeProviderSessions(r *http.Request, name string, lt oidc.Logout) (int, error) {
	ctx := r.Context()
	if lt.SID == "" {
		ids, err := g.store.RevokeUser(ctx, sessions.ProviderUser(name, lt.Subject))
		return len(ids), err
	}
	refs, err := g.store.ProviderSIDSessions(ctx, name, lt.SID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ref := range refs {
		if lt.Subject != "" && ref.User != sessions.ProviderUser(name, lt.Subject) {
			continue
		}
		switch err := g.store.Revoke(ctx, ref.User, ref.ID); {
		case err == nil:
			n++
		case !errors.Is(err, sessions.ErrNotFound):
			return n, err
		}
	}
	return n, nil
}
