package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestCachedStoreTombstones: a session that ended is refused by the caching
// replica from memory, with no round trip, whether it ended there or was
// announced as ended by the script that ended it on another replica; the
// refusal holds while the subscription is down, and only real ends leave a
// tombstone (a refused revoke, a rotation, a wrong secret or a garbled
// announcement do not).
func TestCachedStoreTombstones(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	ctx := testCtx(t)

	// refusedFromMemory: A refuses the session with no command sent.
	refusedFromMemory := func(t *testing.T, r replicas, user, id string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			r.hook.take()
			_, err := r.a.Validate(ctx, user, id)
			n := roundTrips(r.hook)
			if errors.Is(err, sessions.ErrNotFound) && n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Validate() of an ended session = %v with %d round trips, want ErrNotFound from memory", err, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Each end is made once on the caching replica A itself and once on
	// B, from where only the script's announcement reaches A.
	ends := []struct {
		name string
		end  func(t *testing.T, s ender, r replicas, c sessions.Created)
	}{
		{"revoke", func(t *testing.T, s ender, _ replicas, c sessions.Created) {
			if err := s.Revoke(ctx, c.Session.User, c.Session.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoke user", func(t *testing.T, s ender, _ replicas, c sessions.Created) {
			if _, err := s.RevokeUser(ctx, c.Session.User); err != nil {
				t.Fatal(err)
			}
		}},
		{"logout by refresh token", func(t *testing.T, s ender, _ replicas, c sessions.Created) {
			if _, err := s.RevokeByRefreshToken(ctx, c.RefreshToken); err != nil {
				t.Fatal(err)
			}
		}},
		{"eviction", func(t *testing.T, s ender, r replicas, c sessions.Created) {
			for range 2 { // max 2 per user; c is the least recently used
				r.clock.Advance(time.Millisecond)
				if _, err := s.Create(ctx, sessions.NewSession{User: c.Session.User}); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"reuse", func(t *testing.T, s ender, r replicas, c sessions.Created) {
			if _, err := s.Refresh(ctx, c.RefreshToken); err != nil {
				t.Fatal(err)
			}
			r.clock.Advance(testOptions().RefreshGrace + time.Millisecond)
			if _, err := s.Refresh(ctx, c.RefreshToken); !errors.Is(err, sessions.ErrReused) {
				t.Fatalf("Refresh(previous token after grace) = %v, want ErrReused", err)
			}
		}},
	}
	n := 0
	for _, tc := range ends {
		for _, on := range []string{"A", "B"} {
			n++
			prefix := fmt.Sprintf("tomb%d:", n)
			t.Run(tc.name+" on "+on, func(t *testing.T) {
				r, c := cachedLogin(t, cfg, prefix)
				var s ender = r.b
				if on == "A" {
					s = r.a
				}
				tc.end(t, s, r, c)
				refusedFromMemory(t, r, "alice", c.Session.ID)
				// Still refused from memory with the subscription gone (the
				// cache itself is bypassed then).
				if _, err := sessionstest.Command(srv.Addr, "CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
					t.Fatal(err)
				}
				refusedFromMemory(t, r, "alice", c.Session.ID)
			})
		}
	}

	t.Run("no tombstone without an end", func(t *testing.T) {
		r, c := cachedLogin(t, cfg, "tombnone:")
		// Another user's revoke of alice's id is refused and must not make
		// alice's session look ended.
		if err := r.a.Revoke(ctx, "bob", c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("Revoke(bob, alice's id) = %v, want ErrNotFound", err)
		}
		// A wrong secret changes nothing, on either path.
		wrong := c.Session.ID + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		if _, err := r.a.RevokeByRefreshToken(ctx, wrong); !errors.Is(err, sessions.ErrInvalidGrant) {
			t.Fatalf("RevokeByRefreshToken(wrong secret) = %v, want ErrInvalidGrant", err)
		}
		if _, err := r.a.Refresh(ctx, wrong); !errors.Is(err, sessions.ErrInvalidGrant) {
			t.Fatalf("Refresh(wrong secret) = %v, want ErrInvalidGrant", err)
		}
		// Garbled announcements drop at most an entry; they end nothing.
		channel := "tombnone:invalidate"
		for _, p := range []string{"ended ", "ended " + c.Session.ID[:39], "ended " + c.Session.ID + " x", "ended  " + c.Session.ID, "ENDED " + c.Session.ID} {
			if _, err := sessionstest.Command(srv.Addr, "PUBLISH", channel, p); err != nil {
				t.Fatal(err)
			}
		}
		// A rotation drops the entry but the session lives on.
		rot, err := r.a.Refresh(ctx, c.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.a.Validate(ctx, "alice", c.Session.ID); err != nil {
			t.Fatalf("Validate() after refused ends and a rotation = %v, want the live session", err)
		}
		r.cached(t, "alice", rot.Session.ID)
	})

	t.Run("announced end", func(t *testing.T) {
		r, c := cachedLogin(t, cfg, "tombann:")
		// The announcement alone (the session still exists in Redis) makes
		// A refuse it: the tombstone, not a round trip, answered.
		if _, err := sessionstest.Command(srv.Addr, "PUBLISH", "tombann:invalidate", "ended "+c.Session.ID); err != nil {
			t.Fatal(err)
		}
		refusedFromMemory(t, r, "alice", c.Session.ID)
	})

	t.Run("tombstones expire", func(t *testing.T) {
		r := newTombReplicas(t, cfg, "tombexp:")
		c, err := r.a.Create(ctx, sessions.NewSession{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.a.Revoke(ctx, "alice", c.Session.ID); err != nil {
			t.Fatal(err)
		}
		refusedFromMemory(t, r, "alice", c.Session.ID)
		r.clock.Advance(sessions.TombstoneTTL)
		r.hook.take()
		if _, err := r.a.Validate(ctx, "alice", c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("Validate() after the tombstone expired = %v, want ErrNotFound from Redis", err)
		}
		if n := roundTrips(r.hook); n == 0 {
			t.Fatal("Validate() after the tombstone expired was answered from memory, want Redis asked")
		}
	})
}

// cachedLogin starts replicas (newTombReplicas) and a session of alice,
// created on B and held in A's cache.
func cachedLogin(t *testing.T, cfg config.Redis, prefix string) (replicas, sessions.Created) {
	t.Helper()
	r := newTombReplicas(t, cfg, prefix)
	c, err := r.b.Create(testCtx(t), sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r.cached(t, "alice", c.Session.ID)
	return r, c
}

// newTombReplicas is newReplicas with a settable clock shared by A and B.
func newTombReplicas(t *testing.T, cfg config.Redis, prefix string) replicas {
	t.Helper()
	clock := sessionstest.NewClock(time.Now())
	r := newReplicasWith(t, cfg, prefix, clock.Now)
	r.clock = clock
	return r
}

// ender is what ends sessions, on either replica.
type ender interface {
	Create(context.Context, sessions.NewSession) (sessions.Created, error)
	Refresh(context.Context, string) (sessions.Refreshed, error)
	RevokeByRefreshToken(context.Context, string) (sessions.Session, error)
	Revoke(ctx context.Context, user, id string) error
	RevokeUser(ctx context.Context, user string) ([]string, error)
}
