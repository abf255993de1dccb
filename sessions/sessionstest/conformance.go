package sessionstest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// Store is the method set the conformance suite exercises: the one both
// *sessions.MemoryStore and *sessions.RedisStore have.
type Store interface {
	Create(ctx context.Context, s sessions.NewSession) (sessions.Created, error)
	Validate(ctx context.Context, user, id string) (sessions.Session, error)
	Refresh(ctx context.Context, refreshToken string) (sessions.Refreshed, error)
	RevokeByRefreshToken(ctx context.Context, refreshToken string) (sessions.Session, error)
	Revoke(ctx context.Context, user, id string) error
	RevokeUser(ctx context.Context, user string) ([]string, error)
	List(ctx context.Context, user string) ([]sessions.Session, error)
	ReserveLogin(ctx context.Context, a sessions.LoginAttempt) (sessions.Reservation, error)
	ReleaseLogin(ctx context.Context, r sessions.Reservation) error
	Ping(ctx context.Context) error
	Close() error
	ProviderStore
}

// ProviderStore is the part of Store that identity-provider sessions use
// (SPEC §9).
type ProviderStore interface {
	ProviderTokens(ctx context.Context, user, id string) ([]byte, error)
	UpdateProvider(ctx context.Context, user, id string, p sessions.Provider, tokens []byte) error
	LockProviderRefresh(ctx context.Context, id string, ttl time.Duration) (bool, error)
	RememberLogoutToken(ctx context.Context, provider, jti string, until time.Time) (bool, error)
	ClaimUsername(ctx context.Context, username, owner string, ttl time.Duration) (bool, error)
	UsernameOwner(ctx context.Context, username string) (string, error)
	IndexProviderSID(ctx context.Context, provider, sid, user, id string, ttl time.Duration) error
	ProviderSIDSessions(ctx context.Context, provider, sid string) ([]sessions.SessionRef, error)
}

var (
	_ Store = (*sessions.MemoryStore)(nil)
	_ Store = (*sessions.RedisStore)(nil)
)

// NewStoreFunc returns a fresh, empty store with opts. Stores made for one
// test must not see each other's data (e.g. distinct Redis key prefixes).
type NewStoreFunc func(t *testing.T, opts sessions.Options) Store

// DeriveKey is the Options.DeriveKey the suite uses.
var DeriveKey = []byte("conformance-derive-key-0123456789abcdef")

// Lifetimes the suite uses unless a test says otherwise.
const (
	idle  = time.Hour
	abs   = 24 * time.Hour
	touch = time.Minute
	grace = 30 * time.Second
)

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	store Store
	opts  sessions.Options
}

func setup(t *testing.T, newStore NewStoreFunc, edit func(*sessions.Options)) *env {
	t.Helper()
	clock := NewClock(time.Now())
	opts := sessions.Options{
		IdleTimeout: idle, AbsoluteLifetime: abs, TouchInterval: touch, RefreshGrace: grace,
		DeriveKey: DeriveKey, Now: clock.Now,
	}
	if edit != nil {
		edit(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, clock: clock, store: newStore(t, opts), opts: opts}
}

func (e *env) create(user string) sessions.Created {
	e.t.Helper()
	c, err := e.store.Create(e.ctx, sessions.NewSession{User: user, IP: "192.0.2.7", UserAgent: "conformance/1", PasswordFingerprint: "fp-" + user})
	if err != nil {
		e.t.Fatalf("Create(%q) error = %v", user, err)
	}
	return c
}

func (e *env) mustValidate(user, id string) sessions.Session {
	e.t.Helper()
	s, err := e.store.Validate(e.ctx, user, id)
	if err != nil {
		e.t.Fatalf("Validate(%q, %q) error = %v, want nil", user, id, err)
	}
	return s
}

func (e *env) wantGone(user, id string) {
	e.t.Helper()
	if _, err := e.store.Validate(e.ctx, user, id); !errors.Is(err, sessions.ErrNotFound) {
		e.t.Fatalf("Validate(%q, %q) error = %v, want ErrNotFound", user, id, err)
	}
}

func (e *env) mustRefresh(tok string) sessions.Refreshed {
	e.t.Helper()
	r, err := e.store.Refresh(e.ctx, tok)
	if err != nil {
		e.t.Fatalf("Refresh() error = %v, want nil", err)
	}
	return r
}

func (e *env) ids(user string) []string {
	e.t.Helper()
	list, err := e.store.List(e.ctx, user)
	if err != nil {
		e.t.Fatalf("List(%q) error = %v", user, err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// wantErr checks errors.Is(err, want) and that err is not ErrUnavailable.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || (want != sessions.ErrUnavailable && errors.Is(err, sessions.ErrUnavailable)) {
		t.Fatalf("%s error = %v, want %v", what, err, want)
	}
}

// RunConformance runs the store contract against stores made by newStore.
// Every store implementation must pass it unchanged.
func RunConformance(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		run  func(*testing.T, NewStoreFunc)
	}{
		{"CreateValidate", testCreateValidate},
		{"ValidateRejects", testValidateRejects},
		{"TouchThrottled", testTouchThrottled},
		{"IdleTimeout", testIdleTimeout},
		{"AbsoluteLifetime", testAbsoluteLifetime},
		{"RefreshRotates", testRefreshRotates},
		{"RefreshGrace", testRefreshGrace},
		{"RefreshReuse", testRefreshReuse},
		{"RefreshHostile", testRefreshHostile},
		{"RefreshExpired", testRefreshExpired},
		{"RevokeByRefreshToken", testRevokeByRefreshToken},
		{"Revoke", testRevoke},
		{"RevokeUser", testRevokeUser},
		{"List", testList},
		{"MaxPerUser", testMaxPerUser},
		{"MetadataBounded", testMetadataBounded},
		{"UserAgentRoundTrip", testUserAgentRoundTrip},
		{"ThrottleWindow", testThrottleWindow},
		{"ThrottleUserThenIP", testThrottleUserThenIP},
		{"ThrottleHostile", testThrottleHostile},
		{"ThrottleParallel", testThrottleParallel},
		{"CanceledContext", testCanceledContext},
		{"RejectedChangeNothing", testRejectedChangeNothing},
		{"ParallelLogins", testParallelLogins},
		{"ParallelRefreshes", testParallelRefreshes},
		{"RevokeRacesRefresh", testRevokeRacesRefresh},
		{"ProviderSessions", testProviderSessions},
		{"ProviderMarks", testProviderMarks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore)
		})
	}
}

func testCreateValidate(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	now := e.clock.Now()
	c := e.create("alice")
	s := c.Session
	if len(s.ID) != 40 || !strings.HasPrefix(s.ID, sessions.UserTag("alice")) {
		t.Errorf("Create().Session.ID = %q, want 40 hex digits starting with %q", s.ID, sessions.UserTag("alice"))
	}
	id, secret, ok := strings.Cut(c.RefreshToken, ".")
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if !ok || id != s.ID || err != nil || len(raw) < 32 {
		t.Errorf("Create().RefreshToken = %q, want <sid>.<base64url secret of ≥ 32 bytes>", c.RefreshToken)
	}
	want := sessions.Session{ID: s.ID, User: "alice", CreatedAt: now, LastUsedAt: now, IP: "192.0.2.7",
		UserAgent: "conformance/1", PasswordFingerprint: "fp-alice", ExpiresAt: now.Add(idle)}
	if !equalSession(s, want) {
		t.Errorf("Create().Session = %+v, want %+v", s, want)
	}
	if len(c.Evicted) != 0 {
		t.Errorf("Create().Evicted = %v, want none", c.Evicted)
	}
	if got := e.mustValidate("alice", s.ID); !equalSession(got, want) {
		t.Errorf("Validate() = %+v, want %+v", got, want)
	}
	if strings.Contains(fmt.Sprintf("%+v %#v", s, s), secret) {
		t.Errorf("Session formats with the refresh secret")
	}
	c2 := e.create("alice")
	if c2.Session.ID == s.ID || c2.RefreshToken == c.RefreshToken {
		t.Errorf("two logins share an id or a token: %q %q", c2.Session.ID, s.ID)
	}
	if err := e.store.Ping(e.ctx); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

func equalSession(a, b sessions.Session) bool {
	return a.ID == b.ID && a.User == b.User && a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt) &&
		a.IP == b.IP && a.UserAgent == b.UserAgent && a.PasswordFingerprint == b.PasswordFingerprint &&
		a.ExpiresAt.Equal(b.ExpiresAt)
}

func testValidateRejects(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	id := e.create("alice").Session.ID
	e.create("bob")
	tag := sessions.UserTag("alice")
	cases := []struct{ name, user, id string }{
		{"other user", "bob", id},
		{"unknown id", "alice", tag + strings.Repeat("0", 32)},
		{"empty", "alice", ""},
		{"short", "alice", id[:39]},
		{"long", "alice", id + "0"},
		{"upper case", "alice", strings.ToUpper(id)},
		{"hash tag", "alice", tag + "{x}" + strings.Repeat("0", 29)},
		{"oversized", "alice", strings.Repeat(id, 1000)},
		{"binary", "alice", tag + strings.Repeat("\x00", 32)},
		{"empty user", "", id},
		{"user with braces", "{alice}", id},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.Validate(e.ctx, tc.user, tc.id)
			wantErr(t, "Validate", err, sessions.ErrNotFound)
			wantErr(t, "Revoke", e.store.Revoke(e.ctx, tc.user, tc.id), sessions.ErrNotFound)
		})
	}
	e.mustValidate("alice", id) // still there
}

func testTouchThrottled(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	t0 := e.clock.Now()
	id := e.create("alice").Session.ID
	e.clock.Advance(touch - time.Millisecond)
	if s := e.mustValidate("alice", id); !s.LastUsedAt.Equal(t0) || !s.ExpiresAt.Equal(t0.Add(idle)) {
		t.Fatalf("Validate() within touch_interval: LastUsedAt = %v, ExpiresAt = %v, want %v, %v", s.LastUsedAt, s.ExpiresAt, t0, t0.Add(idle))
	}
	e.clock.Advance(time.Millisecond)
	t1 := e.clock.Now()
	if s := e.mustValidate("alice", id); !s.LastUsedAt.Equal(t1) || !s.ExpiresAt.Equal(t1.Add(idle)) {
		t.Fatalf("Validate() after touch_interval: LastUsedAt = %v, ExpiresAt = %v, want %v, %v", s.LastUsedAt, s.ExpiresAt, t1, t1.Add(idle))
	}
	list, err := e.store.List(e.ctx, "alice")
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(t1) {
		t.Fatalf("List() = %+v, %v, want one session last used at %v", list, err, t1)
	}
}

func testIdleTimeout(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	e.clock.Advance(idle - time.Millisecond)
	e.mustValidate("alice", c.Session.ID) // touches: idle restarts
	e.clock.Advance(idle - time.Millisecond)
	e.mustValidate("alice", c.Session.ID)
	e.clock.Advance(idle)
	e.wantGone("alice", c.Session.ID)
	if ids := e.ids("alice"); len(ids) != 0 {
		t.Errorf("List() after idle timeout = %v, want none", ids)
	}
}

func testAbsoluteLifetime(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, func(o *sessions.Options) { o.AbsoluteLifetime = 3 * time.Hour })
	t0 := e.clock.Now()
	c := e.create("alice")
	for range 4 { // stay active: 4 × 50m = 3h20m
		e.clock.Advance(50 * time.Minute)
		if e.clock.Now().Sub(t0) >= 3*time.Hour {
			break
		}
		s := e.mustValidate("alice", c.Session.ID)
		if want := earliest(e.clock.Now().Add(idle), t0.Add(3*time.Hour)); !s.ExpiresAt.Equal(want) {
			t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
		}
	}
	e.wantGone("alice", c.Session.ID)
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func testRefreshRotates(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	e.clock.Advance(10 * time.Second) // less than touch_interval: a refresh still counts as use
	r1 := e.mustRefresh(c.RefreshToken)
	if r1.RefreshToken == c.RefreshToken || r1.Grace || sessions.SessionIDOf(r1.RefreshToken) != c.Session.ID {
		t.Fatalf("Refresh() = token changed %v, grace %v, sid %q; want a new token for %q, no grace",
			r1.RefreshToken != c.RefreshToken, r1.Grace, sessions.SessionIDOf(r1.RefreshToken), c.Session.ID)
	}
	if !r1.Session.LastUsedAt.Equal(e.clock.Now()) || r1.Session.User != "alice" || r1.Session.ID != c.Session.ID {
		t.Fatalf("Refresh().Session = %+v, want alice's session last used now", r1.Session)
	}
	e.clock.Advance(grace) // the grace window of the first rotation is over
	r2 := e.mustRefresh(r1.RefreshToken)
	if r2.RefreshToken == r1.RefreshToken || r2.Grace {
		t.Fatalf("second Refresh() did not rotate")
	}
	e.mustValidate("alice", c.Session.ID)
}

func testRefreshGrace(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	r1 := e.mustRefresh(c.RefreshToken)
	e.clock.Advance(grace - time.Millisecond)
	again := e.mustRefresh(c.RefreshToken)
	if !again.Grace || again.RefreshToken != r1.RefreshToken {
		t.Fatalf("Refresh(previous) within grace = grace %v, same token %v; want the token the rotation issued",
			again.Grace, again.RefreshToken == r1.RefreshToken)
	}
	r2 := e.mustRefresh(r1.RefreshToken) // the re-issued token is the live one
	// The first secret is now two rotations old: unknown, and changes nothing.
	_, err := e.store.Refresh(e.ctx, c.RefreshToken)
	wantErr(t, "Refresh(two rotations old)", err, sessions.ErrInvalidGrant)
	if errors.Is(err, sessions.ErrReused) || errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Refresh(two rotations old) error = %v, want plain ErrInvalidGrant", err)
	}
	e.mustValidate("alice", c.Session.ID)
	e.mustRefresh(r2.RefreshToken)
}

func testRefreshReuse(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	r1 := e.mustRefresh(c.RefreshToken)
	e.clock.Advance(grace)
	_, err := e.store.Refresh(e.ctx, c.RefreshToken)
	wantErr(t, "Refresh(previous after grace)", err, sessions.ErrReused)
	e.wantGone("alice", c.Session.ID)
	_, err = e.store.Refresh(e.ctx, r1.RefreshToken)
	wantErr(t, "Refresh(current of a reused session)", err, sessions.ErrNotFound)
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func testRefreshHostile(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	sid, secret, _ := strings.Cut(c.RefreshToken, ".")
	// The last character of 32 bytes in base64 has 2 unused low bits; setting
	// one gives a non-canonical spelling of the same secret.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	flip := string(alphabet[strings.IndexByte(alphabet, secret[len(secret)-1])+1])
	cases := []struct{ name, tok string }{
		{"unknown secret", sid + "." + randomSecret()},
		{"unknown session", sessions.UserTag("alice") + strings.Repeat("0", 32) + "." + secret},
		{"empty", ""},
		{"no secret", sid},
		{"empty secret", sid + "."},
		{"short secret", sid + "." + secret[:20]},
		{"padded", c.RefreshToken + "="},
		{"std alphabet", sid + ".+" + secret[1:]},
		{"non-canonical", sid + "." + secret[:len(secret)-1] + flip},
		{"upper-case sid", strings.ToUpper(sid) + "." + secret},
		{"two dots", sid + ".." + secret},
		{"oversized", c.RefreshToken + strings.Repeat("A", 100000)},
		{"binary", sid + "." + strings.Repeat("\xff", 43)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.Refresh(e.ctx, tc.tok)
			wantErr(t, "Refresh", err, sessions.ErrInvalidGrant)
			_, err = e.store.RevokeByRefreshToken(e.ctx, tc.tok)
			wantErr(t, "RevokeByRefreshToken", err, sessions.ErrInvalidGrant)
		})
	}
	// Nothing changed: the real token still rotates, with no grace involved.
	if r := e.mustRefresh(c.RefreshToken); r.Grace {
		t.Fatalf("Refresh(original) after hostile tokens: Grace = true, want a plain rotation")
	}
}

func testRefreshExpired(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	c := e.create("alice")
	e.clock.Advance(idle)
	_, err := e.store.Refresh(e.ctx, c.RefreshToken)
	wantErr(t, "Refresh(expired)", err, sessions.ErrNotFound)
	wantErr(t, "Refresh(expired)", err, sessions.ErrInvalidGrant)
}

func testRevokeByRefreshToken(t *testing.T, newStore NewStoreFunc) {
	t.Run("current", func(t *testing.T) {
		e := setup(t, newStore, nil)
		c := e.create("alice")
		s, err := e.store.RevokeByRefreshToken(e.ctx, c.RefreshToken)
		if err != nil || s.ID != c.Session.ID || s.User != "alice" {
			t.Fatalf("RevokeByRefreshToken() = %+v, %v, want alice's session", s, err)
		}
		e.wantGone("alice", c.Session.ID)
		_, err = e.store.RevokeByRefreshToken(e.ctx, c.RefreshToken)
		wantErr(t, "RevokeByRefreshToken(again)", err, sessions.ErrNotFound)
	})
	t.Run("previous after grace", func(t *testing.T) {
		e := setup(t, newStore, nil)
		c := e.create("alice")
		e.mustRefresh(c.RefreshToken)
		e.clock.Advance(2 * grace)
		if _, err := e.store.RevokeByRefreshToken(e.ctx, c.RefreshToken); err != nil {
			t.Fatalf("RevokeByRefreshToken(previous) error = %v", err)
		}
		e.wantGone("alice", c.Session.ID)
	})
	t.Run("unknown secret", func(t *testing.T) {
		e := setup(t, newStore, nil)
		c := e.create("alice")
		_, err := e.store.RevokeByRefreshToken(e.ctx, c.Session.ID+"."+randomSecret())
		wantErr(t, "RevokeByRefreshToken(unknown)", err, sessions.ErrInvalidGrant)
		e.mustValidate("alice", c.Session.ID)
	})
}

func testRevoke(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	a := e.create("alice")
	b := e.create("bob")
	wantErr(t, "Revoke(bob, alice's id)", e.store.Revoke(e.ctx, "bob", a.Session.ID), sessions.ErrNotFound)
	e.mustValidate("alice", a.Session.ID)
	if err := e.store.Revoke(e.ctx, "alice", a.Session.ID); err != nil {
		t.Fatalf("Revoke(alice) error = %v", err)
	}
	e.wantGone("alice", a.Session.ID)
	wantErr(t, "Revoke(again)", e.store.Revoke(e.ctx, "alice", a.Session.ID), sessions.ErrNotFound)
	_, err := e.store.Refresh(e.ctx, a.RefreshToken)
	wantErr(t, "Refresh(revoked)", err, sessions.ErrNotFound)
	e.mustValidate("bob", b.Session.ID)
	e.clock.Advance(idle)
	wantErr(t, "Revoke(expired)", e.store.Revoke(e.ctx, "bob", b.Session.ID), sessions.ErrNotFound)
}

func testRevokeUser(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	var want []string
	for range 3 {
		want = append(want, e.create("alice").Session.ID)
	}
	b := e.create("bob")
	got, err := e.store.RevokeUser(e.ctx, "alice")
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("RevokeUser(alice) = %v, %v, want %v", got, err, want)
	}
	for _, id := range want {
		e.wantGone("alice", id)
	}
	if ids := e.ids("alice"); len(ids) != 0 {
		t.Errorf("List(alice) = %v, want none", ids)
	}
	e.mustValidate("bob", b.Session.ID)
	if got, err := e.store.RevokeUser(e.ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("RevokeUser(nobody) = %v, %v, want none", got, err)
	}
}

func testList(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	if ids := e.ids("nobody"); len(ids) != 0 {
		t.Fatalf("List(nobody) = %v, want none", ids)
	}
	first := e.create("alice").Session.ID
	e.clock.Advance(time.Second)
	second := e.create("alice").Session.ID
	e.clock.Advance(time.Second)
	third := e.create("alice").Session.ID
	e.create("bob")
	e.clock.Advance(2 * time.Minute)
	e.mustValidate("alice", first) // touched: most recently used now
	if got, want := e.ids("alice"), []string{first, third, second}; !slices.Equal(got, want) {
		t.Fatalf("List(alice) = %v, want %v (last used, descending)", got, want)
	}
	e.clock.Advance(idle - time.Minute) // second and third idle out, first stays
	if got, want := e.ids("alice"), []string{first}; !slices.Equal(got, want) {
		t.Fatalf("List(alice) after idle = %v, want %v", got, want)
	}
}
