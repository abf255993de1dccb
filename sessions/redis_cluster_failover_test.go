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

// servedWithin is how soon after the promotion the shard must be served
// again (issue 8: 2 s). The client asks for a slot reload at most every
// 250 ms while commands fail, so on an idle machine this takes well under
// half a second; 2 s is the requirement itself, not a padded figure.
const servedWithin = 2 * time.Second

// cacheWithin bounds how soon after the promotion a caching replica has
// resubscribed (measured: 0.15–1.5 s, the frozen case being slower: each
// attempt that reaches the hung master first waits out a read timeout). Not
// the 2 s of the requirement: while unsubscribed the replica bypasses its
// cache and serves every request from Redis, so this is about load, not
// about being served.
const cacheWithin = 5 * time.Second

// clusterLogin is one user's session and the master that held it.
type clusterLogin struct {
	user, master string
	created      sessions.Created
}

// TestRedisClusterFailover: after kill -9 of a master in a 3+3 Cluster (or
// SIGSTOP: a hung or partitioned master), a store with the gateway's
// default timeouts serves that shard's users again within 2 s of the
// replica's promotion, loses no session the replica had, and answers ErrUnavailable
// (503) in between, never ErrNotFound (401). A login-throttle counter on the
// same shard is unavailable in between (never read as zero) and keeps its
// count afterwards. On the old client (no reload on node failure) the shard
// stayed unreachable until go-redis' 60 s periodic reload.
func TestRedisClusterFailover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fail func(*sessionstest.Redis)
	}{
		{"kill -9", (*sessionstest.Redis).Stop},
		{"frozen (SIGSTOP)", (*sessionstest.Redis).Pause},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testClusterFailover(t, tc.name, tc.fail)
		})
	}
}

func testClusterFailover(t *testing.T, how string, fail func(*sessionstest.Redis)) {
	cl := sessionstest.StartClusterConfig(t, sessionstest.ClusterConfig{Replicas: 1, NodeTimeout: time.Second})
	const prefix = "cf:"
	// store sets up and checks with the tests' generous timeouts; gw is what
	// a gateway runs with (config defaults: read/write 500 ms), measured.
	cfg := redisConfig(config.RedisCluster, cl.Addrs...)
	store := sessions.NewRedisStore(newClient(t, cfg), prefix, testOptions())
	cfg.ReadTimeout, cfg.WriteTimeout = 0, 0
	gw := sessions.NewRedisStore(newClient(t, cfg), prefix, testOptions())
	ctx := testCtx(t)

	logins := loginOnEveryShard(t, ctx, cl, store)
	victim, other := pickVictim(t, cl, prefix, logins)
	cache := cachingReplica(t, cfg, prefix)
	cache.cached(t, other.user, other.created.Session.ID) // subscribed
	throttleIP := throttleIPOn(t, cl, prefix, victim.master)
	if r, err := store.ReserveLogin(ctx, ipAttempt(throttleIP, 2)); err != nil || !r.Held() {
		t.Fatalf("ReserveLogin() = %+v, %v; want a held place", r, err)
	}
	cl.WaitReplicated(t)
	_, replicas := cl.Owner(t, victim.master, cl.Slot(t, sessions.UserTag(victim.user)))
	if len(replicas) != 1 {
		t.Fatalf("master %s has %d replicas, want 1", victim.master, len(replicas))
	}

	killed := time.Now()
	fail(cl.Node(victim.master))
	promoted := watchPromotion(t, cl, other.master, replicas[0].ID)
	cacheBack := make(chan time.Time, 1)
	go func() { cacheBack <- cacheHitsAgain(cache, other, killed.Add(20*time.Second)) }()

	served, otherFailures := pollUntilServed(t, gw, victim, other, throttleIP, killed.Add(20*time.Second))
	p, cached := <-promoted, <-cacheBack
	if p.IsZero() {
		t.Fatalf("replica %s was not promoted within 20 s of the failure", replicas[0].Addr)
	}
	t.Logf("%s → promotion %v, promotion → served again %v (failure → served %v); %d requests of a user on another shard failed meanwhile",
		how, p.Sub(killed).Round(time.Millisecond), served.Sub(p).Round(time.Millisecond), served.Sub(killed).Round(time.Millisecond), otherFailures)
	if gap := served.Sub(p); gap > servedWithin {
		t.Fatalf("shard served again %v after the promotion, want ≤ %v", gap, servedWithin)
	}
	if cached.IsZero() {
		t.Fatal("the caching replica did not resubscribe within 20 s of the failure")
	}
	t.Logf("%s: promotion → caching replica resubscribed %v", how, cached.Sub(p).Round(time.Millisecond))
	if gap := cached.Sub(p); gap > cacheWithin {
		t.Fatalf("the caching replica resubscribed %v after the promotion, want ≤ %v", gap, cacheWithin)
	}
	assertNothingLost(t, ctx, gw, logins, throttleIP)
}

// cachingReplica is a CachedStore (gateway default timeouts) whose round
// trips are counted.
func cachingReplica(t *testing.T, cfg config.Redis, prefix string) replicas {
	t.Helper()
	client := newClient(t, cfg)
	hook := &counter{}
	client.AddHook(hook)
	a := sessions.NewCachedStore(sessions.NewRedisStore(client, prefix, testOptions()), 30*time.Second)
	t.Cleanup(func() { a.Close() })
	return replicas{a: a, hook: hook}
}

// cacheHitsAgain validates l's session on the caching replica every 50 ms:
// first until it misses (the replica noticed its subscription is gone),
// then until it hits again (resubscribed), and returns when that happened
// (zero after deadline). l's shard stays up: nothing but the lost
// subscription makes this replica look at the cluster's topology.
func cacheHitsAgain(r replicas, l clusterLogin, deadline time.Time) time.Time {
	missed := false
	return poll(deadline, func(ctx context.Context) bool {
		r.hook.take()
		_, err := r.a.Validate(ctx, l.user, l.created.Session.ID)
		hit := err == nil && roundTrips(r.hook) == 0
		missed = missed || !hit
		return missed && hit
	})
}

// assertNothingLost checks that every session and the throttle count
// survived. ErrUnavailable is retried: a 500 ms timeout on a loaded machine
// is not a lost session.
func assertNothingLost(t *testing.T, ctx context.Context, gw *sessions.RedisStore, logins []clusterLogin, throttleIP string) {
	t.Helper()
	for _, l := range logins {
		if err := retryUnavailable(func() error {
			_, err := gw.Validate(ctx, l.user, l.created.Session.ID)
			return err
		}); err != nil {
			t.Errorf("Validate(%s, on %s) after the failover error = %v; the replica had it", l.user, l.master, err)
		}
	}
	// A limit of 1 is refused only if the place held before the failure
	// survived (it was replicated).
	var r sessions.Reservation
	if err := retryUnavailable(func() (err error) {
		r, err = gw.ReserveLogin(ctx, ipAttempt(throttleIP, 1))
		return err
	}); err != nil || !r.Refused {
		t.Errorf("reservation after the failover = %+v, %v; want refused (the counter was replicated before the failure)", r, err)
	}
}

// retryUnavailable calls f until it returns anything but ErrUnavailable,
// for at most 10 s.
func retryUnavailable(f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if !errors.Is(err, sessions.ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pickVictim returns a login on the master that also serves the
// invalidation channel's slot (so killing it costs the caching replica its
// subscription too) and one on another master.
func pickVictim(t *testing.T, cl *sessionstest.Cluster, prefix string, logins []clusterLogin) (victim, other clusterLogin) {
	t.Helper()
	channelMaster, _ := cl.Owner(t, cl.Addrs[0], cl.Slot(t, prefix+"invalidate"))
	for _, l := range logins {
		if l.master == channelMaster.Addr {
			victim = l
		} else {
			other = l
		}
	}
	return victim, other
}

// loginOnEveryShard creates sessions until every master holds at least
// three users' sessions, and returns them with their masters.
func loginOnEveryShard(t *testing.T, ctx context.Context, cl *sessionstest.Cluster, store *sessions.RedisStore) []clusterLogin {
	t.Helper()
	var out []clusterLogin
	perMaster := map[string]int{}
	for i := 0; len(perMaster) < 3 || minCount(perMaster) < 3; i++ {
		if i == 300 {
			t.Fatalf("300 users did not cover every shard: %v", perMaster)
		}
		user := fmt.Sprintf("user%d", i)
		master, _ := cl.Owner(t, cl.Addrs[0], cl.Slot(t, sessions.UserTag(user)))
		c, err := store.Create(ctx, sessions.NewSession{User: user})
		if err != nil {
			t.Fatal(err)
		}
		perMaster[master.Addr]++
		out = append(out, clusterLogin{user: user, master: master.Addr, created: c})
	}
	return out
}

func minCount(m map[string]int) int {
	n := -1
	for _, v := range m {
		if n < 0 || v < n {
			n = v
		}
	}
	return n
}

// throttleIPOn returns a client address whose login counter lives on master.
func throttleIPOn(t *testing.T, cl *sessionstest.Cluster, prefix, master string) string {
	t.Helper()
	for i := range 300 {
		ip := fmt.Sprintf("192.0.2.%d", i)
		if m, _ := cl.Owner(t, cl.Addrs[0], cl.Slot(t, prefix+"f:login:ip:"+ip)); m.Addr == master {
			return ip
		}
	}
	t.Fatalf("no throttle key on %s", master)
	return ""
}

// ipAttempt is a login attempt counted only under ip, with room for limit.
func ipAttempt(ip string, limit int) sessions.LoginAttempt {
	return sessions.LoginAttempt{IP: ip, PerIP: limit, Window: time.Hour}
}

// watchPromotion polls CLUSTER NODES on the node at via every 20 ms and
// sends the time it first names replicaID a master serving slots (zero
// after 20 s without).
func watchPromotion(t *testing.T, cl *sessionstest.Cluster, via, replicaID string) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			nodes, _ := sessionstest.ClusterNodes(via)
			for _, n := range nodes {
				if n.ID == replicaID && n.Master && !n.Failed && len(n.Slots) > 0 {
					out <- time.Now()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- time.Time{}
	}()
	return out
}

// pollUntilServed validates victim's session and reads the throttle
// counter on its shard, each every 50 ms with a request's deadline
// (500 ms) and concurrently, until both answer, and returns when the later of
// them first did. Until then every answer must be ErrUnavailable:
// ErrNotFound would log the user out, a zero count would skip the throttle.
// Meanwhile it counts the failed requests of other, a user on a live shard.
func pollUntilServed(t *testing.T, store *sessions.RedisStore, victim, other clusterLogin, throttleIP string, deadline time.Time) (time.Time, int) {
	t.Helper()
	validated := make(chan time.Time, 1)
	go func() {
		validated <- poll(deadline, func(ctx context.Context) bool {
			_, err := store.Validate(ctx, victim.user, victim.created.Session.ID)
			if err != nil && (!errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound)) {
				t.Errorf("Validate() during the failover error = %v, want ErrUnavailable", err)
			}
			return err == nil
		})
	}()
	counted := make(chan time.Time, 1)
	go func() {
		counted <- poll(deadline, func(ctx context.Context) bool {
			// Against a limit of 1 the place held before the failure must
			// refuse it: a held place would be a skipped throttle.
			r, err := store.ReserveLogin(ctx, ipAttempt(throttleIP, 1))
			switch {
			case err == nil && !r.Refused:
				t.Errorf("reservation during the failover was held, want refused or ErrUnavailable (a skipped throttle)")
			case err != nil && !errors.Is(err, sessions.ErrUnavailable):
				t.Errorf("ReserveLogin() during the failover error = %v, want ErrUnavailable", err)
			}
			return err == nil
		})
	}()
	stop := make(chan struct{})
	otherFailures := make(chan int, 1)
	go func() {
		n := 0
		poll(deadline, func(ctx context.Context) bool {
			if _, err := store.Validate(ctx, other.user, other.created.Session.ID); err != nil {
				n++
			}
			select {
			case <-stop:
				return true
			default:
				return false
			}
		})
		otherFailures <- n
	}()
	v, c := <-validated, <-counted
	close(stop)
	if v.IsZero() || c.IsZero() {
		t.Fatalf("shard not served 20 s after the failure (validated %v, counted %v)", !v.IsZero(), !c.IsZero())
	}
	return later(v, c), <-otherFailures
}

// poll calls f with a 500 ms deadline every 50 ms until it reports
// success, and returns when that call returned (zero after deadline).
func poll(deadline time.Time, f func(context.Context) bool) time.Time {
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		ok := f(ctx)
		cancel()
		if ok {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
