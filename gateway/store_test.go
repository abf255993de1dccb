package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// TestStoreOutage: a paused redis-server (SIGSTOP) turns every auth endpoint
// and every authenticated proxied request into 503 + Retry-After — never a
// 401 or invalid_grant — and the gateway recovers on resume without restart.
func TestStoreOutage(t *testing.T) {
	e := newEnv(t, envOptions{store: redisStore, edit: trustLoopback})
	jar := e.cookieNames()
	alice := e.loginJSON("alice", "alice-password")
	b := &browser{}
	wantStatus(t, "form login", e.loginForm(b, "bob", "bob-password", "/"), http.StatusSeeOther)

	e.redis.Pause()
	resumed := false
	defer func() {
		if !resumed {
			e.redis.Resume()
		}
	}()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    []string
	}{
		{"proxied required bearer", "GET", "/api/x", "", bearer(alice.AccessToken)},
		{"proxied required cookie", "GET", "/api/x", "", []string{"Cookie", e.cookieHeader(b)}},
		{"proxied optional with token", "GET", "/opt", "", bearer(alice.AccessToken)},
		{"JSON login", "POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, []string{"Content-Type", "application/json"}},
		{"JSON login wrong password", "POST", "/auth/login", `{"username":"alice","password":"nope"}`, []string{"Content-Type", "application/json"}},
		{"JSON refresh", "POST", "/auth/refresh", `{"refresh_token":"` + alice.RefreshToken + `"}`, []string{"Content-Type", "application/json"}},
		{"cookie refresh", "POST", "/auth/refresh", "", []string{"Cookie", e.cookieHeader(b)}},
		{"me", "GET", "/auth/me", "", bearer(alice.AccessToken)},
		{"sessions", "GET", "/auth/sessions", "", bearer(alice.AccessToken)},
		{"logout", "POST", "/auth/logout", "", bearer(alice.AccessToken)},
		{"logout-all", "POST", "/auth/logout-all", "", bearer(alice.AccessToken)},
		{"delete session", "DELETE", "/auth/sessions/" + alice.SessionID, "", bearer(alice.AccessToken)},
		{"verify", "GET", "/auth/verify", "", append(bearer(alice.AccessToken), "X-Forwarded-Uri", "/api/x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.method, tt.path, tt.body, tt.hdr...)
			wantStatus(t, tt.name, res, http.StatusServiceUnavailable)
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			if c := res.errCode(t); c != "temporarily_unavailable" {
				t.Errorf("error = %q, want temporarily_unavailable", c)
			}
			if ck := res.cookie(jar.refreshName); ck != nil {
				t.Errorf("outage answer touched the refresh cookie: %v", ck)
			}
		})
	}
	t.Run("form login page", func(t *testing.T) {
		form := url.Values{"username": {"alice"}, "password": {"alice-password"}}.Encode()
		res := e.do("POST", "/auth/login", form, "Content-Type", "application/x-www-form-urlencoded")
		wantStatus(t, "form login", res, http.StatusServiceUnavailable)
		if res.Header.Get("Retry-After") == "" || res.cookie(jar.accessName) != nil {
			t.Errorf("form login during outage: Retry-After %q, cookies %v", res.Header.Get("Retry-After"), res.Cookies())
		}
	})
	t.Run("sessions page", func(t *testing.T) {
		res := e.do("GET", "/auth/sessions", "", "Accept", "text/html", "Cookie", e.cookieHeader(b))
		wantStatus(t, "sessions page", res, http.StatusServiceUnavailable)
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Retry-After") == "" {
			t.Errorf("sessions page outage: %q Retry-After %q", res.Header.Get("Content-Type"), res.Header.Get("Retry-After"))
		}
	})
	t.Run("form logout", func(t *testing.T) {
		res := e.do("POST", "/auth/logout", "rd=/", "Content-Type", "application/x-www-form-urlencoded", "Cookie", e.cookieHeader(b))
		wantStatus(t, "form logout", res, http.StatusServiceUnavailable)
		if len(res.Cookies()) != 0 {
			t.Errorf("form logout during outage touched cookies")
		}
	})
	t.Run("login page silent refresh", func(t *testing.T) {
		res := e.do("GET", "/auth/login?rd=/x", "", "Cookie", e.cookieHeader(b))
		wantStatus(t, "login page", res, http.StatusServiceUnavailable)
		if res.cookie(jar.refreshName) != nil {
			t.Errorf("outage cleared the refresh cookie")
		}
	})
	wantStatus(t, "public route during outage", e.do("GET", "/pub", ""), http.StatusOK)
	wantStatus(t, "optional anonymous during outage", e.do("GET", "/opt", ""), http.StatusOK)
	if got := testutil.ToFloat64(metricsOf(e.g).storeUp); got != 0 {
		t.Errorf("session_store_up = %v during outage, want 0", got)
	}

	e.redis.Resume()
	resumed = true
	wantStatus(t, "proxied after resume", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), http.StatusOK)
	wantStatus(t, "cookie after resume", e.do("GET", "/api/x", "", "Cookie", e.cookieHeader(b)), http.StatusOK)
	e.loginJSON("alice", "alice-password")
	if got := testutil.ToFloat64(metricsOf(e.g).storeUp); got != 1 {
		t.Errorf("session_store_up = %v after resume, want 1", got)
	}
}

// TestReplicasShareRevocation: two gateways on one Redis; a logout on one is
// refused on the other at the very next request.
func TestReplicasShareRevocation(t *testing.T) {
	e1 := newEnv(t, envOptions{store: redisStore})
	e2 := newEnv(t, envOptions{store: redisStore, keys: e1.keys, shared: e1.newStore, clock: e1.clock, users: e1.users, usersAt: e1.usersPath})
	a := e1.loginJSON("alice", "alice-password")
	wantStatus(t, "replica 2 accepts", e2.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusOK)
	wantStatus(t, "logout on replica 1", e1.do("POST", "/auth/logout", "", bearer(a.AccessToken)...), http.StatusNoContent)
	wantStatus(t, "replica 2 refuses", e2.do("GET", "/api/x", "", bearer(a.AccessToken)...), http.StatusUnauthorized)

	b := e2.loginJSON("bob", "bob-password")
	c := e1.loginJSON("bob", "bob-password")
	wantStatus(t, "logout-all on replica 2", e2.do("POST", "/auth/logout-all", "", bearer(b.AccessToken)...), http.StatusNoContent)
	wantStatus(t, "replica 1 refuses", e1.do("GET", "/api/x", "", bearer(c.AccessToken)...), http.StatusUnauthorized)

	// A refresh on one replica, the grace answer on the other.
	d := e1.loginJSON("dave", "dave-password")
	r1 := e1.do("POST", "/auth/refresh", `{"refresh_token":"`+d.RefreshToken+`"}`, "Content-Type", "application/json")
	r2 := e2.do("POST", "/auth/refresh", `{"refresh_token":"`+d.RefreshToken+`"}`, "Content-Type", "application/json")
	wantStatus(t, "refresh on replica 1", r1, 200)
	wantStatus(t, "grace refresh on replica 2", r2, 200)
	var t1, t2 tokenResponse
	r1.json(t, &t1)
	r2.json(t, &t2)
	if t1.RefreshToken != t2.RefreshToken {
		t.Errorf("replicas answered different refresh tokens within the grace window")
	}
}

// TestUsersReload: role changes apply on the next request; a disabled user
// or a changed password ends the session (revoked, user_disabled).
func TestUsersReload(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk})
		bob := e.loginJSON("bob", "bob-password")
		alice := e.loginJSON("alice", "alice-password")
		reload := func(edit func(name string, u *userEntry) bool) {
			t.Helper()
			writeUsersFile(t, e.usersPath, edit)
			if err := e.users.Reload(); err != nil {
				t.Fatalf("users reload: %v", err)
			}
		}
		wantStatus(t, "bob on adminarea", e.do("GET", "/adminarea", "", bearer(bob.AccessToken)...), 403)

		reload(func(name string, u *userEntry) bool {
			if name == "bob" {
				u.roles = []string{"admin"}
			}
			return true
		})
		wantStatus(t, "bob promoted", e.do("GET", "/adminarea", "", bearer(bob.AccessToken)...), 200)
		if got := e.up.last(t).Header.Get("X-Auth-Roles"); got != "admin" {
			t.Errorf("X-Auth-Roles = %q, want admin", got)
		}

		reload(func(name string, u *userEntry) bool {
			if name == "bob" {
				u.disabled = true
			}
			return true
		})
		res := e.do("GET", "/api/x", "", bearer(bob.AccessToken)...)
		wantStatus(t, "bob disabled", res, 401)
		if testutil.ToFloat64(metricsOf(e.g).revoked.WithLabelValues(revokedUserDisabled)) != 1 {
			t.Errorf("sessions_revoked_total{user_disabled} != 1")
		}
		reload(nil) // bob enabled again: the session stays revoked
		wantStatus(t, "bob re-enabled, old session", e.do("GET", "/api/x", "", bearer(bob.AccessToken)...), 401)
		wantStatus(t, "bob re-enabled, old refresh", e.do("POST", "/auth/refresh", `{"refresh_token":"`+bob.RefreshToken+`"}`, "Content-Type", "application/json"), 401)

		// Password change: older sessions end, the new password works.
		reload(func(name string, u *userEntry) bool {
			if name == "alice" {
				u.hash = testHash(t, "new-alice-password")
			}
			return true
		})
		wantStatus(t, "alice after password change", e.do("GET", "/api/x", "", bearer(alice.AccessToken)...), 401)
		wantStatus(t, "alice refresh after password change", e.do("POST", "/auth/refresh", `{"refresh_token":"`+alice.RefreshToken+`"}`, "Content-Type", "application/json"), 401)
		res = e.do("POST", "/auth/login", `{"username":"alice","password":"alice-password"}`, "Content-Type", "application/json")
		wantStatus(t, "old password", res, 401)
		a2 := e.loginJSON("alice", "new-alice-password")
		wantStatus(t, "alice new session", e.do("GET", "/api/x", "", bearer(a2.AccessToken)...), 200)

		// A removed user is like a disabled one.
		dave := e.loginJSON("dave", "dave-password")
		reload(func(name string, u *userEntry) bool { return name != "dave" })
		wantStatus(t, "dave removed", e.do("GET", "/web", "", bearer(dave.AccessToken)...), 401)
	})
}

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
	if n := testutil.ToFloat64(metricsOf(e2.g).evicted); n != 0 {
		t.Errorf("replica 2 (login answered 503) counted %v evictions, want 0", n)
	}
	if n := testutil.ToFloat64(metricsOf(e3.g).evicted); n != 1 {
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

// TestCallContext: the store call's context has its deadline at once, arms
// a timer only when waited on (Err does not arm), passes the parent's values
// and cancellation, and is done once released, armed or not.
func TestCallContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	newCC := func(parent context.Context) *callContext {
		return &callContext{Context: parent, deadline: time.Now().Add(storeCallTimeout)}
	}
	waitDone := func(t *testing.T, ctx context.Context, what string) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second): // a bound on a hang, not a measurement
			t.Fatalf("%s: context not done", what)
		}
	}

	parent, cancelParent := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
	cc := newCC(parent)
	if d, ok := cc.Deadline(); !ok || d != cc.deadline {
		t.Errorf("Deadline = %v, %v; want %v, true", d, ok, cc.deadline)
	}
	if cc.Value(key{}) != "v" || cc.hasArmed.Load() {
		t.Errorf("Value = %v, armed = %v; want the parent's value without arming", cc.Value(key{}), cc.hasArmed.Load())
	}
	if cc.Err() != nil || cc.hasArmed.Load() {
		t.Errorf("Err = %v, armed = %v; want nil without arming", cc.Err(), cc.hasArmed.Load())
	}
	child, cancelChild := context.WithCancel(cc) // arms: registers with the armed context
	defer cancelChild()
	if !cc.hasArmed.Load() || cc.Err() != nil || cc.Value(key{}) != "v" {
		t.Fatalf("after WithCancel: armed = %v, Err = %v, Value = %v", cc.hasArmed.Load(), cc.Err(), cc.Value(key{}))
	}
	cancelParent()
	waitDone(t, cc, "parent canceled")
	waitDone(t, child, "child of a canceled call")
	cc.release()

	released := newCC(t.Context())
	released.release() // never armed: a batch that holds it still sees it done
	waitDone(t, released, "released before arming")
	if !errors.Is(released.Err(), context.Canceled) {
		t.Errorf("released Err = %v, want Canceled", released.Err())
	}

	// Err, unarmed, answers as the armed context would: the parent's
	// cancellation, and DeadlineExceeded once the deadline is past, and Done
	// then agrees with it.
	canceledParent, cancelIt := context.WithCancel(t.Context())
	cancelIt()
	if err := newCC(canceledParent).Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err under a canceled parent = %v, want Canceled", err)
	}
	late := &callContext{Context: t.Context(), deadline: time.Now().Add(-time.Millisecond)}
	if err := late.Err(); !errors.Is(err, context.DeadlineExceeded) || late.hasArmed.Load() {
		t.Errorf("Err past the deadline = %v (armed %v), want DeadlineExceeded unarmed", err, late.hasArmed.Load())
	}
	waitDone(t, late, "past its deadline")
	if err := late.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err past the deadline, armed = %v, want DeadlineExceeded", err)
	}
	late.release()

	early, cancelEarly := context.WithTimeout(t.Context(), time.Second)
	defer cancelEarly()
	ed, _ := early.Deadline()
	if d, _ := newCC(early).Deadline(); !d.Equal(ed) {
		t.Errorf("Deadline under an earlier parent deadline = %v, want %v", d, ed)
	}
}
