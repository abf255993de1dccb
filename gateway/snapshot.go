package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/oidc"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// snapshot is one immutable config snapshot: everything Reload swaps at once,
// so routes, headers, keys, login settings, redirect hosts and trusted
// origins follow SIGHUP together. A request loads it once and uses that
// snapshot throughout.
type snapshot struct {
	cfg         *config.Config
	routes      *routeTable
	transports  []*http.Transport // per-route (tls) transports, closed when replaced
	trusted     []netip.Prefix
	identity    identityHeaders
	spoofable   map[string]struct{} // normalised inbound names dropped on every request
	accessLog   bool
	prefix      string // auth_prefix without trailing "/"
	keys        *tokens.Keyset
	cookies     cookieJar
	cookieNames []string // the gateway's own cookie names (cookies.names())
	redirect    redirectPolicy
	origins     *http.CrossOriginProtection
	throttle    loginThrottle
	brand       *branding // ui: the pages' title, logo and CSS
	// providers are the identity providers by name, providerList in config
	// order (login page buttons); sealer seals flow cookies and provider
	// tokens under a key derived from the signing key (oidc_flow.go).
	providers    map[string]*providerSlot
	providerList []*providerSlot
	sealer       *oidc.Sealer
}

// buildSnapshot compiles cfg into a snapshot; an error fails New or refuses
// the reload.
func (g *Gateway) buildSnapshot(cfg *config.Config) (*snapshot, error) {
	routes, transports, err := buildRoutes(cfg, g.transport)
	if err != nil {
		return nil, err
	}
	keys, origins, err := g.authSettings(cfg)
	if err != nil {
		closeTransports(transports)
		return nil, err
	}
	providers, providerList, err := g.buildProviders(cfg, g.snap.Load() != nil)
	if err != nil {
		closeTransports(transports)
		return nil, err
	}
	sealerKeys := keys.DeriveKeys(sealerKeyLabel)
	sealer, err := oidc.NewSealer(sealerKeys[0], sealerKeys[1:]...)
	if err != nil {
		closeTransports(transports)
		return nil, err
	}
	ih := newIdentityHeaders(cfg.Headers)
	prefix := authPrefixOf(cfg)
	snap := &snapshot{
		cfg:        cfg,
		routes:     routes,
		transports: transports,
		trusted:    cfg.Server.TrustedProxies,
		identity:   ih,
		spoofable:  spoofableSet(ih, cfg.Headers.Strip),
		accessLog:  cfg.Log.AccessLog,
		prefix:     prefix,
		keys:       keys,
		cookies:    newCookieJar(cfg.Cookies, prefix),
		redirect:   newRedirectPolicy(cfg.Login.AllowedRedirectHosts, cfg.Cookies.Secure),
		origins:    origins,
		throttle:   newLoginThrottle(g.store, cfg.Login.RateLimit),
		brand:      newBranding(cfg.UI, prefix),

		providers:    providers,
		providerList: providerList,
		sealer:       sealer,
	}
	snap.cookieNames = append(snap.cookies.names(), snap.cookies.flowNames()...)
	for _, rs := range routes.all() {
		g.metrics.initRoute(rs.name)
	}
	return snap, nil
}

// authSettings builds the parts of a snapshot that can fail besides the
// routes: the token keyset and the cross-origin guard.
func (g *Gateway) authSettings(cfg *config.Config) (*tokens.Keyset, *http.CrossOriginProtection, error) {
	keys, err := g.keysFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	origins, err := newOriginGuard(cfg.Login.TrustedOrigins)
	if err != nil {
		return nil, nil, err
	}
	return keys, origins, nil
}

// keysFor returns the keyset of a snapshot: the one main built (Options.Keys)
// for the first, a fresh tokens.New for each reload. A config without keys
// keeps the current ephemeral key: a new one would log everybody out.
func (g *Gateway) keysFor(cfg *config.Config) (*tokens.Keyset, error) {
	if cur := g.snap.Load(); cur != nil {
		if len(cfg.Tokens.Keys) == 0 && cur.keys != nil && cur.keys.Ephemeral() {
			return cur.keys, nil
		}
	} else if g.initialKeys != nil {
		return g.initialKeys, nil
	}
	ks, err := tokens.New(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return ks, nil
}

// authPrefixOf is server.auth_prefix without a trailing "/" ("/auth" when unset).
func authPrefixOf(cfg *config.Config) string {
	p := strings.TrimSuffix(cfg.Server.AuthPrefix, "/")
	if p == "" {
		return "/auth"
	}
	return p
}
