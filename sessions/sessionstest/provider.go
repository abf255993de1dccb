package sessionstest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// testProviderSessions: a session created through an identity provider
// carries its provider record through every read (validate, list, refresh,
// revoke by token); UpdateProvider changes roles and tokens together and
// only for a live provider session of that user.
func testProviderSessions(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	user := sessions.ProviderUser("corp", "subject-1")
	prov := sessions.Provider{Name: "corp", Subject: "subject-1", SID: "op-sid", Username: "carol",
		Roles: []string{"staff"}, RefreshedAt: e.clock.Now().Truncate(time.Millisecond).UTC()}
	c, err := e.store.Create(e.ctx, sessions.NewSession{User: user, IP: "192.0.2.1", UserAgent: "ua", Provider: prov, ProviderTokens: []byte("sealed\x00tokens")})
	if err != nil {
		t.Fatalf("Create(provider) error = %v", err)
	}
	check := func(where string, got sessions.Session, want sessions.Provider) {
		t.Helper()
		if got.Provider.Name != want.Name || got.Provider.Subject != want.Subject || got.Provider.SID != want.SID ||
			got.Provider.Username != want.Username || !slices.Equal(got.Provider.Roles, want.Roles) ||
			!got.Provider.RefreshedAt.Equal(want.RefreshedAt) {
			t.Errorf("%s: Provider = %+v, want %+v", where, got.Provider, want)
		}
	}
	check("Create", c.Session, prov)
	check("Validate", e.mustValidate(user, c.Session.ID), prov)
	list, err := e.store.List(e.ctx, user)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one session", list, err)
	}
	check("List", list[0], prov)
	if tok, err := e.store.ProviderTokens(e.ctx, user, c.Session.ID); err != nil || string(tok) != "sealed\x00tokens" {
		t.Errorf("ProviderTokens = %q, %v; want the sealed tokens", tok, err)
	}
	if _, err := e.store.ProviderTokens(e.ctx, "carol", c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("ProviderTokens(another user) error = %v, want ErrNotFound", err)
	}

	next := prov
	next.Roles, next.RefreshedAt = []string{"admin", "staff"}, prov.RefreshedAt.Add(5*time.Minute)
	if err := e.store.UpdateProvider(e.ctx, user, c.Session.ID, next, []byte("new")); err != nil {
		t.Fatalf("UpdateProvider error = %v", err)
	}
	check("Validate after update", e.mustValidate(user, c.Session.ID), next)
	if tok, _ := e.store.ProviderTokens(e.ctx, user, c.Session.ID); string(tok) != "new" {
		t.Errorf("ProviderTokens after update = %q, want new", tok)
	}
	r := e.mustRefresh(c.RefreshToken)
	check("Refresh", r.Session, next)

	local := e.create("dave")
	for name, call := range map[string]func() error{
		"local session": func() error { return e.store.UpdateProvider(e.ctx, "dave", local.Session.ID, next, nil) },
		"another user":  func() error { return e.store.UpdateProvider(e.ctx, "dave", c.Session.ID, next, nil) },
		"zero provider": func() error { return e.store.UpdateProvider(e.ctx, user, c.Session.ID, sessions.Provider{}, nil) },
	} {
		if err := call(); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("UpdateProvider(%s) error = %v, want ErrNotFound", name, err)
		}
	}
	if s := e.mustValidate("dave", local.Session.ID); !s.Provider.IsZero() {
		t.Errorf("local session Provider = %+v, want zero", s.Provider)
	}
	check("Validate after refused updates", e.mustValidate(user, c.Session.ID), next)

	revoked, err := e.store.RevokeByRefreshToken(e.ctx, r.RefreshToken)
	if err != nil {
		t.Fatalf("RevokeByRefreshToken error = %v", err)
	}
	check("RevokeByRefreshToken", revoked, next)
	if err := e.store.UpdateProvider(e.ctx, user, c.Session.ID, next, nil); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("UpdateProvider(revoked) error = %v, want ErrNotFound", err)
	}
	if sessions.IsProviderUser("carol") || !sessions.IsProviderUser(user) {
		t.Errorf("IsProviderUser mixes up local names and provider keys")
	}
}

// testProviderMarks: the refresh lock, the logout-token replay memory and
// the username claims are exclusive on the store (so on every replica), and
// the sid index finds the sessions of a provider session.
func testProviderMarks(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("erin")
	if ok, err := e.store.LockProviderRefresh(e.ctx, c.Session.ID, time.Minute); !ok || err != nil {
		t.Fatalf("first LockProviderRefresh = %v, %v; want true", ok, err)
	}
	if ok, err := e.store.LockProviderRefresh(e.ctx, c.Session.ID, time.Minute); ok || err != nil {
		t.Errorf("second LockProviderRefresh = %v, %v; want false", ok, err)
	}

	until := e.clock.Now().Add(2 * time.Minute)
	if ok, err := e.store.RememberLogoutToken(e.ctx, "corp", "jti-1", until); !ok || err != nil {
		t.Fatalf("RememberLogoutToken(new) = %v, %v; want true", ok, err)
	}
	for _, tc := range []struct{ provider, jti string }{{"corp", "jti-1"}} {
		if ok, err := e.store.RememberLogoutToken(e.ctx, tc.provider, tc.jti, until); ok || err != nil {
			t.Errorf("RememberLogoutToken(replay) = %v, %v; want false", ok, err)
		}
	}
	if ok, _ := e.store.RememberLogoutToken(e.ctx, "other", "jti-1", until); !ok {
		t.Errorf("RememberLogoutToken(same jti, other provider) = false, want true")
	}

	a, b := sessions.ProviderUser("corp", "a"), sessions.ProviderUser("corp", "b")
	steps := []struct {
		name, owner string
		want        bool
	}{{"carol", a, true}, {"carol", a, true}, {"carol", b, false}, {"frank", b, true}}
	for _, s := range steps {
		if ok, err := e.store.ClaimUsername(e.ctx, s.name, s.owner, time.Hour); ok != s.want || err != nil {
			t.Errorf("ClaimUsername(%q, %q) = %v, %v; want %v", s.name, s.owner, ok, err, s.want)
		}
	}

	for name, want := range map[string]string{"carol": a, "frank": b, "nobody": ""} {
		if got, err := e.store.UsernameOwner(e.ctx, name); got != want || err != nil {
			t.Errorf("UsernameOwner(%q) = %q, %v; want %q", name, got, err, want)
		}
	}

	user := sessions.ProviderUser("corp", "a")
	s1, s2 := e.create(user), e.create(user)
	for _, s := range []sessions.Created{s1, s2, s2} {
		if err := e.store.IndexProviderSID(e.ctx, "corp", "op-sid", user, s.Session.ID, time.Hour); err != nil {
			t.Fatalf("IndexProviderSID error = %v", err)
		}
	}
	refs, err := e.store.ProviderSIDSessions(e.ctx, "corp", "op-sid")
	want := []sessions.SessionRef{{User: user, ID: s1.Session.ID}, {User: user, ID: s2.Session.ID}}
	slices.SortFunc(want, func(x, y sessions.SessionRef) int {
		if x.ID < y.ID {
			return -1
		}
		return 1
	})
	if err != nil || !slices.Equal(refs, want) {
		t.Errorf("ProviderSIDSessions = %v, %v; want %v", refs, err, want)
	}
	if refs, _ := e.store.ProviderSIDSessions(e.ctx, "other", "op-sid"); len(refs) != 0 {
		t.Errorf("ProviderSIDSessions(other provider) = %v, want none", refs)
	}
}
