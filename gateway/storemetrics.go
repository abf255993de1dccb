package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/sessions"
)

// Store operation labels (op); a closed set, one per SessionStore method.
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

var storeOps = []string{opCreate, opValidate, opRefresh, opRevokeByToken, opRevoke, opRevokeUser, opList, opReserveLogin, opReleaseLogin, opPing}

// storeMetrics are the session-store collectors.
type storeMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	up       prometheus.Gauge
}

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricStoreDuration, Help: "Session store call latency, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricStoreErrors, Help: "Session store calls that failed (unreachable, timed out or unexpected), by operation.",
		}, []string{"op"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricStoreUp, Help: "1 when the last session store call got an answer, 0 when the store was unreachable.",
		}),
	}
}

func (m *storeMetrics) init() {
	for _, op := range storeOps {
		m.duration.WithLabelValues(op)
		m.errors.WithLabelValues(op)
	}
}

// storeCallTimeout bounds every store call made for a request, on top of the
// client's own dial/read/write timeouts: a request waiting on a dead store
// gets its 503 within this, whatever the retry policy below.
const storeCallTimeout = 3 * time.Second

// instrumentedStore times every store call and counts its failures. Domain
// answers (not found, invalid grant, reuse) are not failures: the store
// worked. Anything else (ErrUnavailable, unexpected errors) is, and
// ErrUnavailable also drops session_store_up to 0 until the next answer.
type instrumentedStore struct {
	next SessionStore
	m    *storeMetrics
}

var _ SessionStore = instrumentedStore{}

func instrumentStore(s SessionStore, m *storeMetrics) SessionStore {
	if s == nil {
		return nil
	}
	if is, ok := s.(instrumentedStore); ok {
		s = is.next
	}
	return instrumentedStore{next: s, m: m}
}

func (s instrumentedStore) observe(op string, start time.Time, err error) {
	s.m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	switch {
	case err == nil, errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrInvalidGrant), errors.Is(err, sessions.ErrReused):
		s.m.up.Set(1)
	case errors.Is(err, sessions.ErrUnavailable):
		s.m.up.Set(0)
		s.m.errors.WithLabelValues(op).Inc()
	default:
		s.m.errors.WithLabelValues(op).Inc()
	}
}

// timed runs one store call under storeCallTimeout and observes it as op.
func timed[T any](ctx context.Context, s instrumentedStore, op string, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := call(ctx)
	s.observe(op, start, err)
	return v, err
}

// none adapts an error-only call to timed.
func none(call func(context.Context) error) func(context.Context) (struct{}, error) {
	return func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) }
}

func (s instrumentedStore) Create(ctx context.Context, n sessions.NewSession) (sessions.Created, error) {
	return timed(ctx, s, opCreate, func(ctx context.Context) (sessions.Created, error) { return s.next.Create(ctx, n) })
}

func (s instrumentedStore) Validate(ctx context.Context, user, id string) (sessions.Session, error) {
	return timed(ctx, s, opValidate, func(ctx context.Context) (sessions.Session, error) { return s.next.Validate(ctx, user, id) })
}

func (s instrumentedStore) Refresh(ctx context.Context, tok string) (sessions.Refreshed, error) {
	return timed(ctx, s, opRefresh, func(ctx context.Context) (sessions.Refreshed, error) { return s.next.Refresh(ctx, tok) })
}

func (s instrumentedStore) RevokeByRefreshToken(ctx context.Context, tok string) (sessions.Session, error) {
	return timed(ctx, s, opRevokeByToken, func(ctx context.Context) (sessions.Session, error) { return s.next.RevokeByRefreshToken(ctx, tok) })
}

func (s instrumentedStore) Revoke(ctx context.Context, user, id string) error {
	_, err := timed(ctx, s, opRevoke, none(func(ctx context.Context) error { return s.next.Revoke(ctx, user, id) }))
	return err
}

func (s instrumentedStore) RevokeUser(ctx context.Context, user string) ([]string, error) {
	return timed(ctx, s, opRevokeUser, func(ctx context.Context) ([]string, error) { return s.next.RevokeUser(ctx, user) })
}

func (s instrumentedStore) List(ctx context.Context, user string) ([]sessions.Session, error) {
	return timed(ctx, s, opList, func(ctx context.Context) ([]sessions.Session, error) { return s.next.List(ctx, user) })
}

func (s instrumentedStore) ReserveLogin(ctx context.Context, a sessions.LoginAttempt) (sessions.Reservation, error) {
	return timed(ctx, s, opReserveLogin, func(ctx context.Context) (sessions.Reservation, error) { return s.next.ReserveLogin(ctx, a) })
}

func (s instrumentedStore) ReleaseLogin(ctx context.Context, r sessions.Reservation) error {
	_, err := timed(ctx, s, opReleaseLogin, none(func(ctx context.Context) error { return s.next.ReleaseLogin(ctx, r) }))
	return err
}

func (s instrumentedStore) Ping(ctx context.Context) error {
	_, err := timed(ctx, s, opPing, none(s.next.Ping))
	return err
}
