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
	opRecordFailure = "record_failure"
	opFailures      = "failures"
	opPing          = "ping"
)

var storeOps = []string{opCreate, opValidate, opRefresh, opRevokeByToken, opRevoke, opRevokeUser, opList, opRecordFailure, opFailures, opPing}

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

func (s instrumentedStore) Create(ctx context.Context, n sessions.NewSession) (sessions.Created, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	c, err := s.next.Create(ctx, n)
	s.observe(opCreate, start, err)
	return c, err
}

func (s instrumentedStore) Validate(ctx context.Context, user, id string) (sessions.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.Validate(ctx, user, id)
	s.observe(opValidate, start, err)
	return v, err
}

func (s instrumentedStore) Refresh(ctx context.Context, tok string) (sessions.Refreshed, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.Refresh(ctx, tok)
	s.observe(opRefresh, start, err)
	return v, err
}

func (s instrumentedStore) RevokeByRefreshToken(ctx context.Context, tok string) (sessions.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.RevokeByRefreshToken(ctx, tok)
	s.observe(opRevokeByToken, start, err)
	return v, err
}

func (s instrumentedStore) Revoke(ctx context.Context, user, id string) error {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	err := s.next.Revoke(ctx, user, id)
	s.observe(opRevoke, start, err)
	return err
}

func (s instrumentedStore) RevokeUser(ctx context.Context, user string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.RevokeUser(ctx, user)
	s.observe(opRevokeUser, start, err)
	return v, err
}

func (s instrumentedStore) List(ctx context.Context, user string) ([]sessions.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.List(ctx, user)
	s.observe(opList, start, err)
	return v, err
}

func (s instrumentedStore) RecordFailure(ctx context.Context, key string, window time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.next.RecordFailure(ctx, key, window)
	s.observe(opRecordFailure, start, err)
	return v, err
}

func (s instrumentedStore) Failures(ctx context.Context, key string, window time.Duration) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	n, after, err := s.next.Failures(ctx, key, window)
	s.observe(opFailures, start, err)
	return n, after, err
}

func (s instrumentedStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	start := time.Now()
	err := s.next.Ping(ctx)
	s.observe(opPing, start, err)
	return err
}
