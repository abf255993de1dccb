package gateway

import (
	"context"
	"net/http"

	"github.com/portcullis-gw/portcullis/config"
)

// This file is the seam between the HTTP core and authentication (SPEC §4–6).
// The core calls these; the bodies below are placeholders that fail closed.

// authenticate runs SPEC §6 steps 4–6 for a matched route and returns the
// identity to forward (zero Identity = anonymous) or an error for writeError.
// Whatever it returns, the core refuses to forward a required route without
// a user holding one of the route's roles.
func (g *Gateway) authenticate(r *http.Request, rt *route) (Identity, error) {
	switch rt.auth {
	case config.AuthPublic, config.AuthOptional:
		return Identity{}, nil
	}
	return Identity{}, errUnauthenticated
}

// authEndpoints serves <auth_prefix>/* and /.well-known/jwks.json (gateway
// endpoints always win over routes). Called once, by New. Requests arrive
// with r.URL.Path normalised and the record's routeLabel set to "_auth".
func (g *Gateway) authEndpoints() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.writeError(w, r, newAPIError(http.StatusNotFound, "not_found", "no such endpoint"))
	})
}

// adminEndpoints serves /admin/* after the admin token check. Called once, by New.
func (g *Gateway) adminEndpoints() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.writeError(w, r, newAPIError(http.StatusNotFound, "not_found", "no such endpoint"))
	})
}

// authState is the authentication code's long-lived state on the Gateway
// (keys, users, limiters...), filled by initAuth.
type authState struct{}

// initAuth is called by New before the first config snapshot is built.
func (g *Gateway) initAuth(opts Options) error { return nil }

// authSnapshot is the authentication code's per-snapshot state (login settings,
// redirect policy, origin checks...), rebuilt with every config snapshot.
type authSnapshot struct{}

// buildAuthSnapshot is called for every config snapshot (New and Reload); an
// error fails New or refuses the reload.
func (g *Gateway) buildAuthSnapshot(cfg *config.Config) (authSnapshot, error) {
	return authSnapshot{}, nil
}

// runAuth is the authentication code's background work, run by Run until ctx
// ends (e.g. re-checking the sessions of upgraded connections).
func (g *Gateway) runAuth(ctx context.Context) { <-ctx.Done() }
