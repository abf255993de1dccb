package sessions_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestRedisHashTTL: when a live session leaves its tag's hash (revoke,
// logout by refresh token, reuse after grace), the hash's TTL shrinks to
// the end of the latest-ending remaining session, so the hash never
// outlives the sessions it holds; with none left the hash is gone.
func TestRedisHashTTL(t *testing.T) {
	t.Parallel()
	srv, client, ctx := standalone(t)
	cases := []struct {
		name string
		end  func(s *sessions.RedisStore, clock *sessionstest.Clock, b sessions.Created) error
	}{
		{"Revoke", func(s *sessions.RedisStore, _ *sessionstest.Clock, b sessions.Created) error {
			return s.Revoke(ctx, "alice", b.Session.ID)
		}},
		{"RevokeByRefreshToken", func(s *sessions.RedisStore, _ *sessionstest.Clock, b sessions.Created) error {
			_, err := s.RevokeByRefreshToken(ctx, b.RefreshToken)
			return err
		}},
		{"reuse after grace", func(s *sessions.RedisStore, clock *sessionstest.Clock, b sessions.Created) error {
			if _, err := s.Refresh(ctx, b.RefreshToken); err != nil {
				return err
			}
			clock.Advance(time.Minute)
			if _, err := s.Refresh(ctx, b.RefreshToken); !errors.Is(err, sessions.ErrReused) {
				return fmt.Errorf("Refresh(previous after grace) error = %v, want ErrReused", err)
			}
			return nil
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := sessionstest.NewClock(time.Now())
			opts := testOptions()
			opts.IdleTimeout, opts.AbsoluteLifetime, opts.TouchInterval, opts.Now = 10*time.Minute, 30*time.Minute, 0, clock.Now
			prefix := fmt.Sprintf("ix%d:", i)
			s := sessions.NewRedisStore(client, prefix, opts)
			key := prefix + "{" + sessions.UserTag("alice") + "}:h"
			// The TTL is relative and set a moment after the Go clock read
			// "now" (which the injected clock freezes): at most the time left.
			within := func(what string, left time.Duration) {
				t.Helper()
				if got := pttl(t, srv.Addr, key); got <= 0 || got > left.Milliseconds() {
					t.Fatalf("PTTL hash %s = %dms, want in (0, %d]", what, got, left.Milliseconds())
				}
			}
			a, err := s.Create(ctx, sessions.NewSession{User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			within("after login", 10*time.Minute)
			for range 3 { // used every 9 minutes: at 27 minutes a has 3 left before its absolute end
				clock.Advance(9 * time.Minute)
				if _, err := s.Validate(ctx, "alice", a.Session.ID); err != nil {
					t.Fatal(err)
				}
			}
			b, err := s.Create(ctx, sessions.NewSession{User: "alice"}) // 10 minutes left
			if err != nil {
				t.Fatal(err)
			}
			if got := pttl(t, srv.Addr, key); got < (9 * time.Minute).Milliseconds() {
				t.Fatalf("PTTL hash = %dms, want ≥ 9m (b's 10 minutes)", got)
			}
			if err := tc.end(s, clock, b); err != nil {
				t.Fatal(err)
			}
			within("after b ended", a.Session.CreatedAt.Add(30*time.Minute).Sub(clock.Now()))
			if err := s.Revoke(ctx, "alice", a.Session.ID); err != nil {
				t.Fatal(err)
			}
			if keys := keysOf(t, srv.Addr, prefix); len(keys) != 0 {
				t.Fatalf("keys after the last session ended = %v, want none", keys)
			}
		})
	}
}

// TestRedisRejectedChangeNothing: calls that must not change state (an
// unknown or two-rotations-old secret, malformed tokens, another user's
// revoke) leave every field and every TTL of the user's keys as they were.
func TestRedisRejectedChangeNothing(t *testing.T) {
	t.Parallel()
	srv, client, ctx := standalone(t)
	clock := sessionstest.NewClock(time.Now())
	opts := testOptions()
	// An absolute lifetime just above idle makes a wrong touch visible in
	// the TTL: it would cut it to the absolute end, minutes below idle.
	opts.IdleTimeout, opts.AbsoluteLifetime, opts.Now = time.Hour, 61*time.Minute, clock.Now
	s := sessions.NewRedisStore(client, "still:", opts)
	c, err := s.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	r1, err := s.Refresh(ctx, c.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := s.Refresh(ctx, r1.RefreshToken); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	base := "still:{" + sessions.UserTag("alice") + "}:"
	keys := []string{base + "s:" + c.Session.ID, base + "u:alice"}
	snapshot := func() (dump []string, ttls []int64) {
		for _, k := range keys {
			h, err1 := sessionstest.Command(srv.Addr, "HGETALL", k)
			z, err2 := sessionstest.Command(srv.Addr, "ZRANGE", k, "0", "-1", "WITHSCORES")
			if err1 != nil && err2 != nil {
				t.Fatalf("dump %s: %v %v", k, err1, err2)
			}
			dump = append(dump, h+"|"+z)
			ttls = append(ttls, pttl(t, srv.Addr, k))
		}
		return dump, ttls
	}
	dump, ttls := snapshot()
	sid := c.Session.ID
	for _, tok := range []string{c.RefreshToken, sid + "." + strings.Repeat("A", 43), sid + "." + c.RefreshToken[41:50], sid} {
		if _, err := s.Refresh(ctx, tok); !errors.Is(err, sessions.ErrInvalidGrant) || errors.Is(err, sessions.ErrReused) {
			t.Fatalf("Refresh(rejected) error = %v, want ErrInvalidGrant", err)
		}
		if _, err := s.RevokeByRefreshToken(ctx, tok); !errors.Is(err, sessions.ErrInvalidGrant) {
			t.Fatalf("RevokeByRefreshToken(rejected) error = %v, want ErrInvalidGrant", err)
		}
	}
	if err := s.Revoke(ctx, "bob", sid); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Revoke(bob, alice's id) error = %v, want ErrNotFound", err)
	}
	dump2, ttls2 := snapshot()
	for i, k := range keys {
		if dump2[i] != dump[i] {
			t.Errorf("%s after rejected calls = %q, want %q unchanged", k, dump2[i], dump[i])
		}
		if ttls2[i] > ttls[i] || ttls2[i] < ttls[i]-2000 {
			t.Errorf("PTTL %s after rejected calls = %dms, want %dms less the time that passed", k, ttls2[i], ttls[i])
		}
	}
}

// TestRedisStoresNoUsableToken: after two rotations the session record
// holds SHA-256 of the current secret and of the previous one, but none of
// the secrets ever issued in any encoding: a copy of Redis yields no token,
// not even the one a grace-window refresh would re-derive.
func TestRedisStoresNoUsableToken(t *testing.T) {
	t.Parallel()
	_, client, ctx := standalone(t)
	s := sessions.NewRedisStore(client, "nt:", testOptions())
	c, err := s.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := s.Refresh(ctx, c.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Refresh(ctx, r1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := client.HGetAll(ctx, "nt:{"+sessions.UserTag("alice")+"}:h").Result()
	if err != nil || len(rec) == 0 {
		t.Fatalf("HGETALL session = %v, %v", rec, err)
	}
	var stored []byte
	for k, v := range rec {
		stored = append(append(stored, k...), v...)
	}
	secret := func(tok string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(tok[strings.IndexByte(tok, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, tok := range []string{c.RefreshToken, r1.RefreshToken, r2.RefreshToken} {
		b := secret(tok)
		for _, form := range [][]byte{b, []byte(tok[41:]), []byte(hex.EncodeToString(b))} {
			if bytes.Contains(stored, form) {
				t.Errorf("session record holds secret %d (%d bytes form)", i, len(form))
			}
		}
	}
	// M ends with the current secret's hash; R holds the previous one's
	// after the rotation time (lua/layout.lua).
	cur, prev := sha256.Sum256(secret(r2.RefreshToken)), sha256.Sum256(secret(r1.RefreshToken))
	raw := rawID(t, c.Session.ID)
	if m, r := rec[raw+"M"], rec[raw+"R"]; !strings.HasSuffix(m, string(cur[:])) || len(r) != 56 || r[8:40] != string(prev[:]) {
		t.Errorf("session fields M, R do not hold SHA-256 of the current and previous secrets")
	}
}

// TestRedisUnavailableEveryMethod: with the server frozen or gone, every
// method answers ErrUnavailable (503), never ErrNotFound or ErrInvalidGrant
// (401, which would make clients throw their tokens away).
func TestRedisUnavailableEveryMethod(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	cfg.ReadTimeout, cfg.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	s := sessions.NewRedisStore(newClient(t, cfg), "gone:", testOptions())
	ctx := testCtx(t)
	c, err := s.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, deadline time.Duration) {
		t.Helper()
		for _, call := range sessionstest.EveryMethod(s, c) {
			cctx, cancel := context.WithTimeout(ctx, deadline)
			err := call.Do(cctx)
			cancel()
			if !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrInvalidGrant) {
				t.Errorf("%s with %s error = %v, want ErrUnavailable only", call.Name, what, err)
			}
		}
	}
	srv.Pause()
	check("server paused", 150*time.Millisecond)
	srv.Resume()
	srv.Stop()
	check("server stopped", 2*time.Second)
}

// TestRedisErrorReplies: the server replies that mean "cannot answer now"
// (loading, failover, cluster down, auth, memory) become ErrUnavailable;
// replies that point at a bug stay plain errors; redis.Nil is ErrNotFound.
// The replies are real: a script returns them, go-redis parses them.
func TestRedisErrorReplies(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	ctx := testCtx(t)
	cases := []struct {
		reply       string
		unavailable bool
	}{
		{"LOADING Redis is loading the dataset in memory", true},
		{"READONLY You can't write against a read only replica.", true},
		{"CLUSTERDOWN The cluster is down", true},
		{"TRYAGAIN Multiple keys request during rehashing of slot", true},
		{"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true},
		{"NOAUTH Authentication required.", true},
		{"WRONGPASS invalid username-password pair or user is disabled.", true},
		{"NOPERM this user has no permissions to run the 'evalsha' command", true},
		{"OOM command not allowed when used memory > 'maxmemory'.", true},
		{"BUSY Redis is busy running a script.", true},
		{"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", true},
		{"ERR max number of clients reached", true},
		{"NOREPLICAS Not enough good replicas to write.", true},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", false},
		{"ERR user_script:1: Script attempted to access nonexistent global variable 'x'", false},
	}
	for _, tc := range cases {
		t.Run(strings.Fields(tc.reply)[0], func(t *testing.T) {
			err := client.Eval(ctx, "return redis.error_reply(ARGV[1])", nil, tc.reply).Err()
			got := sessions.RedisError("op", err)
			if errors.Is(got, sessions.ErrUnavailable) != tc.unavailable || errors.Is(got, sessions.ErrNotFound) {
				t.Fatalf("RedisError(%q) = %v, want unavailable %v", tc.reply, got, tc.unavailable)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		got := sessions.RedisError("op", client.Get(ctx, "missing").Err())
		if !errors.Is(got, sessions.ErrNotFound) || errors.Is(got, sessions.ErrUnavailable) {
			t.Fatalf("RedisError(redis.Nil) = %v, want ErrNotFound", got)
		}
	})
}

// TestRedisWrongNode: a store pointed at a read-only replica (a master
// demoted by a failover) or at a Cluster node that serves no slot answers
// ErrUnavailable for what it cannot do, never ErrNotFound.
func TestRedisWrongNode(t *testing.T) {
	t.Parallel()
	master := sessionstest.StartRedis(t)
	host, port, _ := strings.Cut(master.Addr, ":")
	replica := sessionstest.StartRedis(t, "--replicaof", host, port)
	slotless := sessionstest.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := testCtx(t)
	c, err := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, master.Addr)), "wn:", testOptions()).
		Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	onReplica := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, replica.Addr)), "wn:", testOptions())
	if _, err := onReplica.Create(ctx, sessions.NewSession{User: "alice"}); !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("Create() on a replica error = %v, want ErrUnavailable (READONLY)", err)
	}
	if _, err := onReplica.ReserveLogin(ctx, sessions.LoginAttempt{User: "alice", PerUser: 5, Window: time.Minute}); !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("ReserveLogin() on a replica error = %v, want ErrUnavailable (READONLY)", err)
	}
	onSlotless := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, slotless.Addr)), "wn:", testOptions())
	for _, call := range sessionstest.EveryMethod(onSlotless, c) {
		if call.Name == "Ping" {
			continue // PING names no key: the node answers it
		}
		if err := call.Do(ctx); !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("%s on a node serving no slot error = %v, want ErrUnavailable (CLUSTERDOWN)", call.Name, err)
		}
	}
}
