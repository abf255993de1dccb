package sessions_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// rawID is the 16 raw bytes of a session id's random part: the start of its
// field names in the tag's hash (lua/layout.lua).
func rawID(t *testing.T, id string) string {
	t.Helper()
	b, err := hex.DecodeString(id[8:])
	if err != nil || len(b) != 16 {
		t.Fatalf("session id %q: %v", id, err)
	}
	return string(b)
}

// TestRedisTagCollision: two users whose tags collide share one hash but
// never see, count, evict, list or revoke each other's sessions. The pair
// is real: a birthday search over "user0", "user1", … (SHA-256, first 32
// bits) found it after 118,757 names, once, offline.
func TestRedisTagCollision(t *testing.T) {
	t.Parallel()
	const a, b = "user90137", "user118756"
	if sessions.UserTag(a) != sessions.UserTag(b) {
		t.Fatalf("UserTag(%q) = %s, UserTag(%q) = %s; want equal", a, sessions.UserTag(a), b, sessions.UserTag(b))
	}
	srv, client, ctx := standalone(t)
	clock := sessionstest.NewClock(time.Now())
	opts := testOptions()
	opts.MaxPerUser, opts.Now = 2, clock.Now
	store := sessions.NewRedisStore(client, "col:", opts)
	create := func(user string) string {
		t.Helper()
		clock.Advance(time.Second) // a strict LRU order
		c, err := store.Create(ctx, sessions.NewSession{User: user, PasswordFingerprint: "fp-" + user})
		if err != nil || len(c.Evicted) != 0 {
			t.Fatalf("Create(%q) = %v evicted, %v; want none evicted (the other user's do not count)", user, c.Evicted, err)
		}
		return c.Session.ID
	}
	a1, b1, a2, b2 := create(a), create(b), create(a), create(b)
	list := func(user string) []string {
		t.Helper()
		l, err := store.List(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range l {
			if s.User != user {
				t.Errorf("List(%q) holds a session of %q", user, s.User)
			}
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	if got, want := list(a), sorted(a1, a2); !slices.Equal(got, want) {
		t.Fatalf("List(%q) = %v, want %v", a, got, want)
	}
	if keys := keysOf(t, srv.Addr, "col:"); len(keys) != 1 {
		t.Fatalf("keys = %v, want one hash for both users", keys)
	}
	for _, tc := range []struct{ user, id string }{{b, a1}, {a, b1}} {
		if _, err := store.Validate(ctx, tc.user, tc.id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Validate(%q, other user's id) = %v, want ErrNotFound", tc.user, err)
		}
		if err := store.Revoke(ctx, tc.user, tc.id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Revoke(%q, other user's id) = %v, want ErrNotFound", tc.user, err)
		}
		if _, err := store.ProviderTokens(ctx, tc.user, tc.id); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("ProviderTokens(%q, other user's id) = %v, want ErrNotFound", tc.user, err)
		}
	}
	// a's third login evicts a's least recently used session, not b's older one.
	clock.Advance(time.Second)
	c, err := store.Create(ctx, sessions.NewSession{User: a})
	if err != nil || !slices.Equal(c.Evicted, []string{a1}) {
		t.Fatalf("Create(%q) evicted %v, %v; want [%s] (its own oldest)", a, c.Evicted, err, a1)
	}
	a3 := c.Session.ID
	if got, want := list(b), sorted(b1, b2); !slices.Equal(got, want) {
		t.Fatalf("List(%q) after %q's eviction = %v, want %v", b, a, got, want)
	}
	ended, err := store.RevokeUser(ctx, a)
	if err != nil || !slices.Equal(sorted(ended...), sorted(a2, a3)) {
		t.Fatalf("RevokeUser(%q) = %v, %v; want %v", a, ended, err, sorted(a2, a3))
	}
	for _, id := range []string{b1, b2} {
		if s, err := store.Validate(ctx, b, id); err != nil || s.PasswordFingerprint != "fp-"+b {
			t.Fatalf("Validate(%q) after RevokeUser(%q) = %+v, %v; want b's session", b, a, s, err)
		}
	}
	if got := list(a); len(got) != 0 {
		t.Fatalf("List(%q) after RevokeUser = %v, want none", a, got)
	}
}

// TestRedisCreateRefusesLongInput: both stores refuse a user name or
// fingerprint the Redis record cannot hold (its length is one byte), and
// accept the longest one it can.
func TestRedisCreateRefusesLongInput(t *testing.T) {
	t.Parallel()
	_, client, ctx := standalone(t)
	for _, st := range []struct {
		name  string
		store sessionstest.Store
	}{
		{"memory", sessions.NewMemoryStore(testOptions())},
		{"redis", sessions.NewRedisStore(client, "long:", testOptions())},
	} {
		for _, tc := range []struct {
			name string
			n    sessions.NewSession
			want error
		}{
			{"user 255", sessions.NewSession{User: strings.Repeat("u", 255)}, sessions.ErrInvalidInput},
			{"fingerprint 255", sessions.NewSession{User: "alice", PasswordFingerprint: strings.Repeat("f", 255)}, sessions.ErrInvalidInput},
			{"both 254", sessions.NewSession{User: strings.Repeat("u", 254), PasswordFingerprint: strings.Repeat("f", 254), UserAgent: strings.Repeat("a", 600)}, nil},
		} {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				c, err := st.store.Create(ctx, tc.n)
				if !errors.Is(err, tc.want) || (tc.want != nil) != (err != nil) {
					t.Fatalf("Create() error = %v, want %v", err, tc.want)
				}
				if err != nil {
					return
				}
				s, err := st.store.Validate(ctx, tc.n.User, c.Session.ID)
				if err != nil || s.PasswordFingerprint != tc.n.PasswordFingerprint || s.UserAgent != tc.n.UserAgent[:512] {
					t.Fatalf("Validate() = %+v, %v; want the whole record back", s, err)
				}
			})
		}
	}
}

// oldSession writes one session of the previous layout with the raw
// client, exactly as the old create.lua did (git show
// eb373a2:sessions/lua/create.lua): hash <prefix>{tag}:s:<sid> with u c l ip
// ua ub fp h, its PEXPIRE, and the user's index <prefix>{tag}:u:<user>.
// rotated adds what the old refresh.lua wrote (h p n r, l = rotation time):
// the returned tokens are then (previous, current).
type oldWriter struct {
	t      *testing.T
	ctx    context.Context
	client redis.UniversalClient
	prefix string
	now    int64
}

type oldSession struct{ id, token, previous string }

func (w oldWriter) write(user string, rotated bool) oldSession {
	w.t.Helper()
	var r [16]byte
	rand.Read(r[:])
	id := sessions.UserTag(user) + hex.EncodeToString(r[:])
	secret := make([]byte, 32)
	rand.Read(secret)
	base := w.prefix + "{" + sessions.UserTag(user) + "}:"
	key, index := base+"s:"+id, base+"u:"+user
	ua := benchLogin.UserAgent
	h := sha256.Sum256(secret)
	fields := []any{"u", user, "c", w.now, "l", w.now, "ip", benchLogin.IP, "ua", ua[:64], "ub", ua[64:],
		"fp", benchLogin.PasswordFingerprint, "h", h[:]}
	s := oldSession{id: id, token: id + "." + base64.RawURLEncoding.EncodeToString(secret)}
	if rotated {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		m := hmac.New(sha256.New, sessionstest.DeriveKey)
		m.Write(secret)
		m.Write(nonce)
		next := m.Sum(nil)
		nh := sha256.Sum256(next)
		fields = append(fields, "h", nh[:], "p", h[:], "n", nonce, "r", w.now)
		s.previous, s.token = s.token, id+"."+base64.RawURLEncoding.EncodeToString(next)
	}
	ttl := time.Hour
	pipe := w.client.TxPipeline()
	pipe.HSet(w.ctx, key, fields...)
	pipe.PExpire(w.ctx, key, ttl)
	pipe.ZAdd(w.ctx, index, redis.Z{Score: float64(w.now), Member: id})
	pipe.PExpire(w.ctx, index, ttl)
	if _, err := pipe.Exec(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	return s
}

// TestRedisUpgrade: records of the previous layout keep working after an
// upgrade; their first use moves them into the tag's hash and deletes the
// old keys.
func TestRedisUpgrade(t *testing.T) {
	t.Parallel()
	srv, client, ctx := standalone(t)
	clock := sessionstest.NewClock(time.Now())
	opts := testOptions()
	opts.Now = clock.Now
	const prefix = "up:"
	store := sessions.NewRedisStore(client, prefix, opts)
	w := oldWriter{t: t, ctx: ctx, client: client, prefix: prefix, now: clock.Now().UnixMilli()}
	alice := make([]oldSession, 6)
	for i := range alice {
		alice[i] = w.write("alice", i == 1)
	}
	bob := []oldSession{w.write("bob", false), w.write("bob", true)}
	carol := make([]oldSession, 5)
	for i := range carol {
		carol[i] = w.write("carol", false)
	}
	gone := func(what, id string) {
		t.Helper()
		if n, err := client.Exists(ctx, prefix+"{"+id[:8]+"}:s:"+id).Result(); err != nil || n != 0 {
			t.Errorf("%s: old record of %s still there (%d, %v)", what, id, n, err)
		}
	}

	s, err := store.Validate(ctx, "alice", alice[0].id)
	if err != nil || s.UserAgent != benchLogin.UserAgent || s.IP != benchLogin.IP ||
		s.PasswordFingerprint != benchLogin.PasswordFingerprint || s.CreatedAt.UnixMilli() != w.now {
		t.Fatalf("Validate(old session) = %+v, %v; want its record", s, err)
	}
	gone("Validate", alice[0].id)
	if _, err := store.Validate(ctx, "alice", alice[0].id); err != nil {
		t.Fatalf("Validate(moved session) = %v", err)
	}

	// Grace: the previous secret gets the current token again; after grace, reuse.
	r, err := store.Refresh(ctx, alice[1].previous)
	if err != nil || !r.Grace || r.RefreshToken != alice[1].token {
		t.Fatalf("Refresh(old previous within grace) = %+v, %v; want Grace and the current token", r, err)
	}
	gone("Refresh", alice[1].id)
	clock.Advance(31 * time.Second)
	if _, err := store.Refresh(ctx, alice[1].previous); !errors.Is(err, sessions.ErrReused) {
		t.Fatalf("Refresh(old previous after grace) = %v, want ErrReused", err)
	}
	if r, err := store.Refresh(ctx, alice[2].token); err != nil || r.Grace {
		t.Fatalf("Refresh(old current) = %+v, %v; want a rotation", r, err)
	} else if _, err := store.Refresh(ctx, r.RefreshToken); err != nil {
		t.Fatalf("Refresh(rotated) = %v", err)
	}
	if s, err := store.RevokeByRefreshToken(ctx, alice[3].token); err != nil || s.ID != alice[3].id {
		t.Fatalf("RevokeByRefreshToken(old) = %+v, %v", s, err)
	}
	gone("RevokeByRefreshToken", alice[3].id)
	if err := store.Revoke(ctx, "alice", alice[4].id); err != nil {
		t.Fatalf("Revoke(old) = %v", err)
	}
	gone("Revoke", alice[4].id)
	list, err := store.List(ctx, "alice")
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	want := []string{alice[0].id, alice[2].id, alice[5].id}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("List(alice) = %v, %v; want %v", ids, err, want)
	}
	gone("List", alice[5].id)

	ended, err := store.RevokeUser(ctx, "bob")
	slices.Sort(ended)
	want = []string{bob[0].id, bob[1].id}
	slices.Sort(want)
	if err != nil || !slices.Equal(ended, want) {
		t.Fatalf("RevokeUser(bob) = %v, %v; want %v", ended, err, want)
	}

	// A provider session's sealed tokens are readable before anything moved
	// it (a sign-out asks for them first), only by its user, only while live.
	dave := w.write("dave", false)
	daveKey := prefix + "{" + dave.id[:8] + "}:s:" + dave.id
	if err := client.HSet(ctx, daveKey, "o", `{"p":"idp"}`, "ot", "sealed-tokens").Err(); err != nil {
		t.Fatal(err)
	}
	if tok, err := store.ProviderTokens(ctx, "dave", dave.id); err != nil || string(tok) != "sealed-tokens" {
		t.Fatalf("ProviderTokens(old provider session) = %q, %v; want its tokens", tok, err)
	}
	if _, err := store.ProviderTokens(ctx, "erin", dave.id); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("ProviderTokens(another user, old session) = %v, want ErrNotFound", err)
	}

	// Create moves carol's five, then evicts the least recently used one.
	c, err := store.Create(ctx, sessions.NewSession{User: "carol"})
	if err != nil || len(c.Evicted) != 1 {
		t.Fatalf("Create(carol) evicted %v, %v; want one of the five old sessions", c.Evicted, err)
	}
	if l, err := store.List(ctx, "carol"); err != nil || len(l) != 5 {
		t.Fatalf("List(carol) = %d sessions, %v; want 5", len(l), err)
	}
	clock.Advance(time.Hour) // dave's old record is idle past its end
	if _, err := store.ProviderTokens(ctx, "dave", dave.id); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("ProviderTokens(expired old session) = %v, want ErrNotFound", err)
	}
	client.Del(ctx, daveKey, prefix+"{"+dave.id[:8]+"}:u:dave") // never used again: they would expire by their TTLs
	for _, k := range keysOf(t, srv.Addr, prefix) {
		if strings.Contains(k, "}:s:") || strings.Contains(k, "}:u:") {
			t.Errorf("old key %s remains", k)
		}
	}
}
