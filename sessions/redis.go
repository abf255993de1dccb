package sessions

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts, one per multi-key change. Each file starts with its contract;
// the wrapper methods below are their only callers.
var (
	//go:embed lua/layout.lua
	layoutSrc string
	//go:embed lua/upgrade.lua
	upgradeSrc string
	//go:embed lua/create.lua
	createSrc string
	//go:embed lua/validate.lua
	validateSrc string
	//go:embed lua/refresh.lua
	refreshSrc string
	//go:embed lua/revoke.lua
	revokeSrc string
	//go:embed lua/revoke_token.lua
	revokeTokenSrc string
	//go:embed lua/revoke_user.lua
	revokeUserSrc string
	//go:embed lua/list.lua
	listSrc string

	// Every session script starts with fence.lua (only those that change
	// what a client sees call it), layout.lua (the tag hash's format) and
	// upgrade.lua (records of the previous layout move on first use).
	createScript      = sessionScript(createSrc)
	validateScript    = sessionScript(validateSrc)
	refreshScript     = sessionScript(refreshSrc)
	revokeScript      = sessionScript(revokeSrc)
	revokeTokenScript = sessionScript(revokeTokenSrc)
	revokeUserScript  = sessionScript(revokeUserSrc)
	listScript        = sessionScript(listSrc)
)

func sessionScript(src string) *redis.Script {
	return redis.NewScript(fenceSrc + layoutSrc + upgradeSrc + src)
}

// Status codes returned by refresh.lua and revoke_token.lua.
const (
	statusGone    = 0
	statusOK      = 1
	statusGrace   = 2
	statusReused  = 3
	statusUnknown = 4
)

// RedisStore keeps sessions in Redis (standalone, Sentinel or Cluster) so
// that every replica sees every login, rotation and revocation at once. Each
// operation is one script call: one round trip (two when Redis lost the
// script cache, see Script.Run).
type RedisStore struct {
	client redis.UniversalClient
	keys   keyspace
	opts   Options
	// channel is where scripts publish the ids of sessions they revoke,
	// evict or rotate; "" = they publish nothing (see WithInvalidations).
	channel string
	// attempt is client's read timeout, which bounds every script deadline
	// (see deadline); 0 = unbounded or unknown.
	attempt time.Duration
	// validates sends concurrent Validate calls in shared pipelines
	// (batch.go); nil sends each call on its own.
	validates *validateBatcher
	// idle, abs, touch: the lifetimes and TouchInterval in ms, boxed once
	// rather than on every request.
	idle, abs, touch any
}

// NewRedisStore wraps client; keys start with keyPrefix (config default
// "portcullis:"). The store owns client: Close closes it. It panics when
// keyPrefix holds '{' or '}' (it would break the hash tags) or when
// opts.DeriveKey is shorter than 32 bytes (replicas must share the key); both
// are wiring mistakes that config validation rules out.
func NewRedisStore(client redis.UniversalClient, keyPrefix string, opts Options) *RedisStore {
	if strings.ContainsAny(keyPrefix, "{}") {
		panic("sessions: key prefix must not contain '{' or '}'")
	}
	if len(opts.DeriveKey) < minDeriveKeyLen {
		panic("sessions: Options.DeriveKey must be at least 32 bytes for the Redis store")
	}
	s := &RedisStore{client: client, keys: keyspace{prefix: keyPrefix}, opts: opts.withDefaults(),
		attempt: attemptTimeout(client), validates: &validateBatcher{client: client}}
	s.idle, s.abs = s.opts.IdleTimeout.Milliseconds(), s.opts.AbsoluteLifetime.Milliseconds()
	s.touch = s.opts.TouchInterval.Milliseconds()
	return s
}

// WithInvalidations returns a store on the same client whose scripts also
// publish the id of every session they revoke, evict or rotate (one PUBLISH
// inside the same script, on "<key_prefix>invalidate"), so replicas with a
// validation cache (NewCachedStore) drop it at once. Every replica and the
// CLI must use it when sessions.cache is enabled.
func (s *RedisStore) WithInvalidations() *RedisStore {
	c := *s
	c.channel = s.keys.invalidations()
	return &c
}

// args are a session script's arguments: the seven every script takes
// (lua/layout.lua: now, lifetimes, tag, old-layout base, channel, deadline;
// the deadline only when fenced), then extra.
func (s *RedisStore) args(ctx context.Context, tag string, fenced bool, extra ...any) []any {
	deadline := "0"
	if fenced {
		deadline = s.deadline(ctx)
	}
	return append([]any{s.opts.nowMS(), s.idle, s.abs, tag, s.keys.legacyBase(tag), s.channel, deadline},
		extra...)
}

// Create starts a session for n.User in one script call that also prunes the
// tag's dead sessions and evicts the user's least recently used ones beyond
// MaxPerUser; never more than MaxPerUser exist, however many logins race.
func (s *RedisStore) Create(ctx context.Context, n NewSession) (Created, error) {
	if err := n.check(); err != nil {
		return Created{}, err
	}
	n = n.clipped()
	id, secret := newSessionID(n.User), newSecret()
	h := hashSecret(secret)
	tag := id[:tagLen]
	args := s.args(ctx, tag, true, id, n.User, n.IP, n.UserAgent, n.PasswordFingerprint, h[:],
		s.opts.MaxPerUser, n.Provider.encode(), n.ProviderTokens)
	res, err := createScript.Run(ctx, s.client, []string{s.keys.sessions(tag)}, args...).StringSlice()
	if err != nil {
		return Created{}, redisError("create", err)
	}
	now := args[0].(int64)
	return Created{
		Session:      s.opts.session(id, n.User, now, now, n.IP, n.UserAgent, n.PasswordFingerprint, n.Provider.clone()),
		RefreshToken: formatRefreshToken(id, secret),
		Evicted:      res,
	}, nil
}

// Validate is the per-request check, one round trip: it returns the live
// session id of user and touches it when its last use is at least
// TouchInterval old. ErrNotFound when missing, expired or another user's.
//
// The round trip is an HMGET of the session's fields, decided here: a live
// session of user whose touch is not due is answered from it. Anything else
// (missing, another user's, expired, touch due, a record the HMGET cannot
// hold whole) runs validate.lua, which re-checks it all atomically, touches,
// deletes what expired and moves a record of the previous layout: a second
// round trip, for at most one request per session and TouchInterval. A
// revoked session has no fields left, so the next HMGET sees it gone.
func (s *RedisStore) Validate(ctx context.Context, user, id string) (Session, error) {
	if !ownedBy(id, user) {
		return Session{}, errNotFound("validate")
	}
	tag := id[:tagLen]
	keys := []string{s.keys.sessions(tag)}
	now := s.opts.nowMS()
	v, err := s.validateCall(ctx, keys, fieldNames(id, validateFields), nil)
	if err != nil {
		return Session{}, redisError("validate", err)
	}
	if sess, ok := s.fastValidate(id, user, now, v); ok {
		return sess, nil
	}
	res, err := s.validateCall(ctx, keys, nil, s.args(ctx, tag, false, user, id, s.touch))
	if err != nil {
		return Session{}, redisError("validate", err)
	}
	f, err := strs(res, 6)
	if err != nil {
		return Session{}, fmt.Errorf("sessions: validate: %w", err)
	}
	return s.record(id, user, f[0], f[1], f[2], f[3], f[4], f[5])
}

// validateCall sends an HMGET of fields (when set) or validate.lua, through
// the batcher when there is one.
func (s *RedisStore) validateCall(ctx context.Context, keys, fields []string, args []any) ([]any, error) {
	if s.validates != nil {
		return s.validates.do(ctx, keys, fields, args)
	}
	c := validateCall{ctx: ctx, keys: keys, fields: fields, args: args}
	c.run(s.client)
	return c.res, c.err
}

// fastValidate answers Validate from the HMGET of validateFields when it
// holds a live session of user whose touch is not due; false otherwise.
func (s *RedisStore) fastValidate(id, user string, now int64, v []any) (Session, bool) {
	if len(v) != len(validateFields) {
		return Session{}, false
	}
	st, ok := decodeStored(v[0], v[1:1+fastPieces])
	if !ok || st.user != user || now-st.lastUsed >= s.opts.TouchInterval.Milliseconds() ||
		now >= s.opts.endMS(st.created, st.lastUsed) {
		return Session{}, false
	}
	o, _ := v[len(v)-1].(string)
	prov, err := decodeProvider(o)
	if err != nil {
		return Session{}, false
	}
	return s.opts.session(id, user, st.created, st.lastUsed, st.ip, st.ua, st.fp, prov), true
}

// Refresh rotates the refresh token in one script call:
//   - the current secret: a new secret HMAC(DeriveKey, secret ‖ nonce) becomes
//     current, the presented one previous;
//   - the previous secret within RefreshGrace of its rotation: the token that
//     rotation issued, re-derived from the stored nonce (Grace = true);
//   - the previous secret later: the session is revoked, ErrReused;
//   - anything else: ErrInvalidGrant and no change; a missing or expired
//     session: ErrNotFound (which also matches ErrInvalidGrant).
func (s *RedisStore) Refresh(ctx context.Context, refreshToken string) (Refreshed, error) {
	rot, ok := newRotation(s.opts.DeriveKey, refreshToken)
	if !ok {
		return Refreshed{}, errInvalidGrant("refresh")
	}
	id, nextHash := rot.id, hashSecret(rot.next)
	tag := id[:tagLen]
	res, err := refreshScript.Run(ctx, s.client, []string{s.keys.sessions(tag)}, s.args(ctx, tag, true,
		id, rot.presented[:], nextHash[:], rot.nonce, s.opts.RefreshGrace.Milliseconds())...,
	).Slice()
	if err != nil {
		return Refreshed{}, redisError("refresh", err)
	}
	status, f, err := statusReply(res)
	if err != nil {
		return Refreshed{}, fmt.Errorf("sessions: refresh: %w", err)
	}
	switch {
	case status == statusOK && len(f) == 7:
		sess, err := s.record(id, f[0], f[1], f[2], f[3], f[4], f[5], f[6])
		return Refreshed{Session: sess, RefreshToken: formatRefreshToken(id, rot.next)}, err
	case status == statusGrace && len(f) == 9:
		again, ok := rot.reissue(s.opts.DeriveKey, []byte(f[6]), []byte(f[7]))
		if !ok {
			// Only when replicas disagree on DeriveKey: the re-derived
			// token would not be the current one, so do not hand it out.
			return Refreshed{}, errInvalidGrant("refresh")
		}
		sess, err := s.record(id, f[0], f[1], f[2], f[3], f[4], f[5], f[8])
		return Refreshed{Session: sess, RefreshToken: formatRefreshToken(id, again), Grace: true}, err
	case status == statusGone:
		return Refreshed{}, errGone("refresh")
	case status == statusReused:
		return Refreshed{}, errReused("refresh")
	case status == statusUnknown:
		return Refreshed{}, errInvalidGrant("refresh")
	}
	return Refreshed{}, fmt.Errorf("sessions: refresh: unexpected reply %d/%d", status, len(f))
}

// RevokeByRefreshToken ends the session the token names when it carries the
// current or the previous secret; any other token changes nothing
// (ErrInvalidGrant), so nobody can end a session by guessing.
func (s *RedisStore) RevokeByRefreshToken(ctx context.Context, refreshToken string) (Session, error) {
	id, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return Session{}, errInvalidGrant("revoke")
	}
	presented := hashSecret(secret)
	tag := id[:tagLen]
	res, err := revokeTokenScript.Run(ctx, s.client, []string{s.keys.sessions(tag)},
		s.args(ctx, tag, true, id, presented[:])...,
	).Slice()
	if err != nil {
		return Session{}, redisError("revoke", err)
	}
	status, f, err := statusReply(res)
	if err != nil {
		return Session{}, fmt.Errorf("sessions: revoke: %w", err)
	}
	switch {
	case status == statusOK && len(f) == 7:
		return s.record(id, f[0], f[1], f[2], f[3], f[4], f[5], f[6])
	case status == statusGone:
		return Session{}, errGone("revoke")
	case status == statusUnknown:
		return Session{}, errInvalidGrant("revoke")
	}
	return Session{}, fmt.Errorf("sessions: revoke: unexpected reply %d/%d", status, len(f))
}

// Revoke ends session id of user; ErrNotFound if absent or not that user's.
func (s *RedisStore) Revoke(ctx context.Context, user, id string) error {
	if !ownedBy(id, user) {
		return errNotFound("revoke")
	}
	tag := id[:tagLen]
	n, err := revokeScript.Run(ctx, s.client, []string{s.keys.sessions(tag)},
		s.args(ctx, tag, true, user, id)...,
	).Int()
	if err != nil {
		return redisError("revoke", err)
	}
	if n != 1 {
		return errNotFound("revoke")
	}
	return nil
}

// RevokeUser ends every session of user and returns the ids it ended.
func (s *RedisStore) RevokeUser(ctx context.Context, user string) ([]string, error) {
	tag := UserTag(user)
	ids, err := revokeUserScript.Run(ctx, s.client, []string{s.keys.sessions(tag)},
		s.args(ctx, tag, true, user)...,
	).StringSlice()
	if err != nil {
		return nil, redisError("revoke user", err)
	}
	return ids, nil
}

// List returns user's live sessions, most recently used first.
func (s *RedisStore) List(ctx context.Context, user string) ([]Session, error) {
	tag := UserTag(user)
	res, err := listScript.Run(ctx, s.client, []string{s.keys.sessions(tag)},
		s.args(ctx, tag, false, user)...,
	).Slice()
	if err != nil {
		return nil, redisError("list", err)
	}
	f, err := strs(res, len(res)-len(res)%7)
	if err != nil || len(res)%7 != 0 {
		return nil, fmt.Errorf("sessions: list: malformed reply (%d entries)", len(res))
	}
	out := make([]Session, 0, len(f)/7)
	for i := 0; i+7 <= len(f); i += 7 {
		sess, err := s.record(f[i], user, f[i+1], f[i+2], f[i+3], f[i+4], f[i+5], f[i+6])
		if err != nil {
			return nil, fmt.Errorf("sessions: list: %w", err)
		}
		out = append(out, sess)
	}
	sortSessions(out)
	return out, nil
}

// Ping checks that the store answers (readiness).
func (s *RedisStore) Ping(ctx context.Context) error {
	return redisError("ping", s.client.Ping(ctx).Err())
}

// Close closes the client.
func (s *RedisStore) Close() error { return s.client.Close() }

// record builds a Session from the string fields a script returned.
func (s *RedisStore) record(id, user, created, lastUsed, ip, ua, fp, o string) (Session, error) {
	c, err1 := strconv.ParseInt(created, 10, 64)
	l, err2 := strconv.ParseInt(lastUsed, 10, 64)
	prov, err3 := decodeProvider(o)
	if err1 != nil || err2 != nil || err3 != nil {
		return Session{}, fmt.Errorf("sessions: malformed session record %s", id)
	}
	return s.opts.session(id, user, c, l, ip, ua, fp, prov), nil
}

// statusReply splits {status, fields...}.
func statusReply(res []any) (int64, []string, error) {
	if len(res) == 0 {
		return 0, nil, fmt.Errorf("empty reply")
	}
	status, ok := res[0].(int64)
	if !ok {
		return 0, nil, fmt.Errorf("malformed status")
	}
	f, err := strs(res[1:], len(res)-1)
	return status, f, err
}

// strs converts the first n entries of a script reply to strings; a nil
// entry (a field the record lacks) becomes "".
func strs(res []any, n int) ([]string, error) {
	if len(res) < n {
		return nil, fmt.Errorf("short reply: %d < %d", len(res), n)
	}
	out := make([]string, n)
	for i := range n {
		switch v := res[i].(type) {
		case string:
			out[i] = v
		case nil:
		default:
			return nil, fmt.Errorf("unexpected %T in reply", v)
		}
	}
	return out, nil
}
