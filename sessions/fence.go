package sessions

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// fenceSrc is prepended to every script that changes what a client sees
// (create, refresh, revoke, revoke_token, revoke_user): it makes the script
// change nothing once the gateway has given up on the call. Design and
// proof: docs/sessions-faults.md.
//
//go:embed lua/fence.lua
var fenceSrc string

// lateMargin is how long before the gateway's give-up instant a mutating
// script must start: it covers the clock skew between a gateway host and the
// Redis host (NTP keeps it to a few ms) and the reply's way back. A Redis
// clock behind the gateway's by more than this could let a copy run up to
// the difference after the gateway gave up; one ahead by more than the read
// timeout minus this refuses every mutation (503, fail-safe).
const lateMargin = 100 * time.Millisecond

// lateReply starts the error reply of a script that ran past its deadline;
// redisError maps it to ErrUnavailable (the gateway has answered 503).
const lateReply = "LATE"

// deadline is the fence of one mutating call, in Unix ms ("0" = none): the
// earliest instant the gateway can stop waiting for the call's first attempt
// — the context deadline or one read timeout from now, whichever comes
// first (go-redis arms the read deadline after this point, so it is never
// earlier) — minus lateMargin. Every attempt of the call (go-redis retries,
// Cluster redirects, the EVAL after NOSCRIPT) carries the same value, so
// none of them can take effect once the first one may have been given up
// on. It is wall-clock time, not Options.Now: scripts compare it with Redis'
// own clock, while Options.Now stays the clock of session semantics (expiry,
// grace), which the conformance tests drive by hand.
func (s *RedisStore) deadline(ctx context.Context) string {
	var giveUp time.Time
	if s.attempt > 0 {
		giveUp = time.Now().Add(s.attempt)
	}
	if d, ok := ctx.Deadline(); ok && (giveUp.IsZero() || d.Before(giveUp)) {
		giveUp = d
	}
	if giveUp.IsZero() {
		return "0"
	}
	// Never 0 (which means "none"): a deadline already past must refuse.
	return strconv.FormatInt(max(giveUp.Add(-lateMargin).UnixMilli(), 1), 10)
}

// attemptTimeout is how long go-redis waits for the reply of one attempt
// of a command on c (its read timeout), or 0 when that is unbounded or
// unknown; then only the context deadline bounds the call.
func attemptTimeout(c redis.UniversalClient) time.Duration {
	var d time.Duration
	switch c := c.(type) {
	case *redis.Client: // standalone and Sentinel (failover) clients
		d = c.Options().ReadTimeout
	case *redis.ClusterClient:
		d = c.Options().ReadTimeout
	}
	return max(d, 0)
}
