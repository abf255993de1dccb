package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// newSharedTransport is the one upstream connection pool shared by every
// route without tls options: a clone of http.DefaultTransport with explicit
// timeouts and a raised MaxIdleConnsPerHost (the default of 2 throttles a
// proxy badly). There is no ResponseHeaderTimeout: each route's timeout is
// applied per request (serveProxy). Environment proxies (HTTP_PROXY) are
// ignored: upstreams are addressed directly.
func newSharedTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

// newReverseProxy builds the single ReverseProxy. Rewrite (never Director):
// headers set there cannot be removed by a client's Connection header.
func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: routeTransport{timed: &g.timed},
		// 0: ReverseProxy flushes every write of a text/event-stream or an
		// unknown-length (streamed) body at once, and lets fixed-length
		// bodies go out without a flush per write (-1 cost ~1/4 of the CPU).
		FlushInterval:  0,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		BufferPool:     copyBuffers,
	}
}

// copyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies with
// (without a pool it allocates one per response).
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}

const copyBufferSize = 32 << 10

// bufferPool pools array pointers: Put converts the slice back to the
// pointer it came from, so returning a buffer allocates nothing (pooling
// &b of a []byte would allocate a slice header per Put).
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte { return p.pool.Get().(*[copyBufferSize]byte)[:] }

func (p *bufferPool) Put(b []byte) {
	if cap(b) < copyBufferSize {
		return // not one of ours
	}
	p.pool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
}

// routeTransport sends each request through its route's transport, with the
// route's timeout (SPEC §6 step 8: it bounds the dial and the wait for
// response headers, never an upload, a body or an upgraded connection).
//
// The timeout is the transport's own: each (route transport, timeout) pair
// gets a clone (timedTransports) whose ResponseHeaderTimeout — counted, as
// the SPEC asks, once the request and its body are written — and dial and
// TLS handshake timeouts are the route's. Routes with the same transport
// and timeout (usually all of them) share one connection pool. A
// per-request timer, cancelable context and httptrace hooks did the same
// at about ten allocations and five timer operations per request.
type routeTransport struct{ timed *timedTransports }

// RoundTrip implements http.RoundTripper.
func (t routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recordFrom(req.Context())
	if rec == nil || rec.route == nil {
		return nil, errors.New("gateway: request without a route")
	}
	rt := rec.route
	base, ok := rt.transport.(*http.Transport)
	if !ok {
		return rt.transport.RoundTrip(req) // echo: nothing to wait for
	}
	return t.timed.get(base, rt.timeout).RoundTrip(req)
}

// timedKey names one timed clone: the route's transport and its timeout.
type timedKey struct {
	base    *http.Transport
	timeout time.Duration
}

// timedTransports holds the timed clones, read without a lock (the map is
// replaced whole under mu when a clone is added or forgotten).
type timedTransports struct {
	mu sync.Mutex
	m  atomic.Pointer[map[timedKey]*http.Transport]
}

// get returns base's clone for timeout, creating it on first use.
func (t *timedTransports) get(base *http.Transport, timeout time.Duration) *http.Transport {
	k := timedKey{base, timeout}
	if m := t.m.Load(); m != nil {
		if tr, ok := (*m)[k]; ok {
			return tr
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.m.Load()
	if cur != nil {
		if tr, ok := (*cur)[k]; ok {
			return tr
		}
	}
	tr := timedClone(base, timeout)
	next := map[timedKey]*http.Transport{k: tr}
	if cur != nil {
		maps.Copy(next, *cur)
	}
	t.m.Store(&next)
	return tr
}

// forget closes the idle connections of the clones of bases and drops them
// (a reload replaced those transports).
func (t *timedTransports) forget(bases []*http.Transport) {
	if len(bases) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.m.Load()
	if cur == nil {
		return
	}
	next := maps.Clone(*cur)
	for k, tr := range next {
		if slices.Contains(bases, k.base) {
			tr.CloseIdleConnections()
			delete(next, k)
		}
	}
	t.m.Store(&next)
}

// timedClone is base with the route timeout applied to the dial, the TLS
// handshake and the wait for response headers (the dial and the handshake
// at most as long as base allows them).
func timedClone(base *http.Transport, timeout time.Duration) *http.Transport {
	tr := base.Clone()
	tr.ResponseHeaderTimeout = timeout
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, upstreamDialTimeout), KeepAlive: 30 * time.Second}).DialContext
	if tr.TLSHandshakeTimeout <= 0 || timeout < tr.TLSHandshakeTimeout {
		tr.TLSHandshakeTimeout = timeout
	}
	return tr
}

// upstreamDialTimeout bounds a dial whatever the route's timeout.
const upstreamDialTimeout = 10 * time.Second

// serveProxy forwards a routed, authenticated request (routeTransport
// applies the route's timeout).
func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request) {
	rec := recordFrom(r.Context())
	// The gateway never adds Set-Cookie to an upstream response.
	delete(w.Header(), "Set-Cookie")
	rec.proxied = true
	g.proxy.ServeHTTP(w, r)
}

// Slots of record.fwValues: the values of the headers Rewrite sets, kept in
// the record so that setting them allocates no value slices.
const (
	fwXFF = iota
	fwProto
	fwHost
	fwRealIP
	fwRequestID
	fwUser
	fwRoles
	fwSession
	fwAssertion
	fwSlots
)

// rewrite builds the outbound request (SPEC §6 steps 6–8). ReverseProxy has
// already removed hop-by-hop headers (including those a client named in
// Connection) and the inbound X-Forwarded-For/-Host/-Proto and Forwarded.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	rec := recordFrom(pr.In.Context())
	rt := rec.route
	out := pr.Out

	path := forwardPath(rec.path, rt)
	rec.outURL = url.URL{
		Scheme:   rt.upstream.Scheme,
		Host:     rt.upstream.Host,
		Path:     path,
		RawPath:  escapePath(path),   // the matched path, re-escaped once
		RawQuery: pr.In.URL.RawQuery, // forwarded unchanged
	}
	out.URL = &rec.outURL
	if rt.preserveHost {
		out.Host = pr.In.Host
	} else {
		out.Host = rt.upstream.Host
	}

	h := out.Header
	setForwarded(h, pr.In, rec)
	// authenticateStep's identity; every request that reaches the proxy
	// went through it. setIdentity only reads it (no copy needed).
	setIdentityInto(h, rec.snap.identity, rec.identity, rec.fwValues[fwUser:fwSlots])
	stripGatewayCookies(h, rec.snap.cookieNames)
	if !rt.passAuth {
		removeBearer(h)
	}
	setHeader(h, requestIDKey, rec.id, rec.fwValues[:], fwRequestID)
}

// modifyResponse runs once response headers have arrived: it makes the
// gateway's X-Request-ID the one the client sees.
func (g *Gateway) modifyResponse(res *http.Response) error {
	delete(res.Header, requestIDKey) // already set on the response by requestID
	return nil
}

// statusClientClosed is recorded (access log, metrics) when the client went
// away before the upstream answered; nginx's convention.
const statusClientClosed = 499

// proxyError is the ReverseProxy ErrorHandler: it classifies the failure,
// counts it and answers through writeError.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rec := recordFrom(r.Context())
	kind, clientGone := classifyUpstreamError(r.Context(), err)
	if clientGone {
		g.log.Debug("client went away", "request_id", rec.id, "route", rec.routeLabel)
		w.WriteHeader(statusClientClosed)
		return
	}
	g.metrics.upstreamErrors.WithLabelValues(rec.routeLabel, kind).Inc()
	pub := errUpstream
	switch kind {
	case upstreamRefused:
		pub = errUpstreamRefused
	case upstreamTimeout:
		pub = errUpstreamTimeout
	}
	g.writeError(w, r, fmt.Errorf("%w: %w", pub, err))
}

// classifyUpstreamError sorts a proxy failure into refused, timeout or other;
// clientGone is true when the inbound request was canceled by the client.
func classifyUpstreamError(ctx context.Context, err error) (kind string, clientGone bool) {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(context.Cause(ctx), errUpstreamTimeout), errors.Is(err, errUpstreamTimeout):
		return upstreamTimeout, false
	case ctx.Err() != nil:
		return "", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return upstreamRefused, false
	case errors.As(err, &ne) && ne.Timeout():
		return upstreamTimeout, false
	case errors.As(err, &op) && op.Op == "dial":
		return upstreamRefused, false // unreachable host, no route, DNS: could not connect
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return upstreamRefused, false
	}
	return upstreamOther, false
}

// upgradeTracker holds the upgraded (WebSocket) connections still open so
// CloseUpgraded can end them after the drain.
type upgradeTracker struct {
	mu    sync.Mutex
	conns map[*upgradedConn]struct{}
}

// upgradedConn is a hijacked client connection of an upgraded request.
type upgradedConn struct {
	net.Conn
	tracker *upgradeTracker
	once    sync.Once
	// identity and routeName of the request that upgraded, so a periodic
	// session re-check (SPEC §6 step 8) can find what to close.
	identity  Identity
	routeName string
}

func (t *upgradeTracker) track(c net.Conn, id Identity, routeName string) *upgradedConn {
	uc := &upgradedConn{Conn: c, tracker: t, identity: id, routeName: routeName}
	t.mu.Lock()
	if t.conns == nil {
		t.conns = map[*upgradedConn]struct{}{}
	}
	t.conns[uc] = struct{}{}
	t.mu.Unlock()
	return uc
}

// Close closes the connection and forgets it.
func (c *upgradedConn) Close() error {
	c.once.Do(func() {
		c.tracker.mu.Lock()
		delete(c.tracker.conns, c)
		c.tracker.mu.Unlock()
	})
	return c.Conn.Close()
}

// snapshot returns the connections open now.
func (t *upgradeTracker) snapshot() []*upgradedConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*upgradedConn, 0, len(t.conns))
	for c := range t.conns {
		out = append(out, c)
	}
	return out
}

// CloseUpgraded closes every upgraded (WebSocket) connection still open; main
// calls it after the drain (SPEC §8).
func (g *Gateway) CloseUpgraded() {
	for _, c := range g.upgrades.snapshot() {
		_ = c.Close()
	}
}
