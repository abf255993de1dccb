package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func testOptions() sessions.Options {
	return sessions.Options{
		MaxPerUser: 5, IdleTimeout: time.Hour, AbsoluteLifetime: 24 * time.Hour,
		TouchInterval: time.Minute, RefreshGrace: 30 * time.Second, DeriveKey: sessionstest.DeriveKey,
	}
}

// counter is a go-redis hook that records every command sent and every
// pipeline flushed: each entry is one round trip.
type counter struct {
	mu    sync.Mutex
	trips []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.trips = append(c.trips, strings.ToUpper(cmd.Name()))
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.trips = append(c.trips, "PIPELINE")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trips
	c.trips = nil
	return t
}

// TestRedisRoundTrips proves each operation is one round trip (one EVALSHA),
// and that a flushed script cache costs one EVAL more and nothing else.
func TestRedisRoundTrips(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	client := newClient(t, redisConfig(config.RedisStandalone, srv.Addr))
	hook := &counter{}
	client.AddHook(hook)
	clock := sessionstest.NewClock(time.Now())
	opts := testOptions()
	opts.Now = clock.Now
	store := sessions.NewRedisStore(client, "rt:", opts)
	ctx := testCtx(t)

	// Warm up: load every script once.
	c, _ := store.Create(ctx, sessions.NewSession{User: "alice"})
	store.Validate(ctx, "alice", c.Session.ID)
	sessions.ValidateByScript(store, ctx, "alice", c.Session.ID)
	r, _ := store.Refresh(ctx, c.RefreshToken)
	store.List(ctx, "alice")
	store.RevokeByRefreshToken(ctx, "x")
	store.Revoke(ctx, "alice", sessions.UserTag("alice")+strings.Repeat("0", 32))
	store.RevokeUser(ctx, "nobody")
	attempt := sessions.LoginAttempt{User: "alice", PerUser: 5, Window: time.Minute}
	store.ReserveLogin(ctx, attempt)
	store.RevokeByRefreshToken(ctx, c.Session.ID+"."+strings.Repeat("A", 43))
	hook.take()

	var tok = r.RefreshToken
	var created sessions.Created
	var held sessions.Reservation
	ops := []struct {
		name string
		call func() error
	}{
		{"Validate", func() error { _, err := store.Validate(ctx, "alice", c.Session.ID); return err }},
		{"Validate with touch", func() error {
			clock.Advance(2 * time.Minute)
			_, err := store.Validate(ctx, "alice", c.Session.ID)
			return err
		}},
		{"Refresh", func() error { r, err := store.Refresh(ctx, tok); tok = r.RefreshToken; return err }},
		{"Create", func() error {
			var err error
			created, err = store.Create(ctx, sessions.NewSession{User: "alice"})
			return err
		}},
		{"Revoke", func() error { return store.Revoke(ctx, "alice", created.Session.ID) }},
		{"List", func() error { _, err := store.List(ctx, "alice"); return err }},
		{"ReserveLogin", func() error { var err error; held, err = store.ReserveLogin(ctx, attempt); return err }},
		{"ReleaseLogin", func() error { return store.ReleaseLogin(ctx, held) }},
		{"RevokeByRefreshToken", func() error { _, err := store.RevokeByRefreshToken(ctx, tok); return err }},
		{"RevokeUser", func() error { _, err := store.RevokeUser(ctx, "alice"); return err }},
		{"Ping", func() error { return store.Ping(ctx) }},
	}
	for _, op := range ops {
		if err := op.call(); err != nil {
			t.Fatalf("%s error = %v", op.name, err)
		}
		want := []string{"EVALSHA"}
		switch op.name {
		case "Ping":
			want = []string{"PING"}
		case "ReleaseLogin":
			want = []string{"ZREM"} // one plain command per counter: atomic without a script
		case "Validate":
			want = []string{"HMGET"} // the fast path: decided in Go
		case "Validate with touch":
			want = []string{"HMGET", "EVALSHA"} // once per TouchInterval
		}
		if got := hook.take(); !slices.Equal(got, want) {
			t.Errorf("%s round trips = %v, want %v", op.name, got, want)
		}
	}

	// NOSCRIPT fallback: after SCRIPT FLUSH the first call sends EVAL once.
	if reply, err := sessionstest.Command(srv.Addr, "SCRIPT", "FLUSH"); err != nil || reply != "OK" {
		t.Fatalf("SCRIPT FLUSH = %q, %v", reply, err)
	}
	c2, err := store.Create(ctx, sessions.NewSession{User: "bob"})
	if err != nil {
		t.Fatalf("Create() after SCRIPT FLUSH error = %v", err)
	}
	if got := hook.take(); len(got) != 2 || got[0] != "EVALSHA" || got[1] != "EVAL" {
		t.Errorf("Create() after SCRIPT FLUSH round trips = %v, want [EVALSHA EVAL]", got)
	}
	if _, err := store.Validate(ctx, "bob", c2.Session.ID); err != nil {
		t.Fatalf("Validate() after SCRIPT FLUSH error = %v", err)
	}
	hook.take()
	if _, err := store.Validate(ctx, "bob", c2.Session.ID); err != nil {
		t.Fatalf("Validate() error = %v", err)
	}
	if got := hook.take(); len(got) != 1 {
		t.Errorf("Validate() round trips = %v, want one", got)
	}
	// A 300-byte user agent still fits the fast path's pieces.
	long, err := store.Create(ctx, sessions.NewSession{User: "bob", UserAgent: strings.Repeat("u", 300), PasswordFingerprint: strings.Repeat("f", 32)})
	if err != nil {
		t.Fatal(err)
	}
	hook.take()
	if s, err := store.Validate(ctx, "bob", long.Session.ID); err != nil || len(s.UserAgent) != 300 {
		t.Fatalf("Validate(300-byte user agent) = %d bytes, %v", len(s.UserAgent), err)
	}
	if got := hook.take(); !slices.Equal(got, []string{"HMGET"}) {
		t.Errorf("Validate(300-byte user agent) round trips = %v, want [HMGET]", got)
	}
	// A malformed or foreign id costs no round trip at all.
	store.Validate(ctx, "bob", "nonsense")
	store.Validate(ctx, "alice", c2.Session.ID)
	if got := hook.take(); len(got) != 0 {
		t.Errorf("Validate(malformed or other user's tag) round trips = %v, want none", got)
	}
}

// keysOf lists the keys under prefix on one server (KEYS is fine on a test server).
func keysOf(t *testing.T, addr, prefix string) []string {
	t.Helper()
	reply, err := sessionstest.Command(addr, "KEYS", prefix+"*")
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	if reply == "" {
		return nil
	}
	return strings.Split(reply, "\n")
}

func pttl(t *testing.T, addr, key string) int64 {
	t.Helper()
	reply, err := sessionstest.Command(addr, "PTTL", key)
	n, perr := strconv.ParseInt(reply, 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("PTTL %s = %q, %v", key, reply, err)
	}
	return n
}

// TestRedisTTLs: every key the store writes has a TTL, the tag's hash does
// not outlive its latest-ending session, and the real TTL removes everything
// once sessions end even if no one calls the store again (the backstop
// behind the injected clock).
func TestRedisTTLs(t *testing.T) {
	t.Parallel()
	srv, client, ctx := standalone(t)

	t.Run("every key bounded", func(t *testing.T) {
		opts := testOptions()
		opts.IdleTimeout, opts.AbsoluteLifetime = 10*time.Minute, 30*time.Minute
		store := sessions.NewRedisStore(client, "ttl:", opts)
		var ends = map[string]time.Time{}
		for range 3 {
			c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			ends[c.Session.ID] = c.Session.ExpiresAt
		}
		c, _ := store.Create(ctx, sessions.NewSession{User: "alice"})
		r, err := store.Refresh(ctx, c.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		ends[c.Session.ID] = r.Session.ExpiresAt
		store.ReserveLogin(ctx, sessions.LoginAttempt{User: "alice", PerUser: 5, Window: 5 * time.Minute})

		keys := keysOf(t, srv.Addr, "ttl:")
		if len(keys) != 2 { // the tag's hash, one counter
			t.Fatalf("keys = %v, want 2", keys)
		}
		var latest time.Time
		for _, end := range ends {
			if end.After(latest) {
				latest = end
			}
		}
		for _, k := range keys {
			ms := pttl(t, srv.Addr, k)
			switch {
			case strings.HasSuffix(k, "}:h"):
				// The TTL is relative and set when the script runs, a few ms
				// after the Go clock read "now": allow for that latency (a
				// loaded machine under -race can take a while), not more.
				if left := time.Until(latest).Milliseconds(); ms <= 0 || ms > left+250 {
					t.Errorf("PTTL %s = %dms, want in (0, %d] (the latest session end)", k, ms, left)
				}
			case strings.Contains(k, ":f:"):
				if ms <= 0 || ms > (5*time.Minute).Milliseconds() {
					t.Errorf("PTTL counter %s = %dms, want in (0, 5m]", k, ms)
				}
			default:
				t.Errorf("unexpected key %s", k)
			}
		}
	})

	t.Run("real expiry removes everything", func(t *testing.T) {
		opts := testOptions()
		opts.IdleTimeout, opts.TouchInterval = 300*time.Millisecond, 0
		store := sessions.NewRedisStore(client, "real:", opts)
		c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		store.ReserveLogin(ctx, sessions.LoginAttempt{IP: "192.0.2.1", PerIP: 5, Window: 300 * time.Millisecond})
		time.Sleep(200 * time.Millisecond)
		if _, err := store.Validate(ctx, "alice", c.Session.ID); err != nil { // touch: +300ms
			t.Fatalf("Validate() within idle = %v", err)
		}
		time.Sleep(200 * time.Millisecond) // 400ms after login, 200ms after the touch
		if keys := keysOf(t, srv.Addr, "real:"); len(keys) != 1 {
			t.Fatalf("keys 200ms after a touch = %v, want the tag's hash", keys)
		}
		time.Sleep(250 * time.Millisecond)
		if keys := keysOf(t, srv.Addr, "real:"); len(keys) != 0 {
			t.Fatalf("keys after idle timeout = %v, want none", keys)
		}
	})
}

// TestRedisKeyLayout: a user's keys share one Cluster slot (the hash tag),
// whatever the user name holds, and the names follow keys.go.
func TestRedisKeyLayout(t *testing.T) {
	t.Parallel()
	srv, client, ctx := standalone(t)
	store := sessions.NewRedisStore(client, "lay:", testOptions())
	for _, user := range []string{"alice", "{bob}", "carol}{x", "d@example.com"} {
		t.Run(user, func(t *testing.T) {
			c, err := store.Create(ctx, sessions.NewSession{User: user})
			if err != nil {
				t.Fatal(err)
			}
			store.Create(ctx, sessions.NewSession{User: user})
			if _, err := store.LockProviderRefresh(ctx, c.Session.ID, time.Minute); err != nil {
				t.Fatal(err)
			}
			tag := sessions.UserTag(user)
			keys := keysOf(t, srv.Addr, "lay:{"+tag+"}:")
			want := map[string]bool{"lay:{" + tag + "}:h": true, "lay:{" + tag + "}:lk:" + c.Session.ID: true}
			if len(keys) != 2 {
				t.Fatalf("keys of %q = %v, want the tag's hash (both sessions) and the lock", user, keys)
			}
			slot := ""
			for _, k := range keys {
				delete(want, k)
				s, err := sessionstest.Command(srv.Addr, "CLUSTER", "KEYSLOT", k)
				if err != nil {
					t.Fatal(err)
				}
				if slot == "" {
					slot = s
				} else if s != slot {
					t.Errorf("CLUSTER KEYSLOT %s = %s, want %s like the user's other keys", k, s, slot)
				}
			}
			if len(want) != 0 {
				t.Errorf("keys %v missing from %v", want, keys)
			}
		})
	}
}

// TestRedisUnavailable: a frozen or dead server is ErrUnavailable (503 at
// the gateway), never ErrNotFound, within the configured read timeout.
func TestRedisUnavailable(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	cfg.ReadTimeout, cfg.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	client := newClient(t, cfg)
	store := sessions.NewRedisStore(client, "down:", testOptions())
	ctx := testCtx(t)
	c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, deadline time.Duration) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		start := time.Now()
		_, err := store.Validate(cctx, "alice", c.Session.ID)
		if !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("Validate() with %s error = %v, want ErrUnavailable", what, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("Validate() with %s took %v, want it bounded by the deadline", what, took)
		}
		if err := store.Ping(cctx); !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("Ping() with %s error = %v, want ErrUnavailable", what, err)
		}
	}
	srv.Pause()
	check("server paused, short context deadline", 150*time.Millisecond)
	check("server paused, read timeout", 5*time.Second)
	_, err = store.Refresh(ctx, c.RefreshToken)
	if !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrInvalidGrant) {
		t.Fatalf("Refresh() with server paused error = %v, want ErrUnavailable and not ErrInvalidGrant", err)
	}
	srv.Resume()
	if _, err := store.Validate(ctx, "alice", c.Session.ID); err != nil {
		t.Fatalf("Validate() after resume error = %v", err)
	}
	srv.Stop()
	check("server stopped", 5*time.Second)
}

// TestRedisAuthAndDB: ACL username/password and db are honoured; wrong
// credentials are ErrUnavailable (the store cannot answer), not ErrNotFound.
func TestRedisAuthAndDB(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t,
		"--user", "default", "off", "--user", "gw", "on", ">s3cret-pw", "~portcullis:*", "resetchannels",
		// The least the store needs (docs/sessions.md, ACL user): connection set-up, the
		// script calls, and the commands the scripts run.
		"-@all", "+hello", "+auth", "+client|setname", "+select", "+ping", "+eval", "+evalsha",
		"+hmget", "+hset", "+hdel", "+hgetall", "+del", "+pexpire", "+zadd", "+zrem", "+zrange", "+zcard",
		"+zrangebyscore", "+zremrangebyscore", "+time",
		"+set", "+get", "+sadd", "+smembers", "+multi", "+exec",
		"--user", "default-off-admin", "on", ">s3cret-admin", "~*", "+@all",
		// With sessions.cache: the same plus the invalidation channel.
		"--user", "gwc", "on", ">s3cret-pw", "~portcullis:*", "resetchannels", "&portcullis:*",
		"-@all", "+hello", "+auth", "+client|setname", "+select", "+ping", "+eval", "+evalsha",
		"+hmget", "+hset", "+hdel", "+hgetall", "+del", "+pexpire", "+zadd", "+zrem", "+zrange", "+zcard",
		"+zrangebyscore", "+zremrangebyscore", "+time",
		"+set", "+get", "+sadd", "+smembers", "+multi", "+exec", "+publish", "+subscribe")
	ctx := testCtx(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	cfg.Username, cfg.Password, cfg.DB = "gw", "s3cret-pw", 3
	store := sessions.NewRedisStore(newClient(t, cfg), cfg.KeyPrefix, testOptions())
	c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatalf("Create() with ACL user error = %v", err)
	}
	if _, err := store.Validate(ctx, "alice", c.Session.ID); err != nil {
		t.Fatalf("Validate() with ACL user error = %v", err)
	}
	if ks := keyspace(t, srv.Addr); !strings.Contains(ks, "db3:keys=1") || strings.Contains(ks, "db0:") {
		t.Fatalf("INFO keyspace = %q, want the one key in db3 only", ks)
	}
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong password", "gw", "nope"},
		{"no credentials", "", ""},
		{"disabled default user", "default", "s3cret-pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := cfg
			bad.Username, bad.Password = tc.user, config.Secret(tc.pass)
			s := sessions.NewRedisStore(newClient(t, bad), cfg.KeyPrefix, testOptions())
			_, err := s.Validate(ctx, "alice", c.Session.ID)
			if !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("Validate() error = %v, want ErrUnavailable", err)
			}
		})
	}
	t.Run("conformance as the least-privilege user", func(t *testing.T) {
		sessionstest.RunConformance(t, prefixedFactory(newClient(t, cfg), "portcullis:acl"))
	})
	t.Run("conformance with cache as the least-privilege user", func(t *testing.T) {
		ccfg := cfg
		ccfg.Username = "gwc"
		var n atomic.Int64
		sessionstest.RunConformance(t, func(t *testing.T, opts sessions.Options) sessionstest.Store {
			s := sessions.NewCachedStore(sessions.NewRedisStore(newClient(t, ccfg), fmt.Sprintf("portcullis:aclc%d:", n.Add(1)), opts), time.Second)
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("key outside the ACL key pattern", func(t *testing.T) {
		s := sessions.NewRedisStore(newClient(t, cfg), "other:", testOptions())
		_, err := s.Create(ctx, sessions.NewSession{User: "alice"})
		if !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("Create() under a forbidden prefix error = %v, want ErrUnavailable", err)
		}
	})
}

// keyspace returns INFO keyspace read over an authenticated connection.
func keyspace(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("AUTH default-off-admin s3cret-admin\r\nINFO keyspace\r\n"))
	buf := make([]byte, 4096)
	var out []byte
	for !strings.Contains(string(out), "# Keyspace") || !strings.HasSuffix(string(out), "\r\n\r\n") {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(out)
}
