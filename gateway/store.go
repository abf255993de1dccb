package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// SessionStore is the session store the gateway is built with
// (Options.Store); both *sessions.MemoryStore and *sessions.RedisStore
// satisfy it. It is the union of what its users need, each of which holds
// only its own part: authentication and the endpoints (sessionStore,
// auth.go), the login throttle (loginCounter, ratelimit.go) and readiness
// (pinger, readiness.go).
type SessionStore interface {
	sessionStore
	loginCounter
	pinger
	providerStore
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
	m    *metrics
}

var _ SessionStore = instrumentedStore{}

func instrumentStore(s SessionStore, m *metrics) SessionStore {
	if s == nil {
		s = unavailableStore{}
	}
	if is, ok := s.(instrumentedStore); ok {
		s = is.next
	}
	return instrumentedStore{next: s, m: m}
}

func (s instrumentedStore) observe(op string, start time.Time, err error) {
	s.m.storeCall(op).Observe(time.Since(start).Seconds())
	switch {
	case err == nil, errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrInvalidGrant), errors.Is(err, sessions.ErrReused):
		s.m.storeUp.Set(1)
	case errors.Is(err, sessions.ErrUnavailable):
		s.m.storeUp.Set(0)
		s.m.storeError(op).Inc()
	default:
		s.m.storeError(op).Inc()
	}
}

// timed runs one store call under storeCallTimeout and observes it as op.
func timed[T any](ctx context.Context, s instrumentedStore, op string, call func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	cc := &callContext{Context: ctx, deadline: start.Add(storeCallTimeout)}
	defer cc.release()
	v, err := call(cc)
	s.observe(op, start, err)
	return v, err
}

// callContext is context.WithTimeout(parent, storeCallTimeout) that arms
// its timer only when the store waits on it (Done): a call answered in
// memory (memory store, a cache hit) skips the timer and the cancelable
// context, which cost about as much as the cache hit itself. Deadline and
// Err answer without arming, so a client that sets socket deadlines from it
// (go-redis) is bounded all the same, and a store that only checks Err
// before answering (sessions.checkCtx) costs a clock read.
type callContext struct {
	context.Context // the parent
	deadline        time.Time

	once     sync.Once
	armed    context.Context // the WithDeadline context, or releasedContext
	cancel   context.CancelFunc
	hasArmed atomic.Bool // armed holds the WithDeadline context
	released atomic.Bool // release ran (armed is then done, whichever it holds)
}

// releasedContext is what a callContext released before it was armed
// waits on: done, canceled.
var releasedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *callContext) arm() context.Context {
	c.once.Do(func() {
		c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		c.hasArmed.Store(true)
	})
	return c.armed
}

// Value implements context.Context. Once armed, the armed context answers
// (it has the parent's values too): context.WithCancel(c) then finds the
// armed cancelCtx behind Done and registers with it, rather than starting a
// goroutine to watch a context it does not know.
func (c *callContext) Value(key any) any {
	if c.hasArmed.Load() {
		return c.armed.Value(key)
	}
	return c.Context.Value(key)
}

// Deadline implements context.Context.
func (c *callContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done implements context.Context.
func (c *callContext) Done() <-chan struct{} { return c.arm().Done() }

// Err implements context.Context. Unarmed, it answers as the armed context
// would at this instant: the parent's error, else DeadlineExceeded once the
// deadline has passed (arming then yields a context already done with it).
func (c *callContext) Err() error {
	if c.hasArmed.Load() || c.released.Load() {
		return c.arm().Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// release ends the call's context (cancel of context.WithTimeout): anything
// still holding it (a batch sent after its caller returned) sees it done.
func (c *callContext) release() {
	c.once.Do(func() { c.armed = releasedContext })
	c.released.Store(true)
	if c.cancel != nil {
		c.cancel()
	}
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

// unavailableStore stands in when no store was configured: every call fails
// closed with sessions.ErrUnavailable.
type unavailableStore struct{}

var errNoSessionStore = fmt.Errorf("%w: no session store configured", sessions.ErrUnavailable)

func (unavailableStore) Create(context.Context, sessions.NewSession) (sessions.Created, error) {
	return sessions.Created{}, errNoSessionStore
}
func (unavailableStore) Validate(context.Context, string, string) (sessions.Session, error) {
	return sessions.Session{}, errNoSessionStore
}
func (unavailableStore) Refresh(context.Context, string) (sessions.Refreshed, error) {
	return sessions.Refreshed{}, errNoSessionStore
}
func (unavailableStore) RevokeByRefreshToken(context.Context, string) (sessions.Session, error) {
	return sessions.Session{}, errNoSessionStore
}
func (unavailableStore) Revoke(context.Context, string, string) error { return errNoSessionStore }
func (unavailableStore) RevokeUser(context.Context, string) ([]string, error) {
	return nil, errNoSessionStore
}
func (unavailableStore) List(context.Context, string) ([]sessions.Session, error) {
	return nil, errNoSessionStore
}
func (unavailableStore) ReserveLogin(context.Context, sessions.LoginAttempt) (sessions.Reservation, error) {
	return sessions.Reservation{}, errNoSessionStore
}
func (unavailableStore) ReleaseLogin(context.Context, sessions.Reservation) error {
	return errNoSessionStore
}
func (unavailableStore) Ping(context.Context) error { return errNoSessionStore }
