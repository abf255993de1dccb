package gateway

import (
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// TestStoreFreezeNoLateEffects: a refresh and a login answered 503 while
// Redis is frozen (SIGSTOP) must not take effect when it resumes, although
// their script calls are queued in its sockets and the freeze outlasts
// refresh_grace. The client then retries with what it holds, on another
// replica: the refresh token it never saw rotated still rotates normally
// (never 401 invalid_grant), and the login evicts exactly one session,
// counted once in portcullis_sessions_evicted_total.
func TestStoreFreezeNoLateEffects(t *testing.T) {
	t.Parallel()
	edit := func(c *config.Config) {
		// No throttle counters, so that the login's first store call is Create.
		c.Login.RateLimit.PerUser, c.Login.RateLimit.PerIP = 0, 0
	}
	sopts := func(o *sessions.Options) { o.MaxPerUser, o.RefreshGrace = 3, 5*time.Second }
	e1 := newEnv(t, envOptions{store: redisStore, edit: edit, sopts: sopts})
	var held []tokenResponse
	for range 3 {
		held = append(held, e1.loginJSON("alice", "alice-password"))
	}
	refresh := func(e *env, tok string) response {
		return e.do("POST", "/auth/refresh", `{"refresh_token":"`+tok+`"}`, "Content-Type", "application/json")
	}
	login := func(e *env) response {
		return e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, "Content-Type", "application/json")
	}
	// Load the refresh script, so the queued copy is not refused as NOSCRIPT.
	res := refresh(e1, held[2].RefreshToken)
	wantStatus(t, "warm-up refresh", res, http.StatusOK)
	res.json(t, &held[2])
	// A second replica for the login, whose pooled connection is open before
	// the freeze: a connection dialled during it would hang in its handshake
	// and never carry the script.
	e2 := newEnv(t, envOptions{store: redisStore, edit: edit, sopts: sopts, shared: e1.newStore,
		clock: e1.clock, keys: e1.keys, users: e1.users, usersAt: e1.usersPath})
	wantStatus(t, "replica 2 warm-up", e2.do("GET", "/auth/me", "", bearer(held[1].AccessToken)...), http.StatusOK)

	e1.redis.Pause()
	for name, res := range map[string]response{"refresh": refresh(e1, held[0].RefreshToken), "login": login(e2)} {
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			e1.redis.Resume()
			t.Fatalf("%s with Redis frozen = %d (Retry-After %q), want 503 with Retry-After", name, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	e1.clock.Advance(10 * time.Second) // the freeze outlasts refresh_grace
	for _, e := range []*env{e1, e2} {
		e.srv.Close()
		e.store.(*sessions.RedisStore).Close()
	}
	e1.redis.Resume()
	e1.redis.WaitDrained(t, 20*time.Second) // every queued script copy has run
	if n := e1.redis.Errors(t, "LATE"); n < 2 {
		t.Errorf("%d script copies were refused as late, want at least the refresh's and the login's", n)
	}

	// The client retries on a third replica.
	e3 := newEnv(t, envOptions{store: redisStore, edit: edit, sopts: sopts, shared: e1.newStore,
		clock: e1.clock, keys: e1.keys, users: e1.users, usersAt: e1.usersPath})
	var ids []string
	for _, h := range held {
		ids = append(ids, h.SessionID)
	}
	if got := sessionIDs(t, e3); !slices.Equal(got, sorted(ids)) {
		t.Fatalf("after the thaw sessions = %v, want the untouched %v", got, sorted(ids))
	}
	res = refresh(e3, held[0].RefreshToken)
	wantStatus(t, "retried refresh", res, http.StatusOK)
	var rotated tokenResponse
	res.json(t, &rotated)
	if rotated.RefreshToken == held[0].RefreshToken || !strings.HasPrefix(rotated.RefreshToken, held[0].SessionID+".") {
		t.Fatalf("retried refresh returned %q, want a rotation of session %s", rotated.RefreshToken, held[0].SessionID)
	}
	wantStatus(t, "retried login", login(e3), http.StatusOK)
	if n := testutil.ToFloat64(authMetricsOf(e2.g).evicted); n != 0 {
		t.Errorf("replica 2 (login answered 503) counted %v evictions, want 0", n)
	}
	if n := testutil.ToFloat64(authMetricsOf(e3.g).evicted); n != 1 {
		t.Errorf("replica 3 (one successful login) counted %v evictions, want 1", n)
	}
	if got := sessionIDs(t, e3); len(got) != 3 || !slices.Contains(got, held[0].SessionID) {
		t.Errorf("after the retried login sessions = %v, want 3 including the refreshed %s", got, held[0].SessionID)
	}
}

func sessionIDs(t *testing.T, e *env) []string {
	t.Helper()
	list, err := e.store.List(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return sorted(ids)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
