package gateway_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// locationEnv is a gateway behind a trusted "proxy" (the test itself, on
// loopback) with one user, built from a YAML config like the binary's.
type locationEnv struct {
	srv  *httptest.Server
	tls  *httptest.Server
	cfg  *config.Config
	user string
}

func newLocationEnv(t *testing.T) *locationEnv {
	t.Helper()
	dir := t.TempDir()
	hash, err := users.HashArgon2id("pw-0123456789", 1024, 1, 1) // cheap: only the format matters here
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "users.yaml"), "users:\n  carol:\n    password_hash: \""+hash+"\"\n    roles: [staff]\n")
	writeFile(t, filepath.Join(dir, "gateway.yaml"), `server:
  trusted_proxies: ["127.0.0.0/8", "::1/128"]
  auth_prefix: /sso
tokens:
  keys: [{id: k1, alg: HS256, secret: "`+strings.Repeat("k", 32)+`"}]
sessions: {store: memory}
users: {file: users.yaml}
routes:
  - {name: app, path_prefix: /, upstream: "echo:", auth: required}
`)
	cfg, err := config.Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	us, err := users.NewStore(cfg.Users.File, cfg.Users.Argon2)
	if err != nil {
		t.Fatal(err)
	}
	store := sessions.NewMemoryStore(sessions.Options{MaxPerUser: 5})
	t.Cleanup(func() { _ = store.Close() })
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Store: store, Users: us})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	e := &locationEnv{srv: httptest.NewServer(g), tls: httptest.NewTLSServer(g), cfg: cfg, user: "carol"}
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.tls.Close)
	return e
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// verify asks /sso/verify with the given header pairs and never follows a redirect.
func (e *locationEnv) verify(t *testing.T, srv *httptest.Server, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/sso/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// TestVerifyNavigationLocation: a forward-auth 401 for a browser navigation
// carries Location: the login URL on the forwarded host and scheme, whose rd
// is the original path and query (SPEC §5); the status stays 401 and the body
// stays JSON. Everything else gets no Location.
func TestVerifyNavigationLocation(t *testing.T) {
	e := newLocationEnv(t)
	const html = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
	nav := func(uri string, more ...string) []string {
		return append([]string{"X-Forwarded-Uri", uri, "X-Forwarded-Host", "app.example.com", "Accept", html}, more...)
	}
	long := "/" + strings.Repeat("a", 3000) + "?q=" + strings.Repeat("%26", 1000)
	tests := []struct {
		name   string
		hdr    []string
		status int
		want   string // Location; "" = none
		wantRD string // the rd the login page gets, decoded
	}{
		{"plain", nav("/docs/page", "X-Forwarded-Proto", "https"), 401,
			"https://app.example.com/sso/login?rd=%2Fdocs%2Fpage", "/docs/page"},
		{"full query with & and =", nav("/p?a=1&b=2&c=x%26y", "X-Forwarded-Proto", "https"), 401,
			"https://app.example.com/sso/login?rd=%2Fp%3Fa%3D1%26b%3D2%26c%3Dx%2526y", "/p?a=1&b=2&c=x%26y"},
		{"hash in uri", nav("/p?a=1#frag", "X-Forwarded-Proto", "https"), 401, "", "/p?a=1#frag"},
		{"percent and unicode", nav("/caf%C3%A9/%E2%9C%93?q=%25x&u=é", "X-Forwarded-Proto", "https"), 401, "", "/caf%C3%A9/%E2%9C%93?q=%25x&u=é"},
		{"normalised path", nav("/a//b/./c/../d?x", "X-Forwarded-Proto", "https"), 401, "", "/a/b/d?x"},
		{"no double slash rd", nav("//evil.example/x", "X-Forwarded-Proto", "https"), 401, "", "/evil.example/x"},
		{"original uri", []string{"X-Original-URI", "/o?k=v", "X-Forwarded-Host", "app.example.com:8443", "X-Forwarded-Proto", "HTTPS", "Accept", html}, 401,
			"https://app.example.com:8443/sso/login?rd=%2Fo%3Fk%3Dv", "/o?k=v"},
		{"connection scheme http", nav("/x"), 401, "http://app.example.com/sso/login?rd=%2Fx", "/x"},
		{"ipv6 host", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "[::1]:8080", "X-Forwarded-Proto", "http", "Accept", html}, 401,
			"http://[::1]:8080/sso/login?rd=%2Fx", "/x"},
		{"head", nav("/x", "X-Forwarded-Method", "HEAD", "X-Forwarded-Proto", "https"), 401, "https://app.example.com/sso/login?rd=%2Fx", "/x"},
		// Not navigations: no Location.
		{"api client", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "app.example.com", "Accept", "application/json"}, 401, "", ""},
		{"no accept", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "app.example.com", "Sec-Fetch-Mode", "navigate"}, 401, "", ""},
		{"post", nav("/x", "X-Forwarded-Method", "POST"), 401, "", ""},
		// Hostile scheme and host: no Location, or refused outright.
		{"javascript proto", nav("/x", "X-Forwarded-Proto", "javascript"), 401, "", ""},
		{"proto list", nav("/x", "X-Forwarded-Proto", "https, http"), 401, "", ""},
		{"two protos", nav("/x", "X-Forwarded-Proto", "https", "X-Forwarded-Proto", "http"), 401, "", ""},
		{"ftp proto", nav("/x", "X-Forwarded-Proto", "ftp"), 401, "", ""},
		{"malformed host", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "evil.example/@app", "Accept", html}, 403, "", ""},
		{"host with userinfo", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "user@evil.example", "Accept", html}, 403, "", ""},
		{"host with port list", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "a.example:80:90", "Accept", html}, 403, "", ""},
		{"two hosts", []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "a.example", "X-Forwarded-Host", "b.example", "Accept", html}, 403, "", ""},
		{"absolute-form uri", nav("https://evil.example/x", "X-Forwarded-Proto", "https"), 403, "", ""},
		{"scheme-relative uri", nav("//evil.example", "X-Forwarded-Proto", "https"), 401, "", "/evil.example"},
		{"control byte uri", nav("/x?a=\tb", "X-Forwarded-Proto", "https"), 403, "", ""},
		// Oversized: carried whole (the login page falls back to "/" above 2 KiB).
		{"oversized", nav(long, "X-Forwarded-Proto", "https"), 401, "", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.verify(t, e.srv, tt.hdr...)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			loc := res.Header.Get("Location")
			if tt.wantRD == "" {
				if loc != "" {
					t.Fatalf("Location %q, want none", loc)
				}
				return
			}
			if tt.want != "" && loc != tt.want {
				t.Errorf("Location %q, want %q", loc, tt.want)
			}
			checkLoginLocation(t, loc, tt.wantRD)
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q: the 401 body stays JSON", ct)
			}
			var body struct{ Error string }
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error == "" {
				t.Errorf("401 body: %v %+v", err, body)
			}
		})
	}
}

// checkLoginLocation: loc is an absolute http(s) URL to <prefix>/login whose
// only parameter rd decodes to wantRD, a relative path on this origin.
func checkLoginLocation(t *testing.T, loc, wantRD string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Path != "/sso/login" || u.Fragment != "" {
		t.Fatalf("Location %q is not the login page", loc)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) != 1 || len(q["rd"]) != 1 {
		t.Fatalf("Location %q: query %v %v, want rd only", loc, q, err)
	}
	rd := q.Get("rd")
	if rd != wantRD {
		t.Errorf("rd = %q, want %q", rd, wantRD)
	}
	if !strings.HasPrefix(rd, "/") || strings.HasPrefix(rd, "//") {
		t.Errorf("rd %q is not relative", rd)
	}
}

// TestVerifyLocationTLSScheme: without X-Forwarded-Proto the scheme is the
// connection's; over TLS that is https.
func TestVerifyLocationTLSScheme(t *testing.T) {
	e := newLocationEnv(t)
	res := e.verify(t, e.tls, "X-Forwarded-Uri", "/x?y=1", "X-Forwarded-Host", "app.example.com", "Accept", "text/html")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got, want := res.Header.Get("Location"), "https://app.example.com/sso/login?rd=%2Fx%3Fy%3D1"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	// An explicit proto from the trusted proxy wins over the connection.
	res = e.verify(t, e.tls, "X-Forwarded-Uri", "/x", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Proto", "http", "Accept", "text/html")
	if got := res.Header.Get("Location"); got != "http://app.example.com/sso/login?rd=%2Fx" {
		t.Errorf("Location %q with X-Forwarded-Proto http", got)
	}
}

// TestVerifyLocationRoundTrip: the rd in Location, given to the login page,
// brings the browser back to the original path with its full query.
func TestVerifyLocationRoundTrip(t *testing.T) {
	e := newLocationEnv(t)
	const orig = "/report?from=2026-01-01&to=2026-02-01&q=a%26b&tag=%E2%9C%93"
	res := e.verify(t, e.srv, "X-Forwarded-Uri", orig, "X-Forwarded-Host", "app.example.com", "Accept", "text/html")
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Host == "" {
		t.Fatalf("Location %q: %v", res.Header.Get("Location"), err)
	}
	// Sign in through the form with that rd; the 303 goes back to orig.
	form := url.Values{"username": {e.user}, "password": {"pw-0123456789"}, "rd": {loc.Query().Get("rd")}}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+loc.Path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	c := e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusSeeOther || post.Header.Get("Location") != orig {
		t.Fatalf("login = %d Location %q, want 303 %q", post.StatusCode, post.Header.Get("Location"), orig)
	}
	// A valid session: verify answers 200 and no Location.
	var cookies []string
	for _, ck := range post.Cookies() {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	ok := e.verify(t, e.srv, "X-Forwarded-Uri", orig, "X-Forwarded-Host", "app.example.com", "Accept", "text/html", "Cookie", strings.Join(cookies, "; "))
	if ok.StatusCode != http.StatusOK || ok.Header.Get("Location") != "" || ok.Header.Get("X-Auth-User") != e.user {
		t.Fatalf("verify with session = %d Location %q user %q", ok.StatusCode, ok.Header.Get("Location"), ok.Header.Get("X-Auth-User"))
	}
}
