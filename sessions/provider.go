package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"slices"
	"strings"
	"time"

	_ "embed"

	"github.com/redis/go-redis/v9"
)

// Provider is what a session created through an OpenID Connect provider
// records (SPEC §9): the provider, the provider's subject and session id,
// the username it signs in as (X-Auth-User) and the roles it holds, as
// stored at login and at each provider refresh.
type Provider struct {
	Name     string   `json:"p"`
	Subject  string   `json:"s"`
	SID      string   `json:"i,omitempty"`
	Username string   `json:"u"`
	Roles    []string `json:"r,omitempty"`
	// RefreshedAt is when the provider last confirmed the account (login or
	// provider refresh).
	RefreshedAt time.Time `json:"-"`
	// Unchecked: the provider cannot be asked about this session any more
	// (no refresh token, access token expired); its roles stay as they are.
	Unchecked bool `json:"x,omitempty"`
}

// providerRecord is Provider as stored (field o of the session hash).
type providerRecord struct {
	Provider
	T int64 `json:"t"` // RefreshedAt, Unix ms
}

// IsZero reports whether p is empty: a local session.
func (p Provider) IsZero() bool { return p.Name == "" }

func (p Provider) clone() Provider {
	p.Roles = slices.Clone(p.Roles)
	return p
}

// encode is the stored form ("" for a local session).
func (p Provider) encode() string {
	if p.IsZero() {
		return ""
	}
	b, _ := json.Marshal(providerRecord{Provider: p, T: ms(p.RefreshedAt)})
	return string(b)
}

func decodeProvider(s string) (Provider, error) {
	if s == "" {
		return Provider{}, nil
	}
	var r providerRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.Name == "" {
		return Provider{}, errors.New("malformed provider record")
	}
	r.Provider.RefreshedAt = fromMS(r.T)
	return r.Provider, nil
}

// ProviderUser is the store user of the sessions of one provider account:
// "oidc:<provider>:<hash of sub>". Provider users are keyed by (provider,
// sub) (OIDC Core: a preferred_username is neither unique nor stable), and
// the ':' keeps the key outside the users-file name grammar
// ([A-Za-z0-9._@+-]), so it can never name a local user's sessions.
func ProviderUser(provider, subject string) string {
	return "oidc:" + provider + ":" + shortHash(subject)
}

// IsProviderUser reports whether user is a ProviderUser key.
func IsProviderUser(user string) bool { return strings.HasPrefix(user, "oidc:") }

// SessionRef names one session: its store user and id.
type SessionRef struct{ User, ID string }

var (
	//go:embed lua/provider_update.lua
	providerUpdateSrc    string
	providerUpdateScript = sessionScript(providerUpdateSrc)
)

// ---- Redis ----

// ProviderTokens returns the sealed provider tokens of session id of user;
// ErrNotFound when the session is gone or another user's.
func (s *RedisStore) ProviderTokens(ctx context.Context, user, id string) ([]byte, error) {
	if !ownedBy(id, user) {
		return nil, errNotFound("provider tokens")
	}
	// The record, every info piece there can be, the tokens: not the hot
	// path, so one HMGET that always suffices.
	v, err := s.client.HMGet(ctx, s.keys.sessions(id[:tagLen]), fieldNames(id, "M"+pieceSuffixes+"T")...).Result()
	if err != nil {
		return nil, redisError("provider tokens", err)
	}
	if v[0] == nil {
		return s.legacyProviderTokens(ctx, user, id)
	}
	if st, ok := decodeStored(v[0], v[1:1+maxInfoPieces]); !ok || st.user != user {
		return nil, errNotFound("provider tokens")
	}
	t, _ := v[len(v)-1].(string)
	return []byte(t), nil
}

// legacyProviderTokens reads the tokens of a session still in the previous
// layout (lua/upgrade.lua moves it on its next validate, refresh or
// revoke; a sign-out may ask for the tokens first). Read only: the same
// checks as the scripts, user and expiry.
func (s *RedisStore) legacyProviderTokens(ctx context.Context, user, id string) ([]byte, error) {
	v, err := s.client.HMGet(ctx, s.keys.legacySession(id), "u", "c", "l", "ot").Result()
	if err != nil {
		return nil, redisError("provider tokens", err)
	}
	u, _ := v[0].(string)
	c, _ := v[1].(string)
	l, _ := v[2].(string)
	created, err1 := strconv.ParseInt(c, 10, 64)
	lastUsed, err2 := strconv.ParseInt(l, 10, 64)
	if u != user || err1 != nil || err2 != nil || s.opts.nowMS() >= s.opts.endMS(created, lastUsed) {
		return nil, errNotFound("provider tokens")
	}
	t, _ := v[3].(string)
	return []byte(t), nil
}

// UpdateProvider stores the provider record and (unless tokens is nil) the
// sealed tokens of a provider session in one step; ErrNotFound when the
// session is gone, expired, another user's or a local one.
func (s *RedisStore) UpdateProvider(ctx context.Context, user, id string, p Provider, tokens []byte) error {
	if !ownedBy(id, user) || p.IsZero() {
		return errNotFound("update provider")
	}
	tag := id[:tagLen]
	n, err := providerUpdateScript.Run(ctx, s.client, []string{s.keys.sessions(tag)},
		s.args(ctx, tag, true, user, id, p.encode(), tokens)...,
	).Int()
	if err != nil {
		return redisError("update provider", err)
	}
	if n != 1 {
		return errNotFound("update provider")
	}
	return nil
}

// LockProviderRefresh takes session id's provider-refresh lock for ttl;
// false when another caller (on any replica) holds it. The lock is never
// released early: it also spaces out retries against an unreachable provider.
func (s *RedisStore) LockProviderRefresh(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if !validSessionID(id) {
		return false, errNotFound("lock provider refresh")
	}
	return s.setNX(ctx, s.keys.refreshLock(id), ttl, "lock provider refresh")
}

// RememberLogoutToken records a back-channel logout token's jti until its
// expiry; false when it was already recorded (a replay, on any replica).
func (s *RedisStore) RememberLogoutToken(ctx context.Context, provider, jti string, until time.Time) (bool, error) {
	ttl := until.Sub(s.opts.Now())
	if ttl < time.Second {
		ttl = time.Second // an expired token is refused before this; keep a floor anyway
	}
	return s.setNX(ctx, s.keys.logoutJTI(provider, jti), ttl, "remember logout token")
}

// setNX sets key for ttl unless it exists: true when this call set it.
func (s *RedisStore) setNX(ctx context.Context, key string, ttl time.Duration, op string) (bool, error) {
	res, err := s.client.SetArgs(ctx, key, "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, redisError(op, err)
	}
	return res == "OK", nil
}

// ClaimUsername records that owner (a ProviderUser) signs in as username
// for ttl, or extends owner's claim; false when another owner holds it.
// Every replica sees the same claim, so two provider accounts can never be
// signed in under one name at once.
func (s *RedisStore) ClaimUsername(ctx context.Context, username, owner string, ttl time.Duration) (bool, error) {
	key := s.keys.usernameClaim(username)
	prev, err := s.client.SetArgs(ctx, key, owner, redis.SetArgs{Mode: "NX", TTL: ttl, Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return true, nil // set: nobody held it
	case err != nil:
		return false, redisError("claim username", err)
	case prev != owner:
		return false, nil
	}
	// Ours already: extend it. Repeating this is harmless.
	if err := s.client.PExpire(ctx, key, ttl).Err(); err != nil {
		return false, redisError("claim username", err)
	}
	return true, nil
}

// UsernameOwner returns the provider user holding username's claim, or ""
// (for the admin API, which names users by what upstreams see).
func (s *RedisStore) UsernameOwner(ctx context.Context, username string) (string, error) {
	v, err := s.client.Get(ctx, s.keys.usernameClaim(username)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", redisError("username owner", err)
	}
	return v, nil
}

// IndexProviderSID adds session (user, id) to the sessions of a provider
// session id for ttl (extending the set's life), for back-channel logout.
func (s *RedisStore) IndexProviderSID(ctx context.Context, provider, sid, user, id string, ttl time.Duration) error {
	key := s.keys.providerSID(provider, sid)
	pipe := s.client.TxPipeline()
	pipe.SAdd(ctx, key, user+" "+id)
	pipe.PExpire(ctx, key, ttl)
	_, err := pipe.Exec(ctx)
	return redisError("index provider sid", err)
}

// ProviderSIDSessions returns the sessions created under a provider session
// id (some may have ended since).
func (s *RedisStore) ProviderSIDSessions(ctx context.Context, provider, sid string) ([]SessionRef, error) {
	members, err := s.client.SMembers(ctx, s.keys.providerSID(provider, sid)).Result()
	if err != nil {
		return nil, redisError("provider sid sessions", err)
	}
	return parseRefs(members), nil
}

func parseRefs(members []string) []SessionRef {
	var out []SessionRef
	for _, m := range members {
		if u, id, ok := strings.Cut(m, " "); ok && validSessionID(id) {
			out = append(out, SessionRef{User: u, ID: id})
		}
	}
	slices.SortFunc(out, func(a, b SessionRef) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ---- memory ----

// memMark is one provider key of the memory store: a value and its expiry (ms).
type memMark struct {
	value string
	set   map[string]bool
	until int64
}

func (m *MemoryStore) mark(key string, now int64) (memMark, bool) {
	mk, ok := m.marks[key]
	if !ok || now >= mk.until {
		delete(m.marks, key)
		return memMark{}, false
	}
	return mk, true
}

// ProviderTokens: see RedisStore.ProviderTokens.
func (m *MemoryStore) ProviderTokens(ctx context.Context, user, id string) ([]byte, error) {
	if err := checkCtx(ctx, "provider tokens"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id, m.opts.nowMS())
	if r == nil || r.user != user {
		return nil, errNotFound("provider tokens")
	}
	return append([]byte(nil), r.provTokens...), nil
}

// UpdateProvider: see RedisStore.UpdateProvider.
func (m *MemoryStore) UpdateProvider(ctx context.Context, user, id string, p Provider, tokens []byte) error {
	if err := checkCtx(ctx, "update provider"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.lookup(id, m.opts.nowMS())
	if r == nil || r.user != user || r.prov.IsZero() || p.IsZero() {
		return errNotFound("update provider")
	}
	r.prov = p.clone()
	if tokens != nil {
		r.provTokens = append([]byte(nil), tokens...)
	}
	return nil
}

// LockProviderRefresh: see RedisStore.LockProviderRefresh.
func (m *MemoryStore) LockProviderRefresh(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	return m.setNX(ctx, "lk:"+id, "1", ttl)
}

// RememberLogoutToken: see RedisStore.RememberLogoutToken.
func (m *MemoryStore) RememberLogoutToken(ctx context.Context, provider, jti string, until time.Time) (bool, error) {
	return m.setNX(ctx, "jti:"+provider+":"+shortHash(jti), "1", max(until.Sub(m.opts.Now()), time.Second))
}

func (m *MemoryStore) setNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := checkCtx(ctx, "set"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.nowMS()
	if _, ok := m.mark(key, now); ok {
		return false, nil
	}
	m.marks[key] = memMark{value: value, until: now + ttl.Milliseconds()}
	return true, nil
}

// ClaimUsername: see RedisStore.ClaimUsername.
func (m *MemoryStore) ClaimUsername(ctx context.Context, username, owner string, ttl time.Duration) (bool, error) {
	if err := checkCtx(ctx, "claim username"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, key := m.opts.nowMS(), "name:"+username
	if mk, ok := m.mark(key, now); ok && mk.value != owner {
		return false, nil
	}
	m.marks[key] = memMark{value: owner, until: now + ttl.Milliseconds()}
	return true, nil
}

// UsernameOwner: see RedisStore.UsernameOwner.
func (m *MemoryStore) UsernameOwner(ctx context.Context, username string) (string, error) {
	if err := checkCtx(ctx, "username owner"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mk, _ := m.mark("name:"+username, m.opts.nowMS())
	return mk.value, nil
}

// IndexProviderSID: see RedisStore.IndexProviderSID.
func (m *MemoryStore) IndexProviderSID(ctx context.Context, provider, sid, user, id string, ttl time.Duration) error {
	if err := checkCtx(ctx, "index provider sid"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now, key := m.opts.nowMS(), "sid:"+provider+":"+shortHash(sid)
	mk, ok := m.mark(key, now)
	if !ok {
		mk = memMark{set: map[string]bool{}}
	}
	mk.set[user+" "+id] = true
	mk.until = now + ttl.Milliseconds()
	m.marks[key] = mk
	return nil
}

// ProviderSIDSessions: see RedisStore.ProviderSIDSessions.
func (m *MemoryStore) ProviderSIDSessions(ctx context.Context, provider, sid string) ([]SessionRef, error) {
	if err := checkCtx(ctx, "provider sid sessions"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mk, _ := m.mark("sid:"+provider+":"+shortHash(sid), m.opts.nowMS())
	members := make([]string, 0, len(mk.set))
	for k := range mk.set {
		members = append(members, k)
	}
	return parseRefs(members), nil
}
