package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// loginCounter is what the login throttle needs from the session store:
// the shared attempt counters.
type loginCounter interface {
	ReserveLogin(ctx context.Context, a sessions.LoginAttempt) (sessions.Reservation, error)
	ReleaseLogin(ctx context.Context, r sessions.Reservation) error
}

// loginThrottle limits failed logins per username and per client IP in a
// sliding window kept in the session store, so every replica sees the same
// counts (SPEC §8). An attempt takes its place in both counters before its
// password is checked (sessions.ReserveLogin: atomic, so concurrent attempts
// cannot all see room); a failure keeps it, a success or an attempt shed
// before the check gives it back. So only failures count, and a success
// neither counts nor resets: an attacker cannot clear the counter by logging
// into their own account from the same IP.
type loginThrottle struct {
	store          loginCounter
	perUser, perIP int
	window         time.Duration
}

func newLoginThrottle(store loginCounter, rl config.RateLimit) loginThrottle {
	return loginThrottle{store: store, perUser: rl.PerUser, perIP: rl.PerIP, window: rl.Window}
}

// reserve takes the attempt's place; it returns errTooManyAttempts (with
// Retry-After) when a counter is full, or the store's error: the caller
// answers 503 then, never skips the throttle.
func (t loginThrottle) reserve(ctx context.Context, user, ip string) (sessions.Reservation, error) {
	if t.window <= 0 || t.perUser <= 0 && t.perIP <= 0 {
		return sessions.Reservation{}, nil // throttling off: nothing to ask the store
	}
	r, err := t.store.ReserveLogin(ctx, sessions.LoginAttempt{
		User: user, IP: ip, PerUser: t.perUser, PerIP: t.perIP, Window: t.window,
	})
	if err != nil {
		return sessions.Reservation{}, fmt.Errorf("login throttle: %w", err)
	}
	if r.Refused {
		secs := int((r.RetryAfter + time.Second - 1) / time.Second)
		return r, errTooManyAttempts.withRetryAfter(max(secs, 1))
	}
	return r, nil
}

// release gives a place back (a success, or an attempt shed by admission).
// It runs even when the client has gone: the place must not stay counted.
func (t loginThrottle) release(ctx context.Context, r sessions.Reservation) error {
	if !r.Held() {
		return nil
	}
	if err := t.store.ReleaseLogin(context.WithoutCancel(ctx), r); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}
