package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// The package's one test harness: a real gateway (New + its handler) behind
// a real listener, a recording upstream, a users file on disk, and either
// no session store, the memory store or a throwaway redis-server. Tests
// reach the gateway through HTTP; the few internals a test needs are read
// through the accessors at the end of this file.

// livenessBound caps every client round trip: a hang fails the test here,
// not at the 10-minute test timeout.
const livenessBound = 30 * time.Second

// testConfig returns a config holding every default plus routes.
func testConfig(routes ...config.Route) *config.Config {
	c := config.Default()
	c.Routes = routes
	return c
}

// testRoute returns a route with the per-route defaults.
func testRoute(name, prefix, upstream, auth string) config.Route {
	r := config.DefaultRoute()
	r.Name, r.PathPrefix, r.Upstream, r.Auth = name, prefix, upstream, auth
	return r
}

// authConfig is the default config of an env with a session store: routes
// of every auth kind towards upstream, Secure cookies, one redirect host.
func authConfig(upstream string) *config.Config {
	route := func(name, prefix, auth string, roles ...string) config.Route {
		r := testRoute(name, prefix, upstream, auth)
		r.Roles = roles
		return r
	}
	noCSRF := route("nocsrf", "/nocsrf", config.AuthRequired)
	noCSRF.CSRF = false
	c := testConfig(
		route("api", "/api", config.AuthRequired, "staff", "admin"),
		route("adminarea", "/adminarea", config.AuthRequired, "admin"),
		route("opt", "/opt", config.AuthOptional),
		route("pub", "/pub", config.AuthPublic),
		noCSRF,
		route("web", "/", config.AuthRequired),
	)
	c.Cookies.Secure = true
	c.Login.AllowedRedirectHosts = []string{"app.example.com"}
	return c
}

// testKey is the signing key of every env with a session store.
var testKey = config.Key{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("s", 32))}

// Test users (cheap argon2id hashes; the dummy hash for unknown users
// imitates them: users.Set picks the file's most common cost).
var testUsers = map[string]struct {
	password string
	roles    []string
	disabled bool
}{
	"alice": {"alice-password", []string{"admin", "staff"}, false},
	"bob":   {"bob-password", []string{"staff"}, false},
	"carol": {"carol-password", []string{"staff"}, true},
	"dave":  {"dave-password", nil, false},
}

var (
	testHashOnce sync.Once
	testHashes   map[string]string
)

func testHash(t testing.TB, password string) string {
	t.Helper()
	h, err := users.HashArgon2id(password, 64, 1, 1)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return h
}

// userEntry is one users-file entry as written by writeUsersFile.
type userEntry struct {
	hash     string
	roles    []string
	disabled bool
}

// writeUsersFile (re)writes the users file atomically; edit may change an
// entry or drop it (return false).
func writeUsersFile(t testing.TB, path string, edit func(name string, u *userEntry) bool) {
	t.Helper()
	testHashOnce.Do(func() {
		testHashes = map[string]string{}
		for name, u := range testUsers {
			testHashes[name] = testHash(t, u.password)
		}
	})
	var b strings.Builder
	b.WriteString("users:\n")
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		tu := testUsers[name]
		u := userEntry{hash: testHashes[name], roles: tu.roles, disabled: tu.disabled}
		if edit != nil && !edit(name, &u) {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    password_hash: %q\n    roles: [%s]\n    disabled: %t\n", name, u.hash, strings.Join(u.roles, ", "), u.disabled)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// seenRequest is what a recording upstream received.
type seenRequest struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
}

// recorder is an upstream that records every request and answers 200 "ok".
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seenRequest
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rc := &recorder{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.got = append(rc.got, seenRequest{r.Method, r.RequestURI, r.Host, r.Header.Clone()})
		rc.mu.Unlock()
		w.Header().Set("X-Request-ID", "upstream-id")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *recorder) requests() []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seenRequest(nil), rc.got...)
}

func (rc *recorder) count() int { return len(rc.requests()) }

// last returns the last request the upstream saw, failing if there was none.
func (rc *recorder) last(t *testing.T) seenRequest {
	t.Helper()
	got := rc.requests()
	if len(got) == 0 {
		t.Fatal("upstream saw no request")
	}
	return got[len(got)-1]
}

// storeKind is one session store a test runs against.
type storeKind struct {
	name string
	// start returns a function building a store over one shared backend
	// (two calls = two replicas of the same Redis), plus the redis handle.
	start func(t *testing.T) (func(opts sessions.Options) SessionStore, *sessionstest.Redis)
}

var (
	memoryStore = storeKind{"memory", func(t *testing.T) (func(sessions.Options) SessionStore, *sessionstest.Redis) {
		var once sync.Once
		var m *sessions.MemoryStore
		return func(opts sessions.Options) SessionStore {
			once.Do(func() { m = sessions.NewMemoryStore(opts) })
			return m
		}, nil
	}}
	redisStore = storeKind{"redis", func(t *testing.T) (func(sessions.Options) SessionStore, *sessionstest.Redis) {
		rs := sessionstest.StartRedis(t)
		return func(opts sessions.Options) SessionStore {
			client, err := sessions.NewRedisClient(config.Redis{
				Mode: config.RedisStandalone, Addrs: []string{rs.Addr},
				DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
				PoolSize: 8,
			})
			if err != nil {
				t.Fatalf("redis client: %v", err)
			}
			s := sessions.NewRedisStore(client, "portcullis-test:", opts)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}, rs
	}}
)

// forEachStore runs f against the memory store and a real redis-server.
func forEachStore(t *testing.T, f func(t *testing.T, sk storeKind)) {
	for _, sk := range []storeKind{memoryStore, redisStore} {
		t.Run(sk.name, func(t *testing.T) { f(t, sk) })
	}
}

// envOptions tunes one test gateway. The zero value is a gateway over
// authConfig with no session store (nobody can log in).
type envOptions struct {
	cfg  *config.Config       // the config; nil: authConfig towards env.up
	edit func(*config.Config) // applied to the config before New
	// store: the session store kind. With one, the env also gets the test
	// key (unless keys), the test users (unless users) and a clock.
	store   storeKind
	shared  func(sessions.Options) SessionStore // a second replica: another env's newStore
	sopts   func(o *sessions.Options)
	keys    *tokens.Keyset
	clock   *sessionstest.Clock
	users   *users.Store
	usersAt string
}

// env is one gateway under test.
type env struct {
	t         *testing.T
	g         *Gateway
	srv       *httptest.Server
	reg       *prometheus.Registry
	logs      *syncBuffer
	cfg       *config.Config
	keys      *tokens.Keyset
	store     SessionStore // raw, uninstrumented; nil without a store
	newStore  func(sessions.Options) SessionStore
	users     *users.Store
	usersPath string
	up        *recorder
	clock     *sessionstest.Clock
	redis     *sessionstest.Redis
}

// newEnv builds a gateway with New (logs at debug level into env.logs,
// metrics into a per-test registry) and serves it on a real listener.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, up: newRecorder(t), reg: prometheus.NewRegistry(), logs: &syncBuffer{}, clock: o.clock, cfg: o.cfg}
	if e.cfg == nil {
		e.cfg = authConfig(e.up.srv.URL)
	}
	if o.edit != nil {
		o.edit(e.cfg)
	}
	e.keys, e.users, e.usersPath = o.keys, o.users, o.usersAt
	if o.store.start != nil || o.shared != nil {
		e.setUpAuth(o)
	}
	opts := Options{
		Config:   e.cfg,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: e.reg,
		Build:    BuildInfo{Version: "v-test", Commit: "abc123"},
		Keys:     e.keys,
		Users:    e.users,
	}
	if e.store != nil {
		opts.Store = e.store
	}
	if e.clock != nil {
		opts.Now = e.clock.Now
	}
	g, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.g = g
	e.srv = httptest.NewServer(g)
	t.Cleanup(e.srv.Close)
	return e
}

// setUpAuth gives e the test key, users, clock and a session store.
func (e *env) setUpAuth(o envOptions) {
	t := e.t
	t.Helper()
	if e.clock == nil {
		e.clock = sessionstest.NewClock(time.Now())
	}
	if e.keys == nil {
		ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute, Leeway: 5 * time.Second,
			Keys: []config.Key{testKey}})
		if err != nil {
			t.Fatalf("tokens.New: %v", err)
		}
		e.keys = ks
	}
	e.cfg.Tokens.Keys = []config.Key{testKey}
	if e.users == nil {
		e.usersPath = filepath.Join(t.TempDir(), "users.yaml")
		writeUsersFile(t, e.usersPath, nil)
		us, err := users.NewStore(e.usersPath, config.Argon2Limit{})
		if err != nil {
			t.Fatalf("users.NewStore: %v", err)
		}
		e.users = us
	}
	sopts := sessions.Options{
		MaxPerUser: 5, IdleTimeout: 24 * time.Hour, AbsoluteLifetime: 720 * time.Hour,
		TouchInterval: time.Minute, RefreshGrace: 30 * time.Second,
		DeriveKey: e.keys.DeriveKey("sessions"), Now: e.clock.Now,
	}
	if o.sopts != nil {
		o.sopts(&sopts)
	}
	e.newStore = o.shared
	if e.newStore == nil {
		e.newStore, e.redis = o.store.start(t)
	}
	e.store = e.newStore(sopts)
}

// addr is the gateway's host:port.
func (e *env) addr() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// newEnvAs is an env over cfg with the memory store and the test users,
// logged in as user through the real login endpoint. authz is the header
// line ("Authorization: Bearer …\r\n") its raw requests carry; id is the
// identity an authenticated route forwards (Assertion left empty: it
// differs per request, see wantAssertion). With headers.assertion set the
// env gets an ephemeral keyset, since assertions need an asymmetric key.
func newEnvAs(t *testing.T, cfg *config.Config, user string) (*env, Identity, string) {
	t.Helper()
	o := envOptions{cfg: cfg, store: memoryStore}
	if cfg.Headers.Assertion != "" {
		ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
		if err != nil {
			t.Fatalf("tokens.New: %v", err)
		}
		o.keys = ks
	}
	e := newEnv(t, o)
	tr := e.loginJSON(user, testUsers[user].password)
	id := Identity{User: user, Roles: testUsers[user].roles, SessionID: tr.SessionID}
	return e, id, "Authorization: Bearer " + tr.AccessToken + "\r\n"
}

// The internals tests read, each in one place: the metric collectors (for
// prometheus/testutil), the password admission and the current snapshot.
func metricsOf(g *Gateway) *metrics             { return g.metrics }
func admissionOf(g *Gateway) *passwordAdmission { return g.admission }
func snapshotOf(g *Gateway) *snapshot           { return g.snap.Load() }

// outerSteps wraps h in the chain's outermost steps (panic recovery,
// request id, access log and metrics), as New does.
func outerSteps(g *Gateway, h http.Handler) http.Handler {
	return chain(h, g.recover, g.requestID, g.observe)
}

// writeError writes err as the chain does for r.
func writeError(g *Gateway, w http.ResponseWriter, r *http.Request, err error) {
	g.writeError(w, r, err)
}

// recheckUpgraded runs one pass of the upgraded-connection recheck.
func recheckUpgraded(g *Gateway) { g.recheckUpgraded(context.Background()) }

// trackedUpgrades is the number of upgraded connections g tracks.
func trackedUpgrades(g *Gateway) int { return len(g.upgrades.snapshot()) }

// sharedTransport is the upstream pool shared by routes without own TLS.
func sharedTransport(g *Gateway) http.RoundTripper { return g.transport }

// setProbeInterval sets the readiness store probe period.
func setProbeInterval(g *Gateway, d time.Duration) { g.probeInterval = d }

// probeOnce runs one readiness store probe.
func probeOnce(g *Gateway, ctx context.Context) { g.probeOnce(ctx) }

// beginRequest starts the per-request record of r as the chain would have
// by the time an error is written: escaped path set and, if routed, the
// first route of the snapshot matched.
func beginRequest(g *Gateway, r *http.Request, escaped string, routed bool) *http.Request {
	r, rec := g.begin(r)
	rec.escaped = escaped
	if routed {
		rec.route = snapshotOf(g).routes.anyHost[0]
	}
	return r
}

// noThrottle turns the login throttle off, so that the many failed logins
// of a hostile-input table are each judged on their own.
func noThrottle(c *config.Config) { c.Login.RateLimit.PerUser, c.Login.RateLimit.PerIP = 0, 0 }
