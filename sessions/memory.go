package sessions

import (
	"cmp"
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"time"
)

// MemoryStore keeps sessions in the serving process. It has the semantics of
// the Redis store (same expiry, eviction and rotation rules, proven by the
// same conformance suite) and is safe for concurrent use. Its state is lost
// on restart and not shared between replicas.
type MemoryStore struct {
	opts Options

	mu        sync.Mutex
	sessions  map[string]*memSession     // by id
	users     map[string]map[string]bool // user → ids
	failures  map[string]*memFailures
	marks     map[string]memMark // provider keys (provider.go): username claims, jtis, locks, sid index
	lastSweep int64
}

// memFailures is one rate-limit key's failure times (ms, oldest first) and
// the window they were last recorded with.
type memFailures struct {
	ts     []int64
	window int64
}

type memSession struct {
	id, user, ip, ua, fp string
	created, lastUsed    int64
	cur, prev            [32]byte // SHA-256 of the current / previous refresh secret
	hasPrev              bool
	nonce                []byte // nonce of the rotation that produced cur
	rotated              int64
	prov                 Provider // zero for a local session
	provTokens           []byte
}

// sweepEvery bounds how long expired sessions and stale failure counters of
// idle users stay in memory: at most one full sweep per interval, on writes.
const sweepEvery = time.Minute

var _ interface {
	Ping(context.Context) error
	Close() error
} = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store. An empty opts.DeriveKey is replaced
// by a random key (grace-window tokens then survive only as long as the
// process, which is as long as the sessions themselves).
func NewMemoryStore(opts Options) *MemoryStore {
	opts = opts.withDefaults()
	if len(opts.DeriveKey) == 0 {
		opts.DeriveKey = make([]byte, minDeriveKeyLen)
		rand.Read(opts.DeriveKey)
	}
	return &MemoryStore{
		opts:     opts,
		sessions: map[string]*memSession{},
		users:    map[string]map[string]bool{},
		failures: map[string]*memFailures{},
		marks:    map[string]memMark{},
	}
}

func (m *MemoryStore) view(r *memSession) Session {
	return m.opts.session(r.id, r.user, r.created, r.lastUsed, r.ip, r.ua, r.fp, r.prov.clone())
}

// live reports whether r exists at now; an expired record is removed.
func (m *MemoryStore) live(r *memSession, now int64) bool {
	if now < m.opts.endMS(r.created, r.lastUsed) {
		return true
	}
	m.remove(r)
	return false
}

func (m *MemoryStore) remove(r *memSession) {
	delete(m.sessions, r.id)
	if ids := m.users[r.user]; ids != nil {
		delete(ids, r.id)
		if len(ids) == 0 {
			delete(m.users, r.user)
		}
	}
}

// lookup returns the live session id, or nil.
func (m *MemoryStore) lookup(id string, now int64) *memSession {
	r := m.sessions[id]
	if r == nil || !m.live(r, now) {
		return nil
	}
	return r
}

func (m *MemoryStore) sweep(now int64) {
	if now-m.lastSweep < sweepEvery.Milliseconds() && now >= m.lastSweep {
		return
	}
	m.lastSweep = now
	for _, r := range m.sessions {
		m.live(r, now)
	}
	for k, f := range m.failures {
		// Like the Redis key's TTL: gone one window after the newest failure.
		if len(f.ts) == 0 || now-f.ts[len(f.ts)-1] >= f.window {
			delete(m.failures, k)
		}
	}
	for k, mk := range m.marks {
		if now >= mk.until {
			delete(m.marks, k)
		}
	}
}

// Create starts a session for s.User, evicting the user's least recently
// used sessions first when MaxPerUser would be exceeded.
func (m *MemoryStore) Create(ctx context.Context, s NewSession) (Created, error) {
	if err := checkCtx(ctx, "create"); err != nil {
		return Created{}, err
	}
	if err := s.check(); err != nil {
		return Created{}, err
	}
	s = s.clipped()
	id, secret := newSessionID(s.User), newSecret()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	m.sweep(now)
	var mine []*memSession
	for sid := range m.users[s.User] {
		if r := m.lookup(sid, now); r != nil {
			mine = append(mine, r)
		}
	}
	var evicted []string
	if limit := m.opts.MaxPerUser; limit > 0 && len(mine) >= limit {
		// Least recently used first; ties by id, as Redis' ZPOPMIN does.
		slices.SortFunc(mine, func(a, b *memSession) int {
			return cmp.Or(cmp.Compare(a.lastUsed, b.lastUsed), cmp.Compare(a.id, b.id))
		})
		for _, r := range mine[:len(mine)-limit+1] {
			m.remove(r)
			evicted = append(evicted, r.id)
		}
	}
	r := &memSession{
		id: id, user: s.User, ip: s.IP, ua: s.UserAgent, fp: s.PasswordFingerprint,
		created: now, lastUsed: now, cur: hashSecret(secret), rotated: now,
		prov: s.Provider.clone(), provTokens: append([]byte(nil), s.ProviderTokens...),
	}
	m.sessions[id] = r
	if m.users[s.User] == nil {
		m.users[s.User] = map[string]bool{}
	}
	m.users[s.User][id] = true
	return Created{Session: m.view(r), RefreshToken: formatRefreshToken(id, secret), Evicted: evicted}, nil
}

// Validate returns the live session id of user, touching it when its last
// use is at least TouchInterval old. ErrNotFound when it is missing, expired
// or another user's.
func (m *MemoryStore) Validate(ctx context.Context, user, id string) (Session, error) {
	if err := checkCtx(ctx, "validate"); err != nil {
		return Session{}, err
	}
	if !ownedBy(id, user) {
		return Session{}, errNotFound("validate")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	r := m.lookup(id, now)
	if r == nil || r.user != user {
		return Session{}, errNotFound("validate")
	}
	if now-r.lastUsed >= m.opts.TouchInterval.Milliseconds() {
		r.lastUsed = now
	}
	return m.view(r), nil
}

// Refresh rotates the refresh token (see RedisStore.Refresh for the rules).
func (m *MemoryStore) Refresh(ctx context.Context, refreshToken string) (Refreshed, error) {
	if err := checkCtx(ctx, "refresh"); err != nil {
		return Refreshed{}, err
	}
	rot, ok := newRotation(m.opts.DeriveKey, refreshToken)
	if !ok {
		return Refreshed{}, errInvalidGrant("refresh")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	r := m.lookup(rot.id, now)
	switch {
	case r == nil:
		return Refreshed{}, errGone("refresh")
	case equalHash(rot.presented[:], r.cur[:]):
		r.prev, r.hasPrev = r.cur, true
		r.cur, r.nonce, r.rotated, r.lastUsed = hashSecret(rot.next), rot.nonce, now, now
		return Refreshed{Session: m.view(r), RefreshToken: formatRefreshToken(r.id, rot.next)}, nil
	case r.hasPrev && equalHash(rot.presented[:], r.prev[:]):
		if now-r.rotated < m.opts.RefreshGrace.Milliseconds() {
			again, ok := rot.reissue(m.opts.DeriveKey, r.nonce, r.cur[:])
			if !ok {
				return Refreshed{}, errInvalidGrant("refresh") // unreachable: one process, one key
			}
			return Refreshed{Session: m.view(r), RefreshToken: formatRefreshToken(r.id, again), Grace: true}, nil
		}
		// The previous secret after the grace window: a copy is in the
		// wrong hands. End the session for everyone holding it.
		m.remove(r)
		return Refreshed{}, errReused("refresh")
	default:
		return Refreshed{}, errInvalidGrant("refresh") // no state change: guessing revokes nothing
	}
}

// RevokeByRefreshToken ends the session when the token carries its current
// or previous secret; any other token changes nothing (ErrInvalidGrant).
func (m *MemoryStore) RevokeByRefreshToken(ctx context.Context, refreshToken string) (Session, error) {
	if err := checkCtx(ctx, "revoke"); err != nil {
		return Session{}, err
	}
	id, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return Session{}, errInvalidGrant("revoke")
	}
	presented := hashSecret(secret)
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id, m.opts.nowMS())
	if r == nil {
		return Session{}, errGone("revoke")
	}
	if !equalHash(presented[:], r.cur[:]) && !(r.hasPrev && equalHash(presented[:], r.prev[:])) {
		return Session{}, errInvalidGrant("revoke")
	}
	m.remove(r)
	return m.view(r), nil
}

// Revoke ends session id of user; ErrNotFound if absent or not that user's.
func (m *MemoryStore) Revoke(ctx context.Context, user, id string) error {
	if err := checkCtx(ctx, "revoke"); err != nil {
		return err
	}
	if !ownedBy(id, user) {
		return errNotFound("revoke")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id, m.opts.nowMS())
	if r == nil || r.user != user {
		return errNotFound("revoke")
	}
	m.remove(r)
	return nil
}

// RevokeUser ends every session of user and returns the ids it ended.
func (m *MemoryStore) RevokeUser(ctx context.Context, user string) ([]string, error) {
	if err := checkCtx(ctx, "revoke user"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	var ids []string
	for id := range m.users[user] {
		if r := m.lookup(id, now); r != nil {
			m.remove(r)
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// List returns user's live sessions, most recently used first.
func (m *MemoryStore) List(ctx context.Context, user string) ([]Session, error) {
	if err := checkCtx(ctx, "list"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	var out []Session
	for id := range m.users[user] {
		if r := m.lookup(id, now); r != nil {
			out = append(out, m.view(r))
		}
	}
	sortSessions(out)
	return out, nil
}

// Ping always succeeds: the memory store is the process itself.
func (m *MemoryStore) Ping(ctx context.Context) error { return checkCtx(ctx, "ping") }

// Close releases nothing; it exists so both stores have the same methods.
func (m *MemoryStore) Close() error { return nil }

func sortSessions(s []Session) {
	slices.SortFunc(s, func(a, b Session) int {
		return cmp.Or(b.LastUsedAt.Compare(a.LastUsedAt), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
