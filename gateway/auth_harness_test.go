package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// Test harness of the authentication code: a real gateway behind a real
// listener, a recording upstream, a users file on disk, and either the
// memory store or a throwaway redis-server. Names carry an "auth"/"ae"
// prefix so they cannot collide with other test files of the package.

// Test users (cheap argon2id hashes; the dummy hash for unknown users
// imitates them: users.Set picks the file's most common cost).
var authTestUsers = map[string]struct {
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
	authHashOnce sync.Once
	authHashes   map[string]string
)

func authTestHash(t testing.TB, password string) string {
	t.Helper()
	h, err := users.HashArgon2id(password, 64, 1, 1)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return h
}

// aeUser is one users-file entry as written by writeUsersFile.
type aeUser struct {
	hash     string
	roles    []string
	disabled bool
}

// writeUsersFile (re)writes the users file atomically; edit may change an
// entry or drop it (return false).
func writeUsersFile(t testing.TB, path string, edit func(name string, u *aeUser) bool) {
	t.Helper()
	authHashOnce.Do(func() {
		authHashes = map[string]string{}
		for name, u := range authTestUsers {
			authHashes[name] = authTestHash(t, u.password)
		}
	})
	var b strings.Builder
	b.WriteString("users:\n")
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		tu := authTestUsers[name]
		u := aeUser{hash: authHashes[name], roles: tu.roles, disabled: tu.disabled}
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

// aeUpstream records what the upstream received.
type aeUpstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newAEUpstream(t *testing.T) *aeUpstream {
	t.Helper()
	u := &aeUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Clone())
		u.mu.Unlock()
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *aeUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

func (u *aeUpstream) last(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.got[len(u.got)-1]
}

// storeKind is one session store the auth tests run against.
type storeKind struct {
	name string
	// start returns a function building a store over one shared backend
	// (two calls = two replicas of the same Redis), plus the redis handle.
	start func(t *testing.T) (func(opts sessions.Options) SessionStore, *sessionstest.Redis)
}

var authStoreKinds = []storeKind{
	{"memory", func(t *testing.T) (func(sessions.Options) SessionStore, *sessionstest.Redis) {
		var once sync.Once
		var m *sessions.MemoryStore
		return func(opts sessions.Options) SessionStore {
			once.Do(func() { m = sessions.NewMemoryStore(opts) })
			return m
		}, nil
	}},
	{"redis", func(t *testing.T) (func(sessions.Options) SessionStore, *sessionstest.Redis) {
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
	}},
}

// forEachStore runs f against the memory store and a real redis-server.
func forEachStore(t *testing.T, f func(t *testing.T, sk storeKind)) {
	for _, sk := range authStoreKinds {
		t.Run(sk.name, func(t *testing.T) { f(t, sk) })
	}
}

// aeOptions tunes one test gateway.
type aeOptions struct {
	edit    func(c *config.Config)
	sopts   func(o *sessions.Options)
	keys    *tokens.Keyset
	store   func(sessions.Options) SessionStore // shared backend (second replica)
	clock   *sessionstest.Clock
	users   *users.Store
	usersAt string
}

// authEnv is one gateway under test.
type authEnv struct {
	t         *testing.T
	g         *Gateway
	srv       *httptest.Server
	cfg       *config.Config
	keys      *tokens.Keyset
	store     SessionStore // raw, uninstrumented
	newStore  func(sessions.Options) SessionStore
	users     *users.Store
	usersPath string
	up        *aeUpstream
	reg       *prometheus.Registry
	clock     *sessionstest.Clock
	redis     *sessionstest.Redis
}

// aeConfig is the config of the auth tests.
func aeConfig(upstream string) *config.Config {
	c := config.Default()
	c.Cookies.Secure = true
	route := func(name, prefix, auth string, roles ...string) config.Route {
		r := config.DefaultRoute()
		r.Name, r.PathPrefix, r.Upstream, r.Auth, r.Roles = name, prefix, upstream, auth, roles
		return r
	}
	noCSRF := route("nocsrf", "/nocsrf", config.AuthRequired)
	noCSRF.CSRF = false
	c.Routes = []config.Route{
		route("api", "/api", config.AuthRequired, "staff", "admin"),
		route("adminarea", "/adminarea", config.AuthRequired, "admin"),
		route("opt", "/opt", config.AuthOptional),
		route("pub", "/pub", config.AuthPublic),
		noCSRF,
		route("web", "/", config.AuthRequired),
	}
	c.Login.AllowedRedirectHosts = []string{"app.example.com"}
	return c
}

func newAuthEnv(t *testing.T, sk storeKind, o aeOptions) *authEnv {
	t.Helper()
	e := &authEnv{t: t, up: newAEUpstream(t), reg: prometheus.NewRegistry(), clock: o.clock}
	if e.clock == nil {
		e.clock = sessionstest.NewClock(time.Now())
	}
	e.cfg = aeConfig(e.up.srv.URL)
	if o.edit != nil {
		o.edit(e.cfg)
	}
	e.keys = o.keys
	if e.keys == nil {
		ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute, Leeway: 5 * time.Second,
			Keys: []config.Key{{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("s", 32))}}})
		if err != nil {
			t.Fatalf("tokens.New: %v", err)
		}
		e.keys = ks
	}
	e.cfg.Tokens.Keys = []config.Key{{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("s", 32))}}
	e.users, e.usersPath = o.users, o.usersAt
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
	e.newStore = o.store
	if e.newStore == nil {
		e.newStore, e.redis = sk.start(t)
	}
	e.store = e.newStore(sopts)
	g, err := New(Options{
		Config: e.cfg, Logger: slog.New(slog.DiscardHandler), Registry: e.reg,
		Store: e.store, Keys: e.keys, Users: e.users, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.g = g
	e.srv = httptest.NewServer(g)
	t.Cleanup(e.srv.Close)
	return e
}

// aeResp is a response with its body read.
type aeResp struct {
	*http.Response
	body string
}

func (r aeResp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (r aeResp) errCode(t *testing.T) string {
	t.Helper()
	var eb errorBody
	r.json(t, &eb)
	return eb.Error
}

// cookie returns the Set-Cookie named name, or nil.
func (r aeResp) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends one request; hdr is "Name", "value" pairs. Redirects are not followed.
func (e *authEnv) do(method, path string, body string, hdr ...string) aeResp {
	e.t.Helper()
	return aeDo(e.t, e.srv.URL, method, path, body, hdr...)
}

func aeDo(t *testing.T, base, method, path string, body string, hdr ...string) aeResp {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rb)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return aeResp{res, string(b)}
}

// loginJSON logs in through the JSON API and returns the token response.
func (e *authEnv) loginJSON(user, password string, hdr ...string) tokenResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	res := e.do("POST", "/auth/login", string(body), append([]string{"Content-Type", "application/json"}, hdr...)...)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s = %d %s, want 200", user, res.StatusCode, res.body)
	}
	var tr tokenResponse
	res.json(e.t, &tr)
	return tr
}

// browser is a minimal cookie holder for one browser (cookies are Secure,
// so net/http's jar would not send them over the test's plain HTTP).
type browser struct {
	access, refresh string
}

func (e *authEnv) jar() cookieJar { return newCookieJar(e.cfg.Cookies, e.cfg.Server.AuthPrefix) }

// cookieHeader renders the browser's cookies.
func (e *authEnv) cookieHeader(b *browser) string {
	j := e.jar()
	var parts []string
	if b.access != "" {
		parts = append(parts, j.accessName+"="+b.access)
	}
	if b.refresh != "" {
		parts = append(parts, j.refreshName+"="+b.refresh)
	}
	return strings.Join(parts, "; ")
}

// absorb applies a response's Set-Cookie headers to the browser.
func (e *authEnv) absorb(b *browser, res aeResp) {
	j := e.jar()
	for _, c := range res.Cookies() {
		v := c.Value
		if c.MaxAge < 0 {
			v = ""
		}
		switch c.Name {
		case j.accessName:
			b.access = v
		case j.refreshName:
			b.refresh = v
		}
	}
}

// loginForm logs a browser in through the HTML form.
func (e *authEnv) loginForm(b *browser, user, password, rd string) aeResp {
	e.t.Helper()
	form := url.Values{"username": {user}, "password": {password}, "rd": {rd}}.Encode()
	hdr := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"}
	if c := e.cookieHeader(b); c != "" {
		hdr = append(hdr, "Cookie", c)
	}
	res := e.do("POST", "/auth/login", form, hdr...)
	e.absorb(b, res)
	return res
}

// bearer is an Authorization header pair.
func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// trustLoopback makes the test client a trusted proxy (forward-auth, XFF).
func trustLoopback(c *config.Config) {
	c.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// wantStatus fails unless res has status want.
func wantStatus(t *testing.T, what string, res aeResp, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s = %d %s, want %d", what, res.StatusCode, strings.TrimSpace(res.body), want)
	}
}

// aeMetric reads a counter, gauge or histogram count (prometheus/testutil
// would need a module that go.sum lacks).
func aeMetric(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	go func() { c.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatalf("metric write: %v", err)
		}
		switch {
		case d.Counter != nil:
			sum += d.Counter.GetValue()
		case d.Gauge != nil:
			sum += d.Gauge.GetValue()
		case d.Histogram != nil:
			sum += float64(d.Histogram.GetSampleCount())
		}
	}
	return sum
}
