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
	//go:embed lua/ua.lua
	uaSrc string
	//go:embed lua/announce.lua
	announceSrc string

	// The scripts that change what a client sees start with fence.lua; those
	// that read or write the user agent with ua.lua (stored in 64-byte pieces);
	// those that publish invalidations with announce.lua.
	createScript      = redis.NewScript(fenceSrc + announceSrc + uaSrc + createSrc)
	validateScript    = redis.NewScript(uaSrc + validateSrc)
	refreshScript     = redis.NewScript(fenceSrc + announceSrc + uaSrc + refreshSrc)
	revokeScript      = redis.NewScript(fenceSrc + announceSrc + revokeSrc)
	revokeTokenScript = redis.NewScript(fenceSrc + announceSrc + uaSrc + revokeTokenSrc)
	revokeUserScript  = redis.NewScript(fenceSrc + announceSrc + revokeUserSrc)
	listScript        = redis.NewScript(uaSrc + listSrc)
)

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
	// validateFixed are validate.lua's arguments that never change (idle
	// timeout, absolute lifetime, touch interval in ms), boxed once rather
	// than on every request.
	validateFixed [3]any
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
	idle, abs := s.lifetimes()
	s.validateFixed = [3]any{idle, abs, s.opts.TouchInterval.Milliseconds()}
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

func (s *RedisStore) lifetimes() (idle, abs int64) {
	return s.opts.IdleTimeout.Milliseconds(), s.opts.AbsoluteLifetime.Milliseconds()
}

// Create starts a session for n.User in one script call that also prunes the
// user's dead sessions and evicts the least recently used ones beyond
// MaxPerUser; never more than MaxPerUser exist, however many logins race.
func (s *RedisStore) Create(ctx context.Context, n NewSession) (Created, error) {
	n = n.clipped()
	id, secret := newSessionID(n.User), newSecret()
	h := hashSecret(secret)
	now := s.opts.nowMS()
	idle, abs := s.lifetimes()
	tag := id[:tagLen]
	res, err := createScript.Run(ctx, s.client,
		[]string{s.keys.session(id), s.keys.index(tag, n.User)},
		now, id, n.User, n.IP, n.UserAgent, n.PasswordFingerprint, h[:],
		s.opts.MaxPerUser, idle, abs, s.keys.sessionPrefix(tag), s.channel, s.deadline(ctx),
		n.Provider.encode(), n.ProviderTokens,
	).StringSlice()
	if err != nil {
		return Created{}, redisError("create", err)
	}
	return Created{
		Session:      s.opts.session(id, n.User, now, now, n.IP, n.UserAgent, n.PasswordFingerprint, n.Provider.clone()),
		RefreshToken: formatRefreshToken(id, secret),
		Evicted:      res,
	}, nil
}

// Validate is the per-request check, one round trip: it returns the live
// session id of user and touches it when its last use is at least
// TouchInterval old. ErrNotFound when missing, expired or another user's.
func (s *RedisStore) Validate(ctx context.Context, user, id string) (Session, error) {
	if !ownedBy(id, user) {
		return Session{}, errNotFound("validate")
	}
	keys := []string{s.keys.session(id), s.keys.index(id[:tagLen], user)}
	fixed := &s.validateFixed
	args := []any{user, s.opts.nowMS(), fixed[0], fixed[1], fixed[2], id}
	var res []any
	var err error
	if s.validates != nil {
		res, err = s.validates.do(ctx, keys, args)
	} else {
		res, err = validateScript.Run(ctx, s.client, keys, args...).Slice()
	}
	if err != nil {
		return Session{}, redisError("validate", err)
	}
	f, err := strs(res, 6)
	if err != nil {
		return Session{}, fmt.Errorf("sessions: validate: %w", err)
	}
	return s.record(id, user, f[0], f[1], f[2], f[3], f[4], f[5])
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
	idle, abs := s.lifetimes()
	tag := id[:tagLen]
	res, err := refreshScript.Run(ctx, s.client, []string{s.keys.session(id)},
		s.opts.nowMS(), rot.presented[:], nextHash[:], rot.nonce, s.opts.RefreshGrace.Milliseconds(),
		idle, abs, s.keys.indexPrefix(tag), id, s.channel, s.keys.sessionPrefix(tag), s.deadline(ctx),
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
	idle, abs := s.lifetimes()
	res, err := revokeTokenScript.Run(ctx, s.client, []string{s.keys.session(id)},
		presented[:], s.opts.nowMS(), idle, abs, s.keys.indexPrefix(id[:tagLen]), id, s.channel,
		s.keys.sessionPrefix(id[:tagLen]), s.deadline(ctx),
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
	idle, abs := s.lifetimes()
	n, err := revokeScript.Run(ctx, s.client,
		[]string{s.keys.session(id), s.keys.index(id[:tagLen], user)},
		user, id, s.opts.nowMS(), idle, abs, s.channel, s.keys.sessionPrefix(id[:tagLen]), s.deadline(ctx),
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
	idle, abs := s.lifetimes()
	tag := UserTag(user)
	ids, err := revokeUserScript.Run(ctx, s.client, []string{s.keys.index(tag, user)},
		s.keys.sessionPrefix(tag), user, s.opts.nowMS(), idle, abs, s.channel, s.deadline(ctx),
	).StringSlice()
	if err != nil {
		return nil, redisError("revoke user", err)
	}
	return ids, nil
}

// List returns user's live sessions, most recently used first.
func (s *RedisStore) List(ctx context.Context, user string) ([]Session, error) {
	idle, abs := s.lifetimes()
	tag := UserTag(user)
	res, err := listScript.Run(ctx, s.client, []string{s.keys.index(tag, user)},
		s.keys.sessionPrefix(tag), user, s.opts.nowMS(), idle, abs,
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
