package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func TestCachedStoreConformance(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	var n atomic.Int64
	sessionstest.RunConformance(t, func(t *testing.T, opts sessions.Options) sessionstest.Store {
		// A client per store: CachedStore.Close closes its client.
		client, err := sessions.NewRedisClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := sessions.NewCachedStore(sessions.NewRedisStore(client, fmt.Sprintf("cache%d:", n.Add(1)), opts), 2*time.Second)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// evalCount counts the script calls a client sends (pub/sub traffic excluded).
func evalCount(h *counter) int {
	n := 0
	for _, c := range h.take() {
		if c == "EVALSHA" || c == "EVAL" || c == "HMGET" { // HMGET: Validate's fast path
			n++
		}
	}
	return n
}

// replicas is a caching replica A and a plain replica B sharing one store.
type replicas struct {
	a    *sessions.CachedStore
	hook *counter
	b    *sessions.RedisStore
}

func newReplicas(t *testing.T, cfg config.Redis, prefix string) replicas {
	t.Helper()
	clientA := newClient(t, cfg)
	hook := &counter{}
	clientA.AddHook(hook)
	opts := testOptions()
	opts.MaxPerUser = 2
	// The long staleness bound means only an invalidation can explain a
	// refusal within the test's short waits.
	a := sessions.NewCachedStore(sessions.NewRedisStore(clientA, prefix, opts), 30*time.Second)
	t.Cleanup(func() { a.Close() })
	b := sessions.NewRedisStore(newClient(t, cfg), prefix, opts).WithInvalidations()
	return replicas{a: a, hook: hook, b: b}
}

// cached validates on A until an answer comes from the cache (no round trip).
func (r replicas) cached(t *testing.T, user, id string) {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.hook.take()
		if _, err := r.a.Validate(ctx, user, id); err != nil {
			t.Fatalf("Validate() on the caching replica error = %v", err)
		}
		if evalCount(r.hook) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the caching replica never answered from its cache")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refusedSoon waits until A refuses the session, far sooner than maxStaleness.
func (r replicas) refusedSoon(t *testing.T, user, id string) {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := r.a.Validate(ctx, user, id)
		if errors.Is(err, sessions.ErrNotFound) {
			return
		}
		if err != nil && !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("Validate() error = %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the caching replica still accepts session %s 2s after it ended elsewhere (error %v)", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testInvalidations(t *testing.T, cfg config.Redis) {
	ctx := testCtx(t)
	cases := []struct {
		name string
		end  func(r replicas, c sessions.Created) // ends c's session through replica B
	}{
		{"revoke", func(r replicas, c sessions.Created) { r.b.Revoke(ctx, c.Session.User, c.Session.ID) }},
		{"revoke user", func(r replicas, c sessions.Created) { r.b.RevokeUser(ctx, c.Session.User) }},
		{"logout by refresh token", func(r replicas, c sessions.Created) { r.b.RevokeByRefreshToken(ctx, c.RefreshToken) }},
		{"eviction", func(r replicas, c sessions.Created) {
			r.b.Create(ctx, sessions.NewSession{User: c.Session.User}) // max 2 per user
			r.b.Create(ctx, sessions.NewSession{User: c.Session.User})
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplicas(t, cfg, "inv"+string(rune('a'+i))+":")
			c, err := r.b.Create(ctx, sessions.NewSession{User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			r.cached(t, "alice", c.Session.ID)
			tc.end(r, c)
			r.refusedSoon(t, "alice", c.Session.ID)
		})
	}
	t.Run("rotation drops the entry", func(t *testing.T) {
		r := newReplicas(t, cfg, "invrot:")
		c, _ := r.b.Create(ctx, sessions.NewSession{User: "alice"})
		r.cached(t, "alice", c.Session.ID)
		if _, err := r.b.Refresh(ctx, c.RefreshToken); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			r.hook.take()
			r.a.Validate(ctx, "alice", c.Session.ID)
			if evalCount(r.hook) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("rotation on B did not drop A's cache entry")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestCachedStoreInvalidation(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		srv := sessionstest.StartRedis(t)
		testInvalidations(t, redisConfig(config.RedisStandalone, srv.Addr))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := sessionstest.StartCluster(t)
		testInvalidations(t, redisConfig(config.RedisCluster, cl.Addrs...))
	})
}

// TestCachedStoreSubscriptionLoss: a replica whose subscription breaks
// empties and bypasses its cache, so an invalidation published meanwhile is
// not missed; a frozen store is ErrUnavailable, not a cached "valid".
func TestCachedStoreSubscriptionLoss(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	ctx := testCtx(t)

	t.Run("pubsub connection killed", func(t *testing.T) {
		r := newReplicas(t, cfg, "kill:")
		c, _ := r.b.Create(ctx, sessions.NewSession{User: "alice"})
		r.cached(t, "alice", c.Session.ID)
		if n, err := sessionstest.Command(srv.Addr, "CLIENT", "KILL", "TYPE", "pubsub"); err != nil || n == "0" {
			t.Fatalf("CLIENT KILL TYPE pubsub = %q, %v", n, err)
		}
		r.b.Revoke(ctx, "alice", c.Session.ID)
		r.refusedSoon(t, "alice", c.Session.ID)
		// It resubscribes and caches again.
		c2, _ := r.b.Create(ctx, sessions.NewSession{User: "alice"})
		r.cached(t, "alice", c2.Session.ID)
	})
	t.Run("server frozen", func(t *testing.T) {
		r := newReplicas(t, cfg, "frozen:")
		c, _ := r.b.Create(ctx, sessions.NewSession{User: "alice"})
		r.cached(t, "alice", c.Session.ID)
		srv.Pause()
		defer srv.Resume()
		deadline := time.Now().Add(3 * time.Second)
		for {
			vctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // a request's deadline
			_, err := r.a.Validate(vctx, "alice", c.Session.ID)
			cancel()
			if errors.Is(err, sessions.ErrUnavailable) {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("Validate() with the store frozen = %v, want ErrUnavailable once the silence is noticed", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestCachedStoreStaleness: a cached answer is served for less than
// maxStaleness by the store's clock, then Redis is asked again.
func TestCachedStoreStaleness(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	client := newClient(t, redisConfig(config.RedisStandalone, srv.Addr))
	hook := &counter{}
	client.AddHook(hook)
	clock := sessionstest.NewClock(time.Now())
	opts := testOptions()
	opts.Now = clock.Now
	a := sessions.NewCachedStore(sessions.NewRedisStore(client, "stale:", opts), 2*time.Second)
	t.Cleanup(func() { a.Close() })
	r := replicas{a: a, hook: hook}
	ctx := testCtx(t)
	c, err := a.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r.cached(t, "alice", c.Session.ID)
	clock.Advance(2*time.Second - time.Millisecond)
	hook.take()
	a.Validate(ctx, "alice", c.Session.ID)
	if n := evalCount(hook); n != 0 {
		t.Fatalf("Validate() just before maxStaleness: %d round trips, want 0", n)
	}
	clock.Advance(time.Millisecond)
	a.Validate(ctx, "alice", c.Session.ID)
	if n := evalCount(hook); n != 1 {
		t.Fatalf("Validate() at maxStaleness: %d round trips, want 1", n)
	}
	// Another user presenting the same id is never served from the cache.
	if _, err := a.Validate(ctx, "bob", c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Validate(bob, alice's id) = %v, want ErrNotFound", err)
	}
}

var _ redis.Hook = (*counter)(nil)
