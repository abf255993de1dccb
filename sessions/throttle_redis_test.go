package sessions_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestRedisReserveLoginGivesBackOnError: the user's counter took the
// attempt, then the address's failed (here NOPERM on its key, as a dead
// Cluster shard would): ErrUnavailable, so the gateway answers 503, and the
// user's place is given back instead of counting an attempt whose password
// was never checked.
func TestRedisReserveLoginGivesBackOnError(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t,
		"--user", "half", "on", ">s3cret-pw", "~tr:f:login:user:*", "resetchannels",
		"-@all", "+hello", "+auth", "+client|setname", "+select", "+ping", "+eval", "+evalsha",
		"+zadd", "+zrem", "+zrange", "+zcard", "+zrangebyscore", "+zremrangebyscore", "+pexpire", "+time")
	ctx := testCtx(t)
	full := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, srv.Addr)), "tr:", testOptions())
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	cfg.Username, cfg.Password = "half", "s3cret-pw"
	half := sessions.NewRedisStore(newClient(t, cfg), "tr:", testOptions())

	both := sessions.LoginAttempt{User: "alice", IP: "192.0.2.1", PerUser: 1, PerIP: 5, Window: time.Minute}
	if r, err := half.ReserveLogin(ctx, both); !errors.Is(err, sessions.ErrUnavailable) || r.Held() {
		t.Fatalf("ReserveLogin() with the address's counter failing = held %t, %v; want nothing held, ErrUnavailable", r.Held(), err)
	}
	userOnly := sessions.LoginAttempt{User: "alice", PerUser: 1, Window: time.Minute}
	r, err := full.ReserveLogin(ctx, userOnly)
	if err != nil || !r.Held() {
		t.Fatalf("ReserveLogin() of alice's only place = %+v, %v; want held (the failed attempt gave it back)", r, err)
	}
	if r, err := half.ReserveLogin(ctx, userOnly); err != nil || !r.Refused {
		t.Fatalf("ReserveLogin() over the limit = %+v, %v; want refused", r, err)
	}
}

// TestRedisReserveRetried: a reservation the client re-sends (go-redis
// retries a call whose reply was lost) holds one place, not two, and is
// still answered "held" when the counter is full by then.
func TestRedisReserveRetried(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	ctx := testCtx(t)
	s := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, srv.Addr)), "rr:", testOptions())
	now := time.Now().UnixMilli()
	for i, step := range []struct {
		member string
		want   string
	}{
		{"a", "[1 1]"},
		{"a", "[1 1]"}, // the retry: no second place
		{"b", "[1 2]"},
		{"a", "[1 2]"}, // full now, but a's place is its own
		{"c", "[0 " + strconv.FormatInt(now, 10) + "]"},
	} {
		res, err := sessions.RunThrottleReserve(ctx, s, "login:user:x", now, time.Minute, step.member, 2)
		if got := fmt.Sprint(res); err != nil || got != step.want {
			t.Fatalf("step %d (%s) = %s, %v; want %s", i, step.member, got, err, step.want)
		}
	}
}
