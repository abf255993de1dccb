package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names (SPEC §7) owned by the authentication code.
const (
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
)

var (
	authReasons    = []string{reasonOK, reasonPublic, reasonMissingToken, reasonInvalidToken, reasonExpiredToken, reasonSessionInvalid, reasonUserDisabled, reasonForbidden, reasonStoreUnavailable}
	loginResults   = []string{loginSuccess, loginFailure, loginRateLimited, loginInvalidRequest, loginError}
	refreshResults = []string{refreshSuccess, refreshGrace, refreshInvalid, refreshReuse, refreshError}
	revokeReasons  = []string{revokedLogout, revokedLogoutAll, revokedUser, revokedAdmin, revokedReuse, revokedUserDisabled}
)

// authMetrics are the auth and session collectors.
type authMetrics struct {
	decisions *prometheus.CounterVec
	duration  prometheus.Histogram
	logins    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	evicted   prometheus.Counter
	revoked   *prometheus.CounterVec
	store     *storeMetrics
}

func newAuthMetrics(reg prometheus.Registerer) (*authMetrics, error) {
	m := &authMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricAuthDecisions, Help: "Authentication decisions on proxied requests and forward-auth, by decision and reason.",
		}, []string{"decision", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
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
		store: newStoreMetrics(),
	}
	cs := []prometheus.Collector{m.decisions, m.duration, m.logins, m.refreshes, m.evicted, m.revoked,
		m.store.duration, m.store.errors, m.store.up}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err // a second gateway on one registry would count into the void
		}
	}
	// Pre-create every series so dashboards see zeros, not gaps.
	for _, r := range authReasons {
		for _, d := range []string{decisionAllow, decisionDeny} {
			m.decisions.WithLabelValues(d, r)
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
	m.store.init()
	return m, nil
}

// decide records one authentication decision and its duration.
func (m *authMetrics) decide(decision, reason string, start, end time.Time) {
	m.decisions.WithLabelValues(decision, reason).Inc()
	m.duration.Observe(end.Sub(start).Seconds())
}

func (m *authMetrics) revoke(reason string, n int) {
	if n > 0 {
		m.revoked.WithLabelValues(reason).Add(float64(n))
	}
}
