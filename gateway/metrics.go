package gateway

import (
	"errors"
	"maps"
	"net/http"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names (SPEC §7), all of them.
const (
	metricRequests        = "portcullis_http_requests_total"
	metricDuration        = "portcullis_http_request_duration_seconds"
	metricUpstreamErrors  = "portcullis_upstream_errors_total"
	metricReloads         = "portcullis_config_reloads_total"
	metricLastReload      = "portcullis_config_last_reload_success_timestamp_seconds"
	metricBuildInfo       = "portcullis_build_info"
	metricAuthDecisions   = "portcullis_auth_decisions_total"
	metricAuthDuration    = "portcullis_auth_check_duration_seconds"
	metricLogins          = "portcullis_logins_total"
	metricRefreshes       = "portcullis_refreshes_total"
	metricSessionsEvicted = "portcullis_sessions_evicted_total"
	metricSessionsRevoked = "portcullis_sessions_revoked_total"
	metricStoreDuration   = "portcullis_session_store_duration_seconds"
	metricStoreErrors     = "portcullis_session_store_errors_total"
	metricStoreUp         = "portcullis_session_store_up"
)

// Closed label sets (SPEC §7). Labels are only ever taken from these.
const (
	decisionAllow = "allow"
	decisionDeny  = "deny"

	reasonOK               = "ok"
	reasonPublic           = "public"
	reasonMissingToken     = "missing_token"
	reasonInvalidToken     = "invalid_token"
	reasonExpiredToken     = "expired_token"
	reasonSessionInvalid   = "session_invalid"
	reasonUserDisabled     = "user_disabled"
	reasonForbidden        = "forbidden"
	reasonStoreUnavailable = "store_unavailable"

	loginSuccess        = "success"
	loginFailure        = "failure"
	loginRateLimited    = "rate_limited"
	loginInvalidRequest = "invalid_request"
	loginError          = "error"

	refreshSuccess = "success"
	refreshGrace   = "grace"
	refreshInvalid = "invalid"
	refreshReuse   = "reuse_detected"
	refreshError   = "error"

	revokedLogout       = "logout"
	revokedLogoutAll    = "logout_all"
	revokedUser         = "user"
	revokedAdmin        = "admin"
	revokedReuse        = "reuse_detected"
	revokedUserDisabled = "user_disabled"
	revokedProviderOut  = "provider_logout"  // back-channel logout (SPEC §9)
	revokedProviderNo   = "provider_refused" // a provider refresh was refused
)

var (
	authReasons    = []string{reasonOK, reasonPublic, reasonMissingToken, reasonInvalidToken, reasonExpiredToken, reasonSessionInvalid, reasonUserDisabled, reasonForbidden, reasonStoreUnavailable}
	loginResults   = []string{loginSuccess, loginFailure, loginRateLimited, loginInvalidRequest, loginError}
	refreshResults = []string{refreshSuccess, refreshGrace, refreshInvalid, refreshReuse, refreshError}
	revokeReasons  = []string{revokedLogout, revokedLogoutAll, revokedUser, revokedAdmin, revokedReuse, revokedUserDisabled, revokedProviderOut, revokedProviderNo}
)

// Upstream error kinds (portcullis_upstream_errors_total{kind}).
const (
	upstreamRefused = "refused"
	upstreamTimeout = "timeout"
	upstreamOther   = "other"
)

// Store operation labels (op); a closed set, one per SessionStore method (store.go).
const (
	opCreate        = "create"
	opValidate      = "validate"
	opRefresh       = "refresh"
	opRevokeByToken = "revoke_by_refresh_token"
	opRevoke        = "revoke"
	opRevokeUser    = "revoke_user"
	opList          = "list"
	opReserveLogin  = "reserve_login"
	opReleaseLogin  = "release_login"
	opPing          = "ping"
)

var storeOps = append([]string{opCreate, opValidate, opRefresh, opRevokeByToken, opRevoke, opRevokeUser, opList, opReserveLogin, opReleaseLogin, opPing},
	providerStoreOps...) // oidc_store.go

// metrics are the gateway's collectors.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge

	decisions    *prometheus.CounterVec
	authDuration prometheus.Histogram
	logins       *prometheus.CounterVec
	refreshes    *prometheus.CounterVec
	evicted      prometheus.Counter
	revoked      *prometheus.CounterVec

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	storeUp       prometheus.Gauge

	// resolved caches the children of requests and duration per label set
	// (requestSeries), replaced whole under resolvedMu.
	resolved   atomic.Pointer[map[requestKey]requestSeries]
	resolvedMu sync.Mutex

	// The children of the closed label sets, resolved once by initSeries
	// (read-only afterwards): the hot path skips WithLabelValues' hashing
	// and locking.
	decisionOf      map[[2]string]prometheus.Counter
	storeDurationOf map[string]prometheus.Observer
	storeErrorsOf   map[string]prometheus.Counter

	oidc oidcMetrics // identity providers (oidc_metrics.go)
}

// newMetrics registers the gateway's metrics, portcullis_build_info and the
// Go and process collectors (tolerating those two if main registered them
// already). Every series of a closed label set starts at zero, so dashboards
// see zeros, not gaps.
func newMetrics(reg prometheus.Registerer, build BuildInfo) (*metrics, error) {
	m := newCollectors()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricBuildInfo, Help: "Build information; always 1.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(build.Version, build.Commit, goruntime.Version()).Set(1)
	m.initSeries()

	cs := []prometheus.Collector{m.requests, m.duration, m.upstreamErrors, m.reloads, m.lastReload, info,
		m.decisions, m.authDuration, m.logins, m.refreshes, m.evicted, m.revoked,
		m.storeDuration, m.storeErrors, m.storeUp}
	cs = append(cs, m.oidc.collectors()...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err // a second gateway on one registry would count into the void
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// newCollectors creates (but does not register) every collector.
func newCollectors() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests, Help: "Requests served on the proxy listener, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricDuration, Help: "Time from the first byte of a request to the end of its response, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricUpstreamErrors, Help: "Failed upstream requests, by route and kind (refused, timeout, other).",
		}, []string{"route", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricReloads, Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricLastReload, Help: "Unix time of the last successful configuration load.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricAuthDecisions, Help: "Authentication decisions on proxied requests and forward-auth, by decision and reason.",
		}, []string{"decision", "reason"}),
		authDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: metricAuthDuration, Help: "Time spent authenticating one proxied or forward-auth request.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricLogins, Help: "Login attempts, by result.",
		}, []string{"result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRefreshes, Help: "Refresh attempts, by result.",
		}, []string{"result"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricSessionsEvicted, Help: "Sessions evicted to respect sessions.max_per_user.",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricSessionsRevoked, Help: "Sessions revoked, by reason.",
		}, []string{"reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricStoreDuration, Help: "Session store call latency, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricStoreErrors, Help: "Session store calls that failed (unreachable, timed out or unexpected), by operation.",
		}, []string{"op"}),
		oidc: newOIDCMetrics(),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricStoreUp, Help: "1 when the last session store call got an answer, 0 when the store was unreachable.",
		}),
	}
}

// initSeries creates every series of a closed label set at zero.
func (m *metrics) initSeries() {
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.decisionOf = map[[2]string]prometheus.Counter{}
	for _, r := range authReasons {
		for _, d := range []string{decisionAllow, decisionDeny} {
			m.decisionOf[[2]string{d, r}] = m.decisions.WithLabelValues(d, r)
		}
	}
	for _, r := range loginResults {
		m.logins.WithLabelValues(r)
	}
	for _, r := range refreshResults {
		m.refreshes.WithLabelValues(r)
	}
	for _, r := range revokeReasons {
		m.revoked.WithLabelValues(r)
	}
	m.storeDurationOf = map[string]prometheus.Observer{}
	m.storeErrorsOf = map[string]prometheus.Counter{}
	for _, op := range storeOps {
		m.storeDurationOf[op] = m.storeDuration.WithLabelValues(op)
		m.storeErrorsOf[op] = m.storeErrors.WithLabelValues(op)
	}
}

// decision is the auth decisions counter of (decision, reason).
func (m *metrics) decision(decision, reason string) prometheus.Counter {
	if c, ok := m.decisionOf[[2]string{decision, reason}]; ok {
		return c
	}
	return m.decisions.WithLabelValues(decision, reason)
}

// storeCall is the store latency histogram of op.
func (m *metrics) storeCall(op string) prometheus.Observer {
	if o, ok := m.storeDurationOf[op]; ok {
		return o
	}
	return m.storeDuration.WithLabelValues(op)
}

// storeError is the store error counter of op.
func (m *metrics) storeError(op string) prometheus.Counter {
	if c, ok := m.storeErrorsOf[op]; ok {
		return c
	}
	return m.storeErrors.WithLabelValues(op)
}

// initRoute creates a route's upstream-error series at zero, so a dashboard
// sees the route before its first failure.
func (m *metrics) initRoute(name string) {
	for _, k := range []string{upstreamRefused, upstreamTimeout, upstreamOther} {
		m.upstreamErrors.WithLabelValues(name, k)
	}
}

// decide records one authentication decision and its duration.
func (m *metrics) decide(decision, reason string, start, end time.Time) {
	m.decision(decision, reason).Inc()
	m.authDuration.Observe(end.Sub(start).Seconds())
}

// revoke counts n sessions revoked for reason.
func (m *metrics) revoke(reason string, n int) {
	if n > 0 {
		m.revoked.WithLabelValues(reason).Add(float64(n))
	}
}

// observeRequest counts one request. Labels come from closed sets only.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	s := m.requestSeries(route, methodLabel(method), status)
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// requestKey names the series of one request: route, method label, status.
type requestKey struct {
	route, method string
	status        int
}

// requestSeries are the resolved children of requests and duration for one
// requestKey.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// maxResolvedSeries bounds the resolved-series cache; past it (routes
// renamed by many reloads, unusual status codes) requests resolve their
// series through the vectors each time, as before.
const maxResolvedSeries = 4096

// requestSeries returns the series of a request, resolved once per label
// set: WithLabelValues hashes the labels, takes the vector's lock and
// formats the status on every call; the hot path reads a copy-on-write map
// without a lock instead.
func (m *metrics) requestSeries(route, method string, status int) requestSeries {
	k := requestKey{route, method, status}
	if cur := m.resolved.Load(); cur != nil {
		if s, ok := (*cur)[k]; ok {
			return s
		}
	}
	s := requestSeries{
		count:    m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(route),
	}
	m.resolvedMu.Lock()
	defer m.resolvedMu.Unlock()
	cur := m.resolved.Load()
	if cur != nil && len(*cur) >= maxResolvedSeries {
		return s
	}
	next := make(map[requestKey]requestSeries, 1+lenOf(cur))
	if cur != nil {
		maps.Copy(next, *cur)
	}
	next[k] = s
	m.resolved.Store(&next)
	return s
}

func lenOf(m *map[requestKey]requestSeries) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// methodLabel maps a request method to the closed set of SPEC §7.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// MetricsHandler serves the metrics listener: /metrics, /healthz, /readyz.
// No authentication (SPEC §3); bind it to a private address.
func (g *Gateway) MetricsHandler() http.Handler { return g.metricsMux }

func (g *Gateway) newMetricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.gath, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness only: never touches the store.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.serveReadyz)
	return mux
}
