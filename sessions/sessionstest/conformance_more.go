package sessionstest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// Call is one store method bound to its arguments, for tests that check
// every method alike (a canceled context, a server that is down).
type Call struct {
	Name string
	Do   func(ctx context.Context) error
}

// EveryMethod returns one call of each store method, aimed at c (a session
// of c.Session.User) so that a working store would change or return it.
func EveryMethod(s Store, c sessions.Created) []Call {
	user, id, tok := c.Session.User, c.Session.ID, c.RefreshToken
	return []Call{
		{"Create", func(ctx context.Context) error { _, err := s.Create(ctx, sessions.NewSession{User: user}); return err }},
		{"Validate", func(ctx context.Context) error { _, err := s.Validate(ctx, user, id); return err }},
		{"Refresh", func(ctx context.Context) error { _, err := s.Refresh(ctx, tok); return err }},
		{"RevokeByRefreshToken", func(ctx context.Context) error { _, err := s.RevokeByRefreshToken(ctx, tok); return err }},
		{"Revoke", func(ctx context.Context) error { return s.Revoke(ctx, user, id) }},
		{"RevokeUser", func(ctx context.Context) error { _, err := s.RevokeUser(ctx, user); return err }},
		{"List", func(ctx context.Context) error { _, err := s.List(ctx, user); return err }},
		{"ReserveLogin", func(ctx context.Context) error { _, err := s.ReserveLogin(ctx, attempt(user, "192.0.2.1")); return err }},
		{"ReleaseLogin", func(ctx context.Context) error {
			// Reserve regardless of ctx, so that the release itself meets it.
			r, err := s.ReserveLogin(context.WithoutCancel(ctx), attempt(user, "192.0.2.1"))
			if err != nil {
				return err
			}
			return s.ReleaseLogin(ctx, r)
		}},
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
	}
}

func testCanceledContext(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	for _, call := range EveryMethod(e.store, c) {
		if err := call.Do(ctx); !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("%s(canceled ctx) error = %v, want ErrUnavailable", call.Name, err)
		}
	}
	e.mustValidate("alice", c.Session.ID) // nothing changed
}

// testRejectedChangeNothing: a refresh or logout with a secret that is
// neither the current nor the previous one, and a revoke or validate by
// another user, change nothing: not last_used_at, not the expiry, not the
// refresh state (SPEC §4: nobody can revoke or extend a session by guessing).
func testRejectedChangeNothing(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	e.clock.Advance(time.Minute)
	r1 := e.mustRefresh(c.RefreshToken)
	e.clock.Advance(time.Minute)
	r2 := e.mustRefresh(r1.RefreshToken) // c's secret is now two rotations old
	e.clock.Advance(10 * touch)          // past touch_interval and refresh_grace
	before, err := e.store.List(e.ctx, "alice")
	if err != nil || len(before) != 1 {
		t.Fatalf("List(alice) = %v, %v, want one session", before, err)
	}
	sid := c.Session.ID
	for _, tok := range []string{c.RefreshToken, sid + "." + randomSecret(), strings.ToUpper(r2.RefreshToken)} {
		_, err := e.store.Refresh(e.ctx, tok)
		wantErr(t, "Refresh(unknown secret)", err, sessions.ErrInvalidGrant)
		_, err = e.store.RevokeByRefreshToken(e.ctx, tok)
		wantErr(t, "RevokeByRefreshToken(unknown secret)", err, sessions.ErrInvalidGrant)
	}
	wantErr(t, "Revoke(bob, alice's id)", e.store.Revoke(e.ctx, "bob", sid), sessions.ErrNotFound)
	_, err = e.store.Validate(e.ctx, "bob", sid)
	wantErr(t, "Validate(bob, alice's id)", err, sessions.ErrNotFound)
	after, err := e.store.List(e.ctx, "alice")
	if err != nil || len(after) != 1 || !equalSession(after[0], before[0]) {
		t.Fatalf("List(alice) after rejected calls = %+v, %v; want %+v unchanged", after, err, before)
	}
	// The refresh state did not move either: the previous secret is still
	// "previous after grace" (reuse), not two rotations old.
	_, err = e.store.Refresh(e.ctx, r1.RefreshToken)
	wantErr(t, "Refresh(previous after grace)", err, sessions.ErrReused)
}

func testParallelLogins(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, func(o *sessions.Options) { o.MaxPerUser = 3 })
	const logins = 40
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		evicted []string
		errs    []error
	)
	for range logins {
		wg.Go(func() {
			c, err := e.store.Create(e.ctx, sessions.NewSession{User: "alice"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			created = append(created, c.Session.ID)
			evicted = append(evicted, c.Evicted...)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Create() errors: %v", errs)
	}
	live := e.ids("alice")
	if len(live) != 3 {
		t.Fatalf("List() after %d parallel logins = %d sessions, want 3", logins, len(live))
	}
	// Every created session is either live or was evicted exactly once.
	all := append(slices.Clone(live), evicted...)
	slices.Sort(all)
	slices.Sort(created)
	if !slices.Equal(all, created) {
		t.Fatalf("live %d + evicted %d do not partition the %d created sessions", len(live), len(evicted), len(created))
	}
	for _, id := range live {
		e.mustValidate("alice", id)
	}
}

func testParallelRefreshes(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	const n = 20
	results := make([]sessions.Refreshed, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = e.store.Refresh(e.ctx, c.RefreshToken) })
	}
	wg.Wait()
	rotations := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Refresh() #%d error = %v", i, errs[i])
		}
		if !results[i].Grace {
			rotations++
		}
		if results[i].RefreshToken != results[0].RefreshToken {
			t.Fatalf("parallel refreshes returned different tokens")
		}
	}
	if rotations != 1 {
		t.Fatalf("%d rotations among %d parallel refreshes, want exactly 1", rotations, n)
	}
	e.mustValidate("alice", c.Session.ID)
	if r := e.mustRefresh(results[0].RefreshToken); r.Grace {
		t.Fatalf("Refresh(the shared new token) did not rotate")
	}
}

func testRevokeRacesRefresh(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	for i := range 10 {
		c := e.create("alice")
		var (
			wg        sync.WaitGroup
			refreshed sessions.Refreshed
			rerr      error
			verr      error
		)
		wg.Go(func() { refreshed, rerr = e.store.Refresh(e.ctx, c.RefreshToken) })
		wg.Go(func() {
			if i%2 == 0 {
				verr = e.store.Revoke(e.ctx, "alice", c.Session.ID)
			} else {
				_, verr = e.store.RevokeByRefreshToken(e.ctx, c.RefreshToken)
			}
		})
		wg.Wait()
		if verr != nil {
			t.Fatalf("revoke #%d error = %v", i, verr)
		}
		if rerr != nil && !errors.Is(rerr, sessions.ErrNotFound) {
			t.Fatalf("Refresh() racing revoke #%d error = %v, want nil or ErrNotFound", i, rerr)
		}
		e.wantGone("alice", c.Session.ID)
		if rerr == nil {
			_, err := e.store.Refresh(e.ctx, refreshed.RefreshToken)
			wantErr(t, "Refresh(token from the race)", err, sessions.ErrNotFound)
		}
	}
}

func testMaxPerUser(t *testing.T, newStore NewStoreFunc) {
	t.Run("evicts least recently used", func(t *testing.T) {
		e := setup(t, newStore, func(o *sessions.Options) { o.MaxPerUser = 2 })
		a := e.create("alice").Session.ID
		e.clock.Advance(time.Second)
		b := e.create("alice").Session.ID
		e.clock.Advance(2 * time.Minute)
		e.mustValidate("alice", a) // a is now more recent than b
		c := e.create("alice")
		if !slices.Equal(c.Evicted, []string{b}) {
			t.Fatalf("Create().Evicted = %v, want [%s]", c.Evicted, b)
		}
		e.wantGone("alice", b)
		if got, want := e.ids("alice"), []string{c.Session.ID, a}; !slices.Equal(got, want) {
			t.Fatalf("List() = %v, want %v", got, want)
		}
		e.create("bob") // other users do not count
		if got := e.ids("alice"); len(got) != 2 {
			t.Fatalf("List(alice) = %v, want 2 sessions", got)
		}
	})
	t.Run("expired sessions are pruned, not evicted", func(t *testing.T) {
		e := setup(t, newStore, func(o *sessions.Options) { o.MaxPerUser = 2 })
		e.create("alice")
		e.clock.Advance(50 * time.Minute)
		b := e.create("alice").Session.ID
		e.clock.Advance(20 * time.Minute) // the first idled out
		c := e.create("alice")
		if len(c.Evicted) != 0 {
			t.Fatalf("Create().Evicted = %v, want none", c.Evicted)
		}
		if got, want := e.ids("alice"), []string{c.Session.ID, b}; !slices.Equal(got, want) {
			t.Fatalf("List() = %v, want %v", got, want)
		}
	})
	t.Run("zero is unlimited", func(t *testing.T) {
		e := setup(t, newStore, func(o *sessions.Options) { o.MaxPerUser = 0 })
		for range 12 {
			if c := e.create("alice"); len(c.Evicted) != 0 {
				t.Fatalf("Create().Evicted = %v, want none", c.Evicted)
			}
		}
		if got := e.ids("alice"); len(got) != 12 {
			t.Fatalf("List() has %d sessions, want 12", len(got))
		}
	})
	t.Run("max one", func(t *testing.T) {
		e := setup(t, newStore, func(o *sessions.Options) { o.MaxPerUser = 1 })
		a := e.create("alice")
		b := e.create("alice")
		if !slices.Equal(b.Evicted, []string{a.Session.ID}) {
			t.Fatalf("Create().Evicted = %v, want [%s]", b.Evicted, a.Session.ID)
		}
		_, err := e.store.Refresh(e.ctx, a.RefreshToken)
		wantErr(t, "Refresh(evicted)", err, sessions.ErrNotFound)
	})
}

func testMetadataBounded(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	ua := strings.Repeat("é", 10000) // 2 bytes each: a cut must not split one
	c, err := e.store.Create(e.ctx, sessions.NewSession{User: "alice", IP: strings.Repeat("1", 1000), UserAgent: ua})
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	s := e.mustValidate("alice", c.Session.ID)
	if len(s.UserAgent) > 512 || len(s.IP) > 64 || !strings.HasPrefix(ua, s.UserAgent) || len(s.UserAgent) < 500 {
		t.Fatalf("stored user agent %d bytes, ip %d bytes; want ≤ 512 and ≤ 64, a prefix of the input", len(s.UserAgent), len(s.IP))
	}
	// Binary-unsafe bytes survive unchanged (the store is not a parser).
	odd := sessions.NewSession{User: "alice", IP: "2001:db8::1", UserAgent: "a\x00b\r\nc\xff{}\"'", PasswordFingerprint: "fp\x00"}
	c, err = e.store.Create(e.ctx, odd)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	list, err := e.store.List(e.ctx, "alice")
	for _, s := range list {
		if s.ID == c.Session.ID && (s.IP != odd.IP || s.UserAgent != odd.UserAgent || s.PasswordFingerprint != odd.PasswordFingerprint) {
			t.Fatalf("List() = %+v, want the metadata as given", s)
		}
	}
	if err != nil || len(list) != 2 {
		t.Fatalf("List() = %d sessions, %v; want 2", len(list), err)
	}
}

// testUserAgentRoundTrip: a user agent of any length up to the bound comes
// back byte for byte from every call that returns a record (the Redis store
// keeps it in 64-byte pieces; lengths around the piece size, a two-byte
// character and a NUL across a boundary, and the maximum).
func testUserAgentRoundTrip(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	uas := []string{"", "x", strings.Repeat("a", 63), strings.Repeat("b", 64), strings.Repeat("c", 65),
		strings.Repeat("d", 63) + "é" + strings.Repeat("e", 56), strings.Repeat("f", 64) + "\x00" + strings.Repeat("g", 63),
		strings.Repeat("h", 128), strings.Repeat("i", 129), strings.Repeat("j", 511) + "k"}
	for _, ua := range uas {
		c, err := e.store.Create(e.ctx, sessions.NewSession{User: "ua-user", IP: "192.0.2.1", UserAgent: ua, PasswordFingerprint: "fp"})
		if err != nil {
			t.Fatalf("Create(ua %d bytes) error = %v", len(ua), err)
		}
		want := func(what string, s sessions.Session) {
			t.Helper()
			if s.UserAgent != ua || s.PasswordFingerprint != "fp" || s.IP != "192.0.2.1" {
				t.Fatalf("%s: user agent %d bytes %q (fp %q, ip %q), want %d bytes %q", what,
					len(s.UserAgent), s.UserAgent, s.PasswordFingerprint, s.IP, len(ua), ua)
			}
		}
		want("Validate", e.mustValidate("ua-user", c.Session.ID))
		list, err := e.store.List(e.ctx, "ua-user")
		if err != nil || len(list) != 1 {
			t.Fatalf("List() = %d sessions, %v; want 1", len(list), err)
		}
		want("List", list[0])
		r := e.mustRefresh(c.RefreshToken)
		want("Refresh", r.Session)
		s, err := e.store.RevokeByRefreshToken(e.ctx, r.RefreshToken)
		if err != nil {
			t.Fatalf("RevokeByRefreshToken() error = %v", err)
		}
		want("RevokeByRefreshToken", s)
	}
}
