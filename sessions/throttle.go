package sessions

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The login throttle (SPEC §8): a login attempt takes its place in the
// sliding-window counters of its user name and its client address BEFORE
// the password is checked, atomically per counter, so N simultaneous wrong
// passwords against a limit of 5 verify at most 5. A success, or an attempt
// the gateway sheds without checking the password, gives its place back
// (ReleaseLogin); a failure keeps it until it leaves the window.

//go:embed lua/throttle_reserve.lua
var throttleReserveSrc string

// A reservation that runs after the gateway answered 503 must not count
// against the client later: fenced like the session scripts.
var throttleReserveScript = redis.NewScript(fenceSrc + throttleReserveSrc)

// LoginAttempt is one login attempt to count: the user name as typed, the
// client address, and the limits of their counters.
type LoginAttempt struct {
	User string // any string; the counter's name holds only its hash
	IP   string // "" = no per-address counter
	// PerUser and PerIP are the attempts allowed per window; 0 turns that
	// counter off. Limits above 1000 count as 1000 (the most remembered).
	PerUser, PerIP int
	Window         time.Duration // <= 0 turns the throttle off
}

// Reservation is a login attempt's place in the throttle's counters.
type Reservation struct {
	// Refused: a counter already held its limit; the attempt holds nothing.
	Refused bool
	// RetryAfter (when Refused) is how long until the oldest attempt in the
	// refusing counter leaves the window.
	RetryAfter time.Duration

	counters []string // the counters this attempt holds a place in
	member   string   // its unique member in each of them (Redis)
	at       int64    // its time, ms (memory)
	released *bool    // set by the memory store's first release, under its lock
}

// Held reports whether the attempt holds a place that ReleaseLogin would give back.
func (r Reservation) Held() bool { return len(r.counters) > 0 }

type throttleCounter struct {
	name  string
	limit int64
}

// counters lists a's counters in the order they are reserved: the user's
// first, then the address's.
func (a LoginAttempt) counters() []throttleCounter {
	if a.Window <= 0 {
		return nil
	}
	var cs []throttleCounter
	if a.PerUser > 0 {
		cs = append(cs, throttleCounter{loginUserCounter(a.User), int64(min(a.PerUser, maxFailures))})
	}
	if a.PerIP > 0 && a.IP != "" {
		cs = append(cs, throttleCounter{loginIPCounter(a.IP), int64(min(a.PerIP, maxFailures))})
	}
	return cs
}

// ReserveLogin takes a's place in its user's counter, then in its address's
// (one script each: the two keys live in different Cluster slots). When
// the second refuses or fails, the first place is given back. An error
// (ErrUnavailable) means no place is held, as far as the store answered:
// the gateway answers 503, never skips the throttle.
func (s *RedisStore) ReserveLogin(ctx context.Context, a LoginAttempt) (Reservation, error) {
	var b [12]byte
	rand.Read(b[:])
	now := s.opts.nowMS()
	member := strconv.FormatInt(now, 10) + "-" + hex.EncodeToString(b[:])
	var r Reservation
	for _, c := range a.counters() {
		res, err := throttleReserveScript.Run(ctx, s.client, []string{s.keys.failures(c.name)},
			now, a.Window.Milliseconds(), member, c.limit, s.deadline(ctx)).Slice()
		var ok bool
		var oldest string
		if err = redisError("reserve login", err); err == nil {
			ok, oldest, err = parseReserve(res)
		}
		if err != nil || !ok {
			s.releaseCounters(context.WithoutCancel(ctx), r.counters, member)
			if err != nil {
				return Reservation{}, err
			}
			t, _ := strconv.ParseFloat(oldest, 64)
			return Reservation{Refused: true, RetryAfter: retryAfter(int64(t), now, a.Window)}, nil
		}
		r.counters = append(r.counters, c.name)
	}
	r.member = member
	return r, nil
}

// parseReserve reads throttle_reserve.lua's {1, n} or {0, oldest}.
func parseReserve(res []any) (ok bool, v string, err error) {
	if len(res) != 2 {
		return false, "", fmt.Errorf("sessions: reserve login: malformed reply")
	}
	flag, _ := res[0].(int64)
	switch x := res[1].(type) {
	case string:
		v = x
	case int64:
		v = strconv.FormatInt(x, 10)
	}
	return flag == 1, v, nil
}

// ReleaseLogin gives r's places back (a success, or an attempt shed before
// its password was checked). Each is one ZREM of the attempt's own member:
// atomic, and a retry or a late run removes nothing else.
func (s *RedisStore) ReleaseLogin(ctx context.Context, r Reservation) error {
	return s.releaseCounters(ctx, r.counters, r.member)
}

func (s *RedisStore) releaseCounters(ctx context.Context, counters []string, member string) error {
	var first error
	for _, c := range counters {
		if err := s.client.ZRem(ctx, s.keys.failures(c), member).Err(); err != nil && first == nil {
			first = redisError("release login", err)
		}
	}
	return first
}

// retryAfter is how long until an attempt made at oldest leaves the window.
func retryAfter(oldest, now int64, window time.Duration) time.Duration {
	return time.Duration(oldest+window.Milliseconds()-now) * time.Millisecond
}
