package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
)

// BuildInfo identifies the running binary (portcullis_build_info).
type BuildInfo struct{ Version, Commit string }

// Options are the dependencies of a Gateway, built by main.
type Options struct {
	// Config is a loaded, validated config (config.Load). Required.
	Config *config.Config
	// Logger receives the access log and error logs; nil discards.
	Logger *slog.Logger
	// Registry receives every gateway metric (plus the Go and process
	// collectors) and is served on /metrics; nil creates a private one.
	Registry *prometheus.Registry
	// Store is the session store (*sessions.MemoryStore or
	// *sessions.RedisStore); nil fails every session operation closed
	// (503) and leaves readiness to the other checks.
	Store SessionStore
	// Build is reported in portcullis_build_info.
	Build BuildInfo
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Keys signs and verifies access tokens (tokens.New); nil builds them
	// from Config.Tokens. Reload builds a new keyset from the new config.
	Keys *tokens.Keyset
	// Users is the credential store (users.NewStore); nil means nobody can
	// log in.
	Users *users.Store
}

// Gateway is the proxy listener's http.Handler. It also serves the metrics
// and admin listeners (MetricsHandler, AdminHandler). See doc.go for the flow.
type Gateway struct {
	log   *slog.Logger
	reg   prometheus.Registerer
	gath  prometheus.Gatherer
	build BuildInfo
	now   func() time.Time

	// store is the session store, instrumented (store.go); never nil: with
	// no store configured every call fails closed (unavailableStore). The
	// throttle and readiness get their narrow views of it (loginCounter,
	// pinger); everything else uses sessionStore's methods.
	store       SessionStore
	users       *users.Store   // nil: nobody can log in
	initialKeys *tokens.Keyset // Options.Keys, the first snapshot's keyset
	admission   *passwordAdmission

	snap atomic.Pointer[snapshot] // the current config snapshot; swapped by Reload

	transport *http.Transport // shared upstream pool, lives across reloads
	timed     timedTransports // the route transports with their timeouts (proxy.go)
	proxy     *httputil.ReverseProxy
	metrics   *metrics
	ready     readiness
	upgrades  upgradeTracker

	handler      http.Handler // proxy listener chain
	adminHandler http.Handler
	metricsMux   http.Handler

	probeInterval time.Duration // readiness store probe period
}

var _ http.Handler = (*Gateway)(nil)

// New builds a Gateway from a loaded config. It registers the gateway's
// metrics on opts.Registry and fails if the routes cannot be built.
func New(opts Options) (*Gateway, error) {
	if opts.Config == nil {
		return nil, errors.New("gateway: no config")
	}
	g := &Gateway{
		log:           opts.Logger,
		build:         opts.Build,
		now:           opts.Now,
		users:         opts.Users,
		initialKeys:   opts.Keys,
		admission:     newDefaultPasswordAdmission(),
		transport:     newSharedTransport(),
		probeInterval: time.Second,
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g.reg, g.gath = reg, reg
	m, err := newMetrics(reg, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	g.metrics = m
	g.store = instrumentStore(opts.Store, m)
	if opts.Store != nil {
		g.ready.store = g.store // with none configured, readiness does not wait for one
	}
	snap, err := g.buildSnapshot(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.snap.Store(snap)
	g.metrics.lastReload.Set(float64(g.now().Unix()))

	g.proxy = g.newReverseProxy()
	g.adminHandler = g.newAdminHandler()
	g.metricsMux = g.newMetricsMux()
	g.handler = chain(http.HandlerFunc(g.serveProxy),
		g.recover, g.requestID, g.observe, g.stripSpoofable, g.route, g.routeHygiene, g.authenticateStep)
	return g, nil
}

// chain composes middleware; the first one listed runs first.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Reload atomically swaps routes, headers, login and auth settings for those
// of cfg. It refuses nothing itself (main checks config.ReloadBlockers first)
// but returns an error when the new snapshot cannot be built; the old one
// keeps serving. Requests in flight finish on the snapshot they started with.
func (g *Gateway) Reload(cfg *config.Config) error {
	snap, err := g.buildSnapshot(cfg)
	if err != nil {
		return fmt.Errorf("gateway: reload: %w", err)
	}
	old := g.snap.Swap(snap)
	closeTransports(old.transports) // idle connections only; in-flight requests finish
	g.timed.forget(old.transports)
	return nil
}

// ObserveReload records the outcome of a reload attempt (SPEC §8 metrics).
func (g *Gateway) ObserveReload(err error) {
	if err != nil {
		g.metrics.reloads.WithLabelValues("failure").Inc()
		return
	}
	g.metrics.reloads.WithLabelValues("success").Inc()
	g.metrics.lastReload.Set(float64(g.now().Unix()))
}

func closeTransports(ts []*http.Transport) {
	for _, t := range ts {
		t.CloseIdleConnections()
	}
}

// ServeHTTP serves the proxy listener.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.handler.ServeHTTP(w, r)
}

// record is the per-request state the middleware steps share, created by the
// first step and owned by the request's goroutine. It exists for what must
// flow back out to the observe step (route label, status, user and session
// for the access log) and for the proxy's Rewrite, and the verified
// Identity (read with IdentityFrom, which copies it).
type record struct {
	snap  *snapshot // config snapshot for this request
	start time.Time

	id      string     // request id
	peer    netip.Addr // the connection's remote address
	trusted bool       // peer is in server.trusted_proxies
	client  netip.Addr // client IP (X-Forwarded-For walk)
	chain   []string   // believed X-Forwarded-For hops, client first, without the peer

	rawPath    string // path of the request-target as received (no query)
	path       string // normalised, decoded; parameters and case as received (routes match matchPath(path))
	escaped    string // normalised, re-escaped once
	routeLabel string // route name, "_auth" or "_none"
	route      *route // nil for gateway endpoints and unmatched requests

	// identity is set after authentication: the access log's user and
	// session id, and the owner of an upgraded connection.
	identity Identity
	// forwarded is the original request /auth/verify was asked about (its
	// method, host and path, never the query), for the access log.
	forwarded *forwardedLog

	// verified is set by authenticateStep: identity is then the verified
	// caller IdentityFrom returns (a gateway endpoint's noteIdentity is
	// for the access log only).
	verified bool

	status      int   // response status (0 until written)
	bytes       int64 // response body bytes written
	wroteHeader bool

	proxied bool // the request was handed to the proxy (serveProxy)

	// Storage the hot path uses instead of allocating per request (the
	// record is allocated anyway): the response writer wrapper (observe),
	// the outbound URL (rewrite) and the values of the headers the gateway
	// sets (requestID, rewrite).
	sw       statusWriter
	outURL   url.URL
	idValue  [1]string
	fwValues [fwSlots]string
}

type recordKey struct{}

// recordCtx is the request's context together with its record: one
// allocation for both, where context.WithValue would be a second.
type recordCtx struct {
	context.Context
	rec record
}

// Value implements context.Context.
func (c *recordCtx) Value(key any) any {
	if _, ok := key.(recordKey); ok {
		return &c.rec
	}
	return c.Context.Value(key)
}

// recordFrom returns the request's record, or nil outside the chain.
func recordFrom(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey{}).(*record)
	return rec
}

// begin allocates the record with the current config snapshot.
func (g *Gateway) begin(r *http.Request) (*http.Request, *record) {
	c := &recordCtx{Context: r.Context()}
	c.rec.snap, c.rec.start, c.rec.routeLabel = g.snap.Load(), g.now(), routeNone
	return r.WithContext(c), &c.rec
}

// recover turns a panic into a 500 (or, when the response has started, an
// aborted connection) and logs it once. http.ErrAbortHandler passes through:
// ReverseProxy uses it to abort a response whose upstream body failed.
func (g *Gateway) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, rec := g.begin(r)
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
				panic(p)
			}
			g.log.Error("panic serving request", "request_id", rec.id, "route", rec.routeLabel,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rec.wroteHeader {
				panic(http.ErrAbortHandler)
			}
			g.writeError(w, r, errInternal)
		}()
		next.ServeHTTP(w, r)
	})
}

// clientIPOf is the client address stripSpoofable found (X-Forwarded-For
// walk), "" outside the chain.
func clientIPOf(r *http.Request) string {
	rec := recordFrom(r.Context())
	if rec == nil || !rec.client.IsValid() {
		return ""
	}
	return rec.client.String()
}

// stripSpoofable removes headers a client must not be able to set, on every
// request before routing (SPEC §6 steps 1–2), and finds the client address.
func (g *Gateway) stripSpoofable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rec.client, rec.chain = clientChain(r.Header, rec.peer, rec.snap.trusted)
		stripInbound(r.Header, rec.snap.spoofable, rec.trusted)
		next.ServeHTTP(w, r)
	})
}

// Route labels for requests that match no configured route.
const (
	routeAuth = "_auth" // gateway endpoints
	routeNone = "_none" // nothing matched (or rejected before matching)
)

// jwksPath is the JWKS endpoint, a gateway endpoint outside auth_prefix.
const jwksPath = "/.well-known/jwks.json"

// isGatewayEndpoint reports whether a normalised path is served by the
// gateway itself; gateway endpoints always win over routes. It compares the
// path as routes see it (matchPath), so "/;x/auth/login" and, under
// case_insensitive, "/AUTH/login" never reach an upstream.
func (s *snapshot) isGatewayEndpoint(path string) bool {
	fold := s.routes.fold
	m := matchPath(path, fold)
	return m == jwksPath || withinPrefix(m, matchPath(s.prefix, fold))
}

// route checks the Host, normalises the path, dispatches gateway endpoints
// and matches the route (SPEC §3 precedence, §6 steps 3–4). Downstream steps
// see r.URL.Path as normalised.
func (g *Gateway) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		raw, err := requestTarget(r)
		rec.rawPath = raw
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		// Before anything is chosen by it: a Host that is not host[:port]
		// never falls through to a route without host (parseHost says why).
		if _, ok := parseHost(r.Host); !ok {
			g.writeError(w, r, errBadHost)
			return
		}
		fold := rec.snap.routes.fold
		p, esc, err := normalizePath(raw, fold)
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		rec.path, rec.escaped = p, esc
		if rec.snap.isGatewayEndpoint(p) {
			rec.routeLabel = routeAuth
			// Endpoints see the path without parameters (case as received).
			ep := matchPath(p, false)
			g.serveAuthEndpoint(w, withPath(r, ep, escapePath(ep)), rec.snap)
			return
		}
		if p != r.URL.Path || esc != r.URL.EscapedPath() { // usually the path is already normal
			r = withPath(r, p, esc)
		}
		rt := rec.snap.routes.match(r.Host, p, r.Method)
		if rt == nil {
			g.writeError(w, r, errNoRoute)
			return
		}
		rec.route, rec.routeLabel = rt, rt.name
		next.ServeHTTP(w, r)
	})
}

// withPath returns a shallow copy of r whose URL carries the normalised path.
func withPath(r *http.Request, path, escaped string) *http.Request {
	u := *r.URL
	u.Path, u.RawPath = path, escaped
	r2 := r.WithContext(r.Context())
	r2.URL = &u
	return r2
}

// routed adapts a step that runs after routing: it gets the request's
// snapshot and matched route as arguments, not from the record.
func (g *Gateway) routed(h func(w http.ResponseWriter, r *http.Request, snap *snapshot, rt *route)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		h(w, r, rec.snap, rec.route)
	})
}

// gatewayEndpoint adapts a handler of the gateway's own endpoints (admin
// listener): the request is labelled "_auth" and the handler gets the
// request's snapshot as an argument.
func (g *Gateway) gatewayEndpoint(h func(w http.ResponseWriter, r *http.Request, snap *snapshot)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rec.routeLabel = routeAuth
		h(w, r, rec.snap)
	})
}

// authenticateStep runs authenticate (auth.go) for the matched route and
// puts the identity in the context (SPEC §6 steps 4–6). Hard rule, enforced
// here again whatever authenticate returns (a second line of defence): a
// required route is never forwarded without a user holding one of its roles.
func (g *Gateway) authenticateStep(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		id, err := g.authenticate(r, rec.snap, rec.route)
		if err == nil && rec.route.auth == config.AuthRequired {
			switch {
			case id.User == "":
				err = errUnauthenticated
			case len(rec.route.roles) > 0 && !anyRole(id.Roles, rec.route.roles):
				err = &deniedRole{user: id.User}
			}
		}
		if err != nil {
			g.writeError(w, r, err)
			return
		}
		// The verified caller for IdentityFrom (which copies Roles), the
		// access log and the upgrade owner; kept in the record rather than a
		// context value of its own (a second context and request copy).
		rec.identity, rec.verified = id, true
		next.ServeHTTP(w, r)
	})
}

// anyRole reports whether have and want share a role.
func anyRole(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
