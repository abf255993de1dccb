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

func testFailures(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	const window = time.Minute
	record := func(key string, want int) {
		t.Helper()
		if n, err := e.store.RecordFailure(e.ctx, key, window); err != nil || n != want {
			t.Fatalf("RecordFailure(%.20q) = %d, %v, want %d", key, n, err, want)
		}
	}
	count := func(key string, want int, wantRetry time.Duration) {
		t.Helper()
		n, retry, err := e.store.Failures(e.ctx, key, window)
		if err != nil || n != want || retry != wantRetry {
			t.Fatalf("Failures(%.20q) = %d, %v, %v, want %d, %v", key, n, retry, err, want, wantRetry)
		}
	}
	count("user:alice", 0, 0)
	record("user:alice", 1)
	e.clock.Advance(10 * time.Second)
	record("user:alice", 2)
	e.clock.Advance(10 * time.Second)
	record("user:alice", 3)
	count("user:alice", 3, 40*time.Second) // the first leaves the window at +60s
	record("ip:192.0.2.7", 1)
	e.clock.Advance(40 * time.Second) // the first is exactly one window old: out
	count("user:alice", 2, 10*time.Second)
	record("user:alice", 3)
	e.clock.Advance(window)
	count("user:alice", 0, 0)
	count("ip:192.0.2.7", 0, 0)

	// Hostile keys (client-controlled text inside) stay separate from each
	// other and from a plain key.
	hostile := []string{"user:{alice}", "user:" + strings.Repeat("a", 100000), "user:\x00\r\n", "user:ǎlice", "user:alice "}
	for i, k := range hostile {
		for range i + 1 {
			e.store.RecordFailure(e.ctx, k, window)
		}
	}
	for i, k := range hostile {
		count(k, i+1, window)
	}
	count("user:alice", 0, 0)
}

func testCanceledContext(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	checks := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := e.store.Create(ctx, sessions.NewSession{User: "alice"}); return err }},
		{"Validate", func() error { _, err := e.store.Validate(ctx, "alice", c.Session.ID); return err }},
		{"Refresh", func() error { _, err := e.store.Refresh(ctx, c.RefreshToken); return err }},
		{"RevokeByRefreshToken", func() error { _, err := e.store.RevokeByRefreshToken(ctx, c.RefreshToken); return err }},
		{"Revoke", func() error { return e.store.Revoke(ctx, "alice", c.Session.ID) }},
		{"RevokeUser", func() error { _, err := e.store.RevokeUser(ctx, "alice"); return err }},
		{"List", func() error { _, err := e.store.List(ctx, "alice"); return err }},
		{"RecordFailure", func() error { _, err := e.store.RecordFailure(ctx, "k", time.Minute); return err }},
		{"Failures", func() error { _, _, err := e.store.Failures(ctx, "k", time.Minute); return err }},
		{"Ping", func() error { return e.store.Ping(ctx) }},
	}
	for _, tc := range checks {
		if err := tc.call(); !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("%s(canceled ctx) error = %v, want ErrUnavailable", tc.name, err)
		}
	}
	e.mustValidate("alice", c.Session.ID) // nothing changed
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
