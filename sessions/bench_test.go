package sessions_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// A realistic login: the sizes are what the gateway stores (a typical
// 120-byte browser user agent).
var benchLogin = sessions.NewSession{
	User: "alice@example.com", IP: "203.0.113.42",
	UserAgent:           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.",
	PasswordFingerprint: "9f86d081884c7d659a2feaa0c55ad015",
}

// BenchmarkStores measures validate, refresh and login on the memory store
// and on a local redis-server side by side (run both in one invocation and
// compare ratios, not absolute figures):
//
//	go test -run '^$' -bench Stores -benchtime 2s ./sessions/
func BenchmarkStores(b *testing.B) {
	srv := sessionstest.StartRedis(b)
	client := newClient(b, redisConfig(config.RedisStandalone, srv.Addr))
	opts := testOptions() // max 5 per user, touch 1m: validate reads only
	stores := []struct {
		name  string
		store sessionstest.Store
	}{
		{"memory", sessions.NewMemoryStore(opts)},
		{"redis", sessions.NewRedisStore(client, "bench:", opts)},
		// Each Validate on its own round trip (no batching, batch.go).
		{"redis-unbatched", sessions.Unbatched(sessions.NewRedisStore(newClient(b, redisConfig(config.RedisStandalone, srv.Addr)), "benchu:", opts))},
		// With sessions.cache: validate is answered from the replica's cache.
		{"redis-cached", sessions.NewCachedStore(sessions.NewRedisStore(newClient(b, redisConfig(config.RedisStandalone, srv.Addr)), "benchc:", opts), 2*time.Second)},
	}
	ctx := context.Background()
	for _, op := range []string{"Validate", "ValidateParallel", "Refresh", "Login"} {
		for _, st := range stores {
			b.Run(op+"/"+st.name, func(b *testing.B) {
				c, err := st.store.Create(ctx, benchLogin)
				if err != nil {
					b.Fatal(err)
				}
				switch op {
				case "Validate":
					for b.Loop() {
						if _, err := st.store.Validate(ctx, c.Session.User, c.Session.ID); err != nil {
							b.Fatal(err)
						}
					}
				case "ValidateParallel": // 16 callers, like a proxy at 16 connections on 2 cores
					b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := st.store.Validate(ctx, c.Session.User, c.Session.ID); err != nil {
								b.Error(err)
								return
							}
						}
					})
				case "Refresh":
					tok := c.RefreshToken
					for b.Loop() {
						r, err := st.store.Refresh(ctx, tok)
						if err != nil {
							b.Fatal(err)
						}
						tok = r.RefreshToken
					}
				case "Login": // steady state at max_per_user: every login evicts one
					for b.Loop() {
						if _, err := st.store.Create(ctx, benchLogin); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// TestRedisMemoryPerSession measures what sessions cost in Redis: MEMORY
// USAGE summed over all of a user's keys, for 1 and 5 sessions. Run with -v
// to see the figures (docs/performance.md, "Session memory", quotes them).
func TestRedisMemoryPerSession(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	store := sessions.NewRedisStore(newClient(t, redisConfig(config.RedisStandalone, srv.Addr)), "portcullis:", testOptions())
	ctx := testCtx(t)
	for _, n := range []int{1, 5} {
		login := benchLogin
		login.User = "user" + strconv.Itoa(n) + "@example.com"
		for range n {
			if _, err := store.Create(ctx, login); err != nil {
				t.Fatal(err)
			}
		}
		keys := keysOf(t, srv.Addr, "portcullis:{"+sessions.UserTag(login.User)+"}:")
		if len(keys) != n+1 {
			t.Fatalf("%d sessions: keys = %v, want %d", n, keys, n+1)
		}
		total := 0
		for _, k := range keys {
			reply, err := sessionstest.Command(srv.Addr, "MEMORY", "USAGE", k, "SAMPLES", "0")
			bytes, perr := strconv.Atoi(reply)
			if err != nil || perr != nil {
				t.Fatalf("MEMORY USAGE %s = %q, %v", k, reply, err)
			}
			total += bytes
		}
		t.Logf("redis: %d session(s) of one user: %d keys, %d bytes (MEMORY USAGE), %d bytes/session",
			n, len(keys), total, total/n)
		// A size bound, not a performance assertion: a record above it means
		// the layout regressed (a secret stored as text, or a value over
		// hash-max-listpack-value: 984 B when the user agent was one field).
		if per := total / n; per > 640 {
			t.Errorf("%d bytes per session, want ≤ 640", per)
		}
		for _, k := range keys {
			if enc, err := sessionstest.Command(srv.Addr, "OBJECT", "ENCODING", k); err != nil || enc != "listpack" {
				t.Errorf("OBJECT ENCODING %s = %q, %v; want listpack (the compact encoding)", k, enc, err)
			}
		}
	}
}

// TestMemoryStoreFootprint reports the heap the memory store uses per
// session (Go heap delta over 10 000 sessions of 2 000 users).
func TestMemoryStoreFootprint(t *testing.T) {
	const users, per = 2000, 5
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	store := sessions.NewMemoryStore(testOptions())
	ctx := context.Background()
	for u := range users {
		login := benchLogin
		login.User = "user" + strconv.Itoa(u) + "@example.com"
		for range per {
			login.UserAgent = strings.Clone(benchLogin.UserAgent) // as if read from a request
			if _, err := store.Create(ctx, login); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSession := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / (users * per)
	t.Logf("memory store: ~%d bytes of heap per session (%d sessions)", perSession, users*per)
	runtime.KeepAlive(store)
	if n, _ := store.List(ctx, "user0@example.com"); len(n) != per {
		t.Fatalf("List() = %d sessions, want %d", len(n), per)
	}
}
