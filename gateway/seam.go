package gateway

import (
	"fmt"
	"net/http"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
)

// This file is the seam between the HTTP core and authentication (SPEC §4–6):
// the auth state the Gateway and each snapshot carry. The core's entry points
// are authenticate (auth.go), serveAuthEndpoint (endpoints.go), adminAPI
// (admin_api.go) and runUpgradeRechecks (auth_upgrades.go).

// authState is the authentication code's long-lived state on the Gateway.
type authState struct {
	store       SessionStore // instrumented; never nil
	users       *users.Store // nil: nobody can log in
	initialKeys *tokens.Keyset
	admission   *passwordAdmission
	m           *authMetrics
}

// initAuth is called by New before the first snapshot is built. It wraps the
// session store with metrics (g.store too, so readiness pings keep
// session_store_up current).
func (g *Gateway) initAuth(opts Options) error {
	m, err := newAuthMetrics(g.reg)
	if err != nil {
		return fmt.Errorf("auth metrics: %w", err)
	}
	store := opts.Store
	if store == nil {
		store = unavailableStore{}
	}
	store = instrumentStore(store, m.store)
	if opts.Store != nil {
		g.store = store // readiness pings: no store configured stays nil there
	}
	g.auth = authState{
		store:       store,
		users:       opts.Users,
		initialKeys: opts.Keys,
		admission:   newDefaultPasswordAdmission(),
		m:           m,
	}
	return nil
}

// authSnapshot is the authentication code's per-config state, rebuilt with
// every snapshot (New and Reload), so keys, login settings, redirect hosts
// and trusted origins follow SIGHUP atomically with the routes.
type authSnapshot struct {
	keys     *tokens.Keyset
	cookies  cookieJar
	redirect redirectPolicy
	origins  *http.CrossOriginProtection
	throttle loginThrottle
	prefix   string // auth_prefix without trailing "/"
}

// buildAuthSnapshot is called for every config snapshot; an error fails New or
// refuses the reload.
func (g *Gateway) buildAuthSnapshot(cfg *config.Config) (authSnapshot, error) {
	keys, err := g.keysFor(cfg)
	if err != nil {
		return authSnapshot{}, err
	}
	origins, err := newOriginGuard(cfg.Login.TrustedOrigins)
	if err != nil {
		return authSnapshot{}, err
	}
	prefix := authPrefixOf(cfg)
	return authSnapshot{
		keys:     keys,
		cookies:  newCookieJar(cfg.Cookies, prefix),
		redirect: newRedirectPolicy(cfg.Login.AllowedRedirectHosts, cfg.Cookies.Secure),
		origins:  origins,
		throttle: newLoginThrottle(g.auth.store, cfg.Login.RateLimit),
		prefix:   prefix,
	}, nil
}

// keysFor returns the keyset of a snapshot: the one main built (Options.Keys)
// for the first, a fresh tokens.New for each reload. A config without keys
// keeps the current ephemeral key: a new one would log everybody out.
func (g *Gateway) keysFor(cfg *config.Config) (*tokens.Keyset, error) {
	if cur := g.snap.Load(); cur != nil {
		if len(cfg.Tokens.Keys) == 0 && cur.auth.keys != nil && cur.auth.keys.Ephemeral() {
			return cur.auth.keys, nil
		}
	} else if g.auth.initialKeys != nil {
		return g.auth.initialKeys, nil
	}
	ks, err := tokens.New(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return ks, nil
}
