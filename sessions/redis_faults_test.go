package sessions_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// faultOptions: three sessions per user and a grace window shorter than the
// freezes below (in the logical clock), as in the incident that lost them.
func faultOptions(clock *sessionstest.Clock) sessions.Options {
	o := testOptions()
	o.MaxPerUser, o.RefreshGrace, o.Now = 3, 5*time.Second, clock.Now
	return o
}

// faultStore is a store on a fresh client of srv with gateway-like timeouts
// (read 400 ms: go-redis retries each timed-out script on a new connection).
func faultStore(t *testing.T, srv *sessionstest.Redis, opts sessions.Options) (*sessions.RedisStore, redis.UniversalClient) {
	t.Helper()
	cfg := redisConfig(config.RedisStandalone, srv.Addr)
	cfg.ReadTimeout, cfg.WriteTimeout = 400*time.Millisecond, 400*time.Millisecond
	c, err := sessions.NewRedisClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return sessions.NewRedisStore(c, "flt:", opts), c
}

func threeSessions(t *testing.T, ctx context.Context, s *sessions.RedisStore, user string) []sessions.Created {
	t.Helper()
	var out []sessions.Created
	for range 3 {
		c, err := s.Create(ctx, sessions.NewSession{User: user})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// warmUp runs every mutating script once (on another user), so that a copy
// queued in a frozen server is the script itself, not an EVALSHA that the
// server would refuse with NOSCRIPT.
func warmUp(t *testing.T, ctx context.Context, s *sessions.RedisStore) {
	t.Helper()
	for _, f := range []func(c sessions.Created) error{
		func(c sessions.Created) error { _, err := s.Refresh(ctx, c.RefreshToken); return err },
		func(c sessions.Created) error { _, err := s.RevokeByRefreshToken(ctx, c.RefreshToken); return err },
		func(c sessions.Created) error { return s.Revoke(ctx, "warm", c.Session.ID) },
		func(sessions.Created) error { _, err := s.RevokeUser(ctx, "warm"); return err },
	} {
		c, err := s.Create(ctx, sessions.NewSession{User: "warm"})
		if err == nil {
			err = f(c)
		}
		if err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
}

func liveIDs(t *testing.T, ctx context.Context, s *sessions.RedisStore, user string) []string {
	t.Helper()
	list, err := s.List(ctx, user)
	if err != nil {
		t.Fatalf("List(%s) error = %v", user, err)
	}
	ids := make([]string, 0, len(list))
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	slices.Sort(ids)
	return ids
}

func idsOf(cs []sessions.Created) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.Session.ID)
	}
	slices.Sort(ids)
	return ids
}

// frozenCases are the mutations TestRedisFrozenCallsChangeNothingLater freezes:
// the call the gateway gives up on, and the client's retry with what it holds.
var frozenCases = []struct {
	name  string
	call  func(ctx context.Context, s *sessions.RedisStore, held []sessions.Created) error
	retry func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created)
}{
	{"login", func(ctx context.Context, s *sessions.RedisStore, _ []sessions.Created) error {
		_, err := s.Create(ctx, sessions.NewSession{User: "alice"})
		return err
	}, func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created) {
		c, err := s.Create(ctx, sessions.NewSession{User: "alice"})
		if err != nil || len(c.Evicted) != 1 {
			t.Fatalf("retried login = %v evicted, %v; want exactly 1", c.Evicted, err)
		}
	}},
	{"refresh", func(ctx context.Context, s *sessions.RedisStore, held []sessions.Created) error {
		_, err := s.Refresh(ctx, held[0].RefreshToken)
		return err
	}, func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created) {
		// The client never received a rotation: its token is still the
		// current one, never "previous after grace" (ErrReused).
		r, err := s.Refresh(ctx, held[0].RefreshToken)
		if err != nil || r.Grace {
			t.Fatalf("retried refresh = grace %v, %v; want a normal rotation", r.Grace, err)
		}
		if _, err := s.Refresh(ctx, r.RefreshToken); err != nil {
			t.Fatalf("refresh with the rotated token: %v", err)
		}
	}},
	{"logout", func(ctx context.Context, s *sessions.RedisStore, held []sessions.Created) error {
		_, err := s.RevokeByRefreshToken(ctx, held[0].RefreshToken)
		return err
	}, func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created) {
		if _, err := s.RevokeByRefreshToken(ctx, held[0].RefreshToken); err != nil {
			t.Fatalf("retried logout: %v", err)
		}
	}},
	{"revoke", func(ctx context.Context, s *sessions.RedisStore, held []sessions.Created) error {
		return s.Revoke(ctx, "alice", held[0].Session.ID)
	}, func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created) {
		if err := s.Revoke(ctx, "alice", held[0].Session.ID); err != nil {
			t.Fatalf("retried revoke: %v", err)
		}
	}},
	{"logout-all", func(ctx context.Context, s *sessions.RedisStore, _ []sessions.Created) error {
		_, err := s.RevokeUser(ctx, "alice")
		return err
	}, func(t *testing.T, ctx context.Context, s *sessions.RedisStore, held []sessions.Created) {
		ids, err := s.RevokeUser(ctx, "alice")
		if err != nil || len(ids) != 3 {
			t.Fatalf("retried logout-all = %v, %v; want the 3 sessions", ids, err)
		}
	}},
}

// TestRedisFrozenCallsChangeNothingLater: a mutation written to a frozen
// Redis, answered ErrUnavailable (503), must not run when Redis resumes —
// even though every copy go-redis queued is still in the server's sockets
// and the logical clock moved past the grace window meanwhile. Then the
// client's retry with what it holds gets the normal answer.
func TestRedisFrozenCallsChangeNothingLater(t *testing.T) {
	t.Parallel()
	for _, tc := range frozenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := sessionstest.StartRedis(t)
			clock := sessionstest.NewClock(time.Now())
			opts := faultOptions(clock)
			ctx := testCtx(t)
			s, client := faultStore(t, srv, opts)
			held := threeSessions(t, ctx, s, "alice")
			warmUp(t, ctx, s)

			srv.Pause()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			err := tc.call(cctx, s, held)
			cancel()
			if !errors.Is(err, sessions.ErrUnavailable) {
				srv.Resume()
				t.Fatalf("%s with Redis frozen error = %v, want ErrUnavailable", tc.name, err)
			}
			// The freeze lasts longer than refresh_grace in the stores' clock.
			clock.Advance(2 * opts.RefreshGrace)
			client.Close()
			srv.Resume()
			srv.WaitDrained(t, 20*time.Second) // every queued copy has now run
			if srv.Errors(t, "LATE") == 0 {
				t.Errorf("no copy of the %s script reached Redis after the thaw; the test proves nothing", tc.name)
			}

			s2, _ := faultStore(t, srv, opts)
			if got, want := liveIDs(t, ctx, s2, "alice"), idsOf(held); !slices.Equal(got, want) {
				t.Fatalf("after the thaw sessions = %v, want the untouched %v", got, want)
			}
			tc.retry(t, ctx, s2, held)
		})
	}
}

// TestRedisStallEvictsOnce: Redis stalls (DEBUG SLEEP 1.5 s) longer than the
// read timeout, so go-redis sends the create script again on new
// connections and every copy waits in the server. Whatever the gateway was
// told, the outcome matches it: a login answered ErrUnavailable evicted
// nothing, and the successful retry evicts exactly one session and reports
// exactly that one.
func TestRedisStallEvictsOnce(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t, "--enable-debug-command", "yes")
	opts := faultOptions(sessionstest.NewClock(time.Now()))
	ctx := testCtx(t)
	for try := 0; ; try++ {
		if try == 5 {
			t.Fatal("no login was caught in the stall in 5 tries")
		}
		user := "stall" + string(rune('a'+try))
		s, client := faultStore(t, srv, opts)
		held := threeSessions(t, ctx, s, user)
		before := srv.Errors(t, "LATE")
		woke := srv.Stall(t, 1500*time.Millisecond)
		time.Sleep(50 * time.Millisecond)                       // let DEBUG SLEEP reach the server first
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second) // the gateway's store call timeout
		c, err := s.Create(cctx, sessions.NewSession{User: user})
		cancel()
		<-woke
		client.Close()
		srv.WaitDrained(t, 20*time.Second)
		s2, _ := faultStore(t, srv, opts)
		got := liveIDs(t, ctx, s2, user)
		if err == nil {
			// The stall missed the login: it must still have evicted one.
			if len(c.Evicted) != 1 || slices.Contains(got, c.Evicted[0]) || len(got) != 3 {
				t.Fatalf("login evicted %v, sessions now %v; want exactly one gone", c.Evicted, got)
			}
			continue
		}
		if !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("login during the stall error = %v, want ErrUnavailable", err)
		}
		if want := idsOf(held); !slices.Equal(got, want) {
			t.Fatalf("a login answered ErrUnavailable left sessions %v, want the untouched %v", got, want)
		}
		if srv.Errors(t, "LATE") == before {
			t.Fatal("no copy of the create script ran after the stall; the test proves nothing")
		}
		r, err := s2.Create(ctx, sessions.NewSession{User: user})
		if err != nil {
			t.Fatal(err)
		}
		after := liveIDs(t, ctx, s2, user)
		if len(r.Evicted) != 1 || slices.Contains(after, r.Evicted[0]) || len(after) != 3 {
			t.Fatalf("retried login evicted %v, sessions now %v; want exactly one gone", r.Evicted, after)
		}
		return
	}
}

// twice is a go-redis hook that sends every script call a second time, as
// a retry does when the first copy ran but its reply was lost: the caller
// sees the second copy's reply.
type twice struct{}

func (twice) DialHook(next redis.DialHook) redis.DialHook { return next }

func (twice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if n := cmd.Name(); (n == "evalsha" || n == "eval") && err == nil {
			err = next(ctx, cmd)
		}
		return err
	}
}

func (twice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisRetriedCallsTakeEffectOnce: every script call runs twice with
// the same arguments (a retry whose first copy ran). A login evicts once and
// reports that one; a refresh rotates once and returns the token it issued
// (even with no grace window, where a second rotation attempt would be taken
// for reuse); the caller never learns of its own first copy.
func TestRedisRetriedCallsTakeEffectOnce(t *testing.T) {
	t.Parallel()
	_, client, ctx := standalone(t)
	client.AddHook(twice{})
	for _, grace := range []time.Duration{0, 5 * time.Second} {
		clock := sessionstest.NewClock(time.Now())
		opts := faultOptions(clock)
		opts.RefreshGrace = grace
		s := sessions.NewRedisStore(client, "twice"+grace.String()+":", opts)
		held := threeSessions(t, ctx, s, "alice")
		c, err := s.Create(ctx, sessions.NewSession{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		got := liveIDs(t, ctx, s, "alice")
		want := slices.DeleteFunc(append(idsOf(held), c.Session.ID), func(id string) bool { return slices.Contains(c.Evicted, id) })
		slices.Sort(want)
		if len(c.Evicted) != 1 || !slices.Equal(got, want) || len(got) != 3 {
			t.Fatalf("grace %v: doubled login evicted %v, sessions now %v; want exactly that one gone", grace, c.Evicted, got)
		}
		kept := held[0]
		if kept.Session.ID == c.Evicted[0] {
			kept = held[1]
		}
		r, err := s.Refresh(ctx, kept.RefreshToken)
		if err != nil || r.Grace {
			t.Fatalf("grace %v: doubled refresh = grace %v, %v; want one plain rotation", grace, r.Grace, err)
		}
		if _, err := s.Refresh(ctx, r.RefreshToken); err != nil {
			t.Fatalf("grace %v: refresh with the token the doubled refresh returned: %v", grace, err)
		}
		// A replay of a rotated token is a new call (a new nonce), never
		// taken for a retried copy: after the grace window it is reuse and
		// ends the session (the doubled call's caller sees the second copy:
		// the session already gone).
		clock.Advance(grace + time.Second)
		_, err = s.Refresh(ctx, r.RefreshToken)
		if !errors.Is(err, sessions.ErrReused) && !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("grace %v: replayed old token error = %v, want ErrReused or ErrNotFound", grace, err)
		}
		if slices.Contains(liveIDs(t, ctx, s, "alice"), kept.Session.ID) {
			t.Fatalf("grace %v: a replay after the grace window left the session alive", grace)
		}
	}
}

// delayed is a go-redis hook that holds every script call for d before
// sending it, like a gateway goroutine stalled between building the call
// and writing it (GC, CPU starvation).
type delayed struct{ d time.Duration }

func (delayed) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h delayed) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "evalsha" || n == "eval" {
			time.Sleep(h.d)
		}
		return next(ctx, cmd)
	}
}

func (delayed) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisDelayedCallChangesNothing: a script that reaches a healthy Redis
// after the gateway may already have given up on it (held longer than the
// read timeout) changes nothing and is ErrUnavailable, whatever the context
// deadline says.
func TestRedisDelayedCallChangesNothing(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	opts := faultOptions(sessionstest.NewClock(time.Now()))
	ctx := testCtx(t)
	s, _ := faultStore(t, srv, opts)
	held := threeSessions(t, ctx, s, "alice")
	warmUp(t, ctx, s)
	slow, client := faultStore(t, srv, opts)
	client.AddHook(delayed{600 * time.Millisecond}) // > the 400 ms read timeout
	calls := map[string]func() error{
		"login":      func() error { _, err := slow.Create(ctx, sessions.NewSession{User: "alice"}); return err },
		"refresh":    func() error { _, err := slow.Refresh(ctx, held[0].RefreshToken); return err },
		"logout":     func() error { _, err := slow.RevokeByRefreshToken(ctx, held[1].RefreshToken); return err },
		"revoke":     func() error { return slow.Revoke(ctx, "alice", held[2].Session.ID) },
		"logout-all": func() error { _, err := slow.RevokeUser(ctx, "alice"); return err },
		"reserve-login": func() error {
			_, err := slow.ReserveLogin(ctx, throttledAlice)
			return err
		},
	}
	for name, call := range calls {
		before := srv.Errors(t, "LATE")
		if err := call(); !errors.Is(err, sessions.ErrUnavailable) {
			t.Errorf("delayed %s error = %v, want ErrUnavailable", name, err)
		}
		if srv.Errors(t, "LATE") == before {
			t.Errorf("delayed %s was not refused as late by the script", name)
		}
	}
	if got, want := liveIDs(t, ctx, s, "alice"), idsOf(held); !slices.Equal(got, want) {
		t.Fatalf("after delayed calls sessions = %v, want the untouched %v", got, want)
	}
	if _, err := s.Refresh(ctx, held[0].RefreshToken); err != nil {
		t.Fatalf("refresh with the untouched token: %v", err)
	}
	// The late reservation holds no place: the whole budget is still there.
	for i := range throttledAlice.PerUser {
		if r, err := s.ReserveLogin(ctx, throttledAlice); err != nil || r.Refused {
			t.Fatalf("reservation %d after the late one = %+v, %v; want held", i+1, r, err)
		}
	}
}

// throttledAlice is a login attempt against a small budget.
var throttledAlice = sessions.LoginAttempt{User: "alice", IP: "192.0.2.1", PerUser: 2, PerIP: 2, Window: time.Minute}
