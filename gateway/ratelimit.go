package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	goruntime "runtime"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// errTooManyAttempts answers a throttled login (SPEC §8); Retry-After is added per request.
var errTooManyAttempts = newAPIError(http.StatusTooManyRequests, "too_many_requests", "too many failed login attempts, retry later")

// errPasswordBusy: every password-verification slot stayed busy for
// passwordWait. A 503 with Retry-After, so clients back off instead of piling on.
var errPasswordBusy = (&apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
	description: "the server is busy, retry later"}).withRetryAfter(1)

// passwordWait is how long a login waits for a password-verification slot.
const passwordWait = time.Second

// loginThrottle limits failed logins per username and per client IP in a
// sliding window kept in the session store, so every replica sees the same
// counts (SPEC §8). Only failures are recorded; a success neither counts nor
// resets, so an attacker cannot clear the counter by logging into their own
// account from the same IP.
type loginThrottle struct {
	store          SessionStore
	perUser, perIP int
	window         time.Duration
}

func newLoginThrottle(store SessionStore, rl config.RateLimit) loginThrottle {
	return loginThrottle{store: store, perUser: rl.PerUser, perIP: rl.PerIP, window: rl.Window}
}

// throttleUserKey hashes the username: any string may be tried, and the key
// must stay short and free of separators whatever was typed.
func throttleUserKey(user string) string {
	sum := sha256.Sum256([]byte(user))
	return "login:user:" + hex.EncodeToString(sum[:16])
}

func throttleIPKey(ip string) string { return "login:ip:" + ip }

// check returns errTooManyAttempts (with Retry-After) when either limit is
// reached, or the store's error.
func (t loginThrottle) check(ctx context.Context, user, ip string) error {
	if t.window <= 0 {
		return nil
	}
	var wait time.Duration
	limited := false
	for _, l := range t.limits(user, ip) {
		n, after, err := t.store.Failures(ctx, l.key, t.window)
		if err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
		if n >= l.max {
			limited = true
			wait = max(wait, after)
		}
	}
	if !limited {
		return nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return errTooManyAttempts.withRetryAfter(max(secs, 1))
}

// fail records one failed attempt under both keys.
func (t loginThrottle) fail(ctx context.Context, user, ip string) error {
	if t.window <= 0 {
		return nil
	}
	for _, l := range t.limits(user, ip) {
		if _, err := t.store.RecordFailure(ctx, l.key, t.window); err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
	}
	return nil
}

type throttleLimit struct {
	key string
	max int
}

func (t loginThrottle) limits(user, ip string) []throttleLimit {
	var ls []throttleLimit
	if t.perUser > 0 {
		ls = append(ls, throttleLimit{throttleUserKey(user), t.perUser})
	}
	if t.perIP > 0 && ip != "" {
		ls = append(ls, throttleLimit{throttleIPKey(ip), t.perIP})
	}
	return ls
}

// passwordSlots bounds concurrent password verifications to GOMAXPROCS
// (SPEC §8): argon2id is memory-hard, and unbounded logins would let anyone
// exhaust memory and starve the proxy.
type passwordSlots chan struct{}

func newPasswordSlots() passwordSlots { return make(passwordSlots, goruntime.GOMAXPROCS(0)) }

// acquire waits up to passwordWait for a slot; release must follow a nil return.
func (s passwordSlots) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(passwordWait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return nil
	case <-t.C:
		return errPasswordBusy
	case <-ctx.Done():
		return errPasswordBusy
	}
}

func (s passwordSlots) release() { <-s }
