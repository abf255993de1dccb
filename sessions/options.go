package sessions

import (
	"context"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// Options are the session rules shared by every store (SPEC §3 `sessions`).
type Options struct {
	// MaxPerUser caps a user's live sessions; a login beyond it evicts the
	// least recently used. 0 = unlimited.
	MaxPerUser int
	// IdleTimeout ends a session not used for this long; AbsoluteLifetime ends
	// it this long after login whatever its use. Zero means the SPEC default
	// (24h, 720h).
	IdleTimeout, AbsoluteLifetime time.Duration
	// TouchInterval: last_used_at is written at most once per interval
	// (0 = on every validation). RefreshGrace: how long the previous refresh
	// secret still returns the token its rotation issued (0 = never).
	TouchInterval, RefreshGrace time.Duration
	// DeriveKey is the secret under which a grace-window refresh token is
	// re-derived (≥ 32 bytes). Every replica sharing a store must use the same
	// key. The Redis store requires it; the memory store picks a random one
	// when it is empty.
	DeriveKey []byte
	// Now is the clock; nil means time.Now. The Redis store passes it to its
	// scripts, so expiry follows this clock too (real TTLs remain a backstop).
	Now func() time.Time
}

// OptionsFor maps the config's sessions section to Options (the clock is
// time.Now); deriveKey is Options.DeriveKey.
func OptionsFor(c config.Sessions, deriveKey []byte) Options {
	return Options{
		MaxPerUser:       c.MaxPerUser,
		IdleTimeout:      c.IdleTimeout,
		AbsoluteLifetime: c.AbsoluteLifetime,
		TouchInterval:    c.TouchInterval,
		RefreshGrace:     c.RefreshGrace,
		DeriveKey:        deriveKey,
	}
}

// Default lifetimes (SPEC §3) used when Options leaves them zero.
const (
	DefaultIdleTimeout      = 24 * time.Hour
	DefaultAbsoluteLifetime = 720 * time.Hour
)

// minDeriveKeyLen is the shortest accepted Options.DeriveKey.
const minDeriveKeyLen = 32

func (o Options) withDefaults() Options {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteLifetime <= 0 {
		o.AbsoluteLifetime = DefaultAbsoluteLifetime
	}
	if o.TouchInterval < 0 {
		o.TouchInterval = 0
	}
	if o.RefreshGrace < 0 {
		o.RefreshGrace = 0
	}
	if o.MaxPerUser < 0 {
		o.MaxPerUser = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.DeriveKey = append([]byte(nil), o.DeriveKey...)
	return o
}

// nowMS is the clock in Unix milliseconds, the resolution both stores keep.
func (o Options) nowMS() int64 { return ms(o.Now()) }

// endMS is when a session created at c and last used at l ends:
// min(l + idle_timeout, c + absolute_lifetime). A session is live while now < end.
func (o Options) endMS(c, l int64) int64 {
	return min(l+o.IdleTimeout.Milliseconds(), c+o.AbsoluteLifetime.Milliseconds())
}

// session builds the public value from stored fields.
func (o Options) session(id, user string, c, l int64, ip, ua, fp string, prov Provider) Session {
	return Session{
		Provider:            prov,
		ID:                  id,
		User:                user,
		CreatedAt:           fromMS(c),
		LastUsedAt:          fromMS(l),
		IP:                  ip,
		UserAgent:           ua,
		PasswordFingerprint: fp,
		ExpiresAt:           fromMS(o.endMS(c, l)),
	}
}

// checkCtx returns ErrUnavailable when the caller's context is already done,
// so both stores treat an expired deadline alike.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return wrapUnavailable(op, err)
	}
	return nil
}
