package gateway

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// route is one compiled routes[] entry. Immutable once built; shared by every
// request of one runtime snapshot.
type route struct {
	name string // metrics label and assertion audience

	host     string // "" (any host), an exact lower-case host, or "*.suffix"
	wildcard string // ".suffix" for a "*." host, else ""
	prefix   string // segment-aware path prefix, "/" or without trailing "/"
	methods  []string

	auth     string   // config.AuthRequired | AuthOptional | AuthPublic
	roles    []string // any-of; empty = any authenticated user
	csrf     bool
	passAuth bool // forward Authorization: Bearer (route value, else global)

	upgrades       []string // allowed Upgrade protocols (headers_route.go)
	methodOverride bool     // allow_method_override

	stripPrefix  bool
	fold         bool // server.path_matching: case_insensitive (prefix is folded)
	preserveHost bool
	timeout      time.Duration // dial + response headers

	upstream      *url.URL // scheme "echo" for the built-in echo upstream
	basePath      string   // the upstream URL's own path
	upstreamLabel string   // scheme://host:port for the access log
	transport     http.RoundTripper
}

// allows reports whether the route accepts method (no methods = all).
func (rt *route) allows(method string) bool {
	return len(rt.methods) == 0 || slices.Contains(rt.methods, method)
}

// routeTable holds the routes in precedence order (SPEC §3): exact host, then
// "*." wildcard host (longer suffix first), then no host; within each, the
// longer path_prefix first; then routes with methods before those without;
// then config order. The first route whose host, prefix and methods all
// accept the request wins, so a route whose methods exclude the request
// falls through to the next candidate.
type routeTable struct {
	exact    map[string][]*route
	wildcard []*route
	anyHost  []*route
	fold     bool // server.path_matching: case_insensitive
}

// match returns the route for a request, or nil. host is the Host header as
// received (never X-Forwarded-Host; /verify passes the forwarded host) or
// as parseHost returned it; path is the normalised path (normalizePath) or
// its matchPath. A host outside the grammar matches nothing, not even a
// route without host (the route step answers it 400 before matching).
func (t *routeTable) match(host, path, method string) *route {
	h, ok := parseHost(host)
	if !ok {
		return nil
	}
	path = matchPath(path, t.fold)
	for _, rt := range t.exact[h] {
		if withinPrefix(path, rt.prefix) && rt.allows(method) {
			return rt
		}
	}
	for _, rt := range t.wildcard {
		if strings.HasSuffix(h, rt.wildcard) && len(h) > len(rt.wildcard) &&
			withinPrefix(path, rt.prefix) && rt.allows(method) {
			return rt
		}
	}
	for _, rt := range t.anyHost {
		if withinPrefix(path, rt.prefix) && rt.allows(method) {
			return rt
		}
	}
	return nil
}

// buildRoutes compiles cfg.Routes. Routes with upstream tls options get their
// own transport (a clone of shared); all others share one connection pool.
// The per-route transports are returned so a reload can close their idle
// connections once they are replaced.
func buildRoutes(cfg *config.Config, shared *http.Transport) (*routeTable, []*http.Transport, error) {
	t := &routeTable{exact: map[string][]*route{}, fold: cfg.Server.FoldsPathCase()}
	var own []*http.Transport
	var errs []error
	for i, rc := range cfg.Routes {
		rt, tr, err := buildRoute(rc, cfg.Headers.PassAuthorization, t.fold, shared)
		if err != nil {
			errs = append(errs, underRoute(i, err))
			continue
		}
		if tr != nil {
			own = append(own, tr)
		}
		switch {
		case rt.wildcard != "":
			t.wildcard = append(t.wildcard, rt)
		case rt.host != "":
			t.exact[rt.host] = append(t.exact[rt.host], rt)
		default:
			t.anyHost = append(t.anyHost, rt)
		}
	}
	if len(errs) > 0 {
		for _, tr := range own {
			tr.CloseIdleConnections()
		}
		return nil, nil, errors.Join(errs...)
	}
	byPrecedence := func(a, b *route) int {
		return cmp.Or(
			cmp.Compare(len(b.wildcard), len(a.wildcard)),
			cmp.Compare(len(b.prefix), len(a.prefix)),
			cmp.Compare(min(len(b.methods), 1), min(len(a.methods), 1)),
		)
	}
	for _, rs := range t.exact {
		slices.SortStableFunc(rs, byPrecedence)
	}
	slices.SortStableFunc(t.wildcard, byPrecedence)
	slices.SortStableFunc(t.anyHost, byPrecedence)
	return t, own, nil
}

func buildRoute(rc config.Route, globalPassAuth, fold bool, shared *http.Transport) (*route, *http.Transport, error) {
	rt := &route{
		name:         rc.Name,
		host:         strings.TrimSuffix(strings.ToLower(rc.Host), "."),
		prefix:       rc.PathPrefix,
		methods:      rc.Methods,
		auth:         rc.Auth,
		roles:        rc.Roles,
		csrf:         rc.CSRF,
		passAuth:     rc.PassAuth(globalPassAuth),
		stripPrefix:  rc.StripPrefix,
		fold:         fold,
		preserveHost: rc.PreserveHost,
		timeout:      rc.Timeout,

		upgrades:       rc.Upgrades,
		methodOverride: rc.AllowMethodOverride,
	}
	if rest, ok := strings.CutPrefix(rt.host, "*."); ok {
		rt.wildcard = "." + rest
	}
	// Zero values come only from configs built by hand (config.Load fills
	// every route from config.DefaultRoute); the same defaults apply.
	def := config.DefaultRoute()
	if rt.prefix == "" {
		rt.prefix = def.PathPrefix
	} else if len(rt.prefix) > 1 {
		rt.prefix = strings.TrimSuffix(rt.prefix, "/")
	}
	rt.prefix = matchPath(rt.prefix, fold) // request paths are compared in the same form
	if rt.auth == "" {
		rt.auth = def.Auth // required: fail closed
	}
	if rt.timeout <= 0 {
		rt.timeout = def.Timeout
	}
	if rc.Upgrades == nil {
		rt.upgrades = def.Upgrades // unset; an empty list forbids every upgrade
	}
	if rc.IsEcho() {
		rt.upstream = &url.URL{Scheme: echoScheme, Host: echoHost}
		rt.upstreamLabel = config.EchoUpstream
		rt.transport = echoTransport{}
		return rt, nil, nil
	}
	u, err := url.Parse(rc.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, config.Errorf("upstream", `want an http(s) URL or "echo:"`)
	}
	rt.upstream = &url.URL{Scheme: u.Scheme, Host: u.Host}
	rt.basePath = u.Path
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	rt.upstreamLabel = u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
	rt.transport = shared
	if rc.TLS == (config.UpstreamTLS{}) {
		return rt, nil, nil
	}
	tc, err := upstreamTLSConfig(rc.TLS)
	if err != nil {
		return nil, nil, err
	}
	tr := shared.Clone()
	tr.TLSClientConfig = tc
	rt.transport = tr
	return rt, tr, nil
}

// upstreamTLSConfig builds a route's TLS client settings from its tls block.
func upstreamTLSConfig(c config.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // explicit operator choice, per route
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, config.Errorf("tls.ca_file", "%w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.Errorf("tls.ca_file", "%s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, config.Errorf("tls.cert_file", "%s (with key_file %s): %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// underRoute moves a buildRoute problem, a *config.FieldError whose path is
// relative to the route ("tls.ca_file"), under routes[i].
func underRoute(i int, err error) error {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("routes[%d]: %w", i, err)
	}
	return &config.FieldError{Path: fmt.Sprintf("routes[%d].%s", i, fe.Path), Msg: fe.Msg, Err: fe.Err}
}

// all returns every route of the table.
func (t *routeTable) all() []*route {
	var out []*route
	for _, rs := range t.exact {
		out = append(out, rs...)
	}
	out = append(out, t.wildcard...)
	return append(out, t.anyHost...)
}
