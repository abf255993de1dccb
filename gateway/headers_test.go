package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// spoofSpellings are inbound headers that must never reach an upstream.
var spoofSpellings = []string{
	"X-Auth-User", "x-auth-user", "X_Auth_User", "X-AUTH-USER", "x_auth-user", "X_AUTH_USER",
	"X-Auth-Roles", "x_auth_roles", "X-Auth-Session", "X_Auth_Session",
	"X-Auth-Assertion", "x_auth_assertion",
	"Remote-User", "remote_user", "Remote-Groups", "Remote-Email",
	"X-Forwarded-User", "X_Forwarded_User", "X-Forwarded-Email", "X-Forwarded-Groups",
	"X-Custom-Identity", "x_custom_identity", // headers.strip
}

// identityLike reports whether a header name, normalised, is one of the
// spoofable names.
func identityLike(name string) bool {
	switch normHeader(name) {
	case "x-auth-user", "x-auth-roles", "x-auth-session", "x-auth-assertion",
		"remote-user", "remote-groups", "remote-email",
		"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-custom-identity":
		return true
	}
	return false
}

func spoofConfig(upstream string) *config.Config {
	cfg := testConfig(
		testRoute("pub", "/pub", upstream, config.AuthPublic),
		testRoute("opt", "/opt", upstream, config.AuthOptional),
		testRoute("req", "/req", upstream, config.AuthRequired),
	)
	cfg.Headers.Assertion = "X-Auth-Assertion"
	cfg.Headers.Strip = []string{"X-Custom-Identity"}
	return cfg
}

func spoofRequest(path string) string {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: gw.test\r\n")
	for _, h := range spoofSpellings {
		b.WriteString(h + ": spoofed-" + h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestSpoofedIdentityHeadersNeverReachUpstream sends every spelling raw, so
// nothing on the client side canonicalises them.
func TestSpoofedIdentityHeadersNeverReachUpstream(t *testing.T) {
	t.Parallel()
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		up := newRecorder(t)
		env := newEnv(t, envOptions{cfg: spoofConfig(up.srv.URL)})
		for _, path := range []string{"/pub/x", "/opt/x"} {
			res := rawRequest(t, env.addr(), spoofRequest(path))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", path, res.StatusCode)
			}
			assertIdentityHeaders(t, up.last(t).Header, Identity{})
		}
		before := len(up.requests())
		if res := rawRequest(t, env.addr(), spoofRequest("/req/x")); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /req/x with spoofed headers = %d, want 401", res.StatusCode)
		}
		if len(up.requests()) != before {
			t.Fatal("required route forwarded an unauthenticated request")
		}
	})
	t.Run("authenticated", func(t *testing.T) {
		t.Parallel()
		up := newRecorder(t)
		env, id, authz := newEnvAs(t, spoofConfig(up.srv.URL), "alice")
		for _, route := range []string{"pub", "opt", "req"} {
			path := "/" + route + "/x"
			req := spoofRequest(path)
			res := rawRequest(t, env.addr(), req[:len(req)-2]+authz+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", path, res.StatusCode)
			}
			want := Identity{} // a public route checks no credential, so forwards no identity
			if route != "pub" {
				want = id
				want.Assertion = wantAssertion(t, up.last(t).Header.Get("X-Auth-Assertion"), route, id)
			}
			assertIdentityHeaders(t, up.last(t).Header, want)
		}
	})
}

// assertIdentityHeaders checks that the upstream saw exactly the gateway's
// identity headers (all of them, empty when no value) and no other spelling;
// for an anonymous id (no user), none at all (SPEC §6 step 4).
func assertIdentityHeaders(t *testing.T, h http.Header, id Identity) {
	t.Helper()
	if id.User == "" {
		for name, v := range h {
			if identityLike(name) {
				t.Errorf("anonymous request: upstream saw %s: %q, want absent", name, v)
			}
		}
		return
	}
	want := map[string]string{
		"X-Auth-User":      id.User,
		"X-Auth-Roles":     strings.Join(id.Roles, ","),
		"X-Auth-Session":   id.SessionID,
		"X-Auth-Assertion": id.Assertion,
	}
	for name, v := range h {
		if !identityLike(name) {
			continue
		}
		w, ours := want[name]
		if !ours {
			t.Errorf("upstream saw %s: %q", name, v)
			continue
		}
		if len(v) != 1 || v[0] != w {
			t.Errorf("upstream saw %s = %q, want [%q]", name, v, w)
		}
	}
	for name := range want {
		if _, ok := h[name]; !ok {
			t.Errorf("upstream did not get %s", name)
		}
	}
}

func TestConnectionHeaderCannotRemoveGatewayHeaders(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env, id, authz := newEnvAs(t, testConfig(testRoute("req", "/", up.srv.URL, config.AuthRequired)), "bob")
	res := rawRequest(t, env.addr(), "GET /x HTTP/1.1\r\nHost: gw.test\r\n"+authz+
		"Connection: keep-alive, X-Auth-User, X-Auth-Roles, X-Auth-Session, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Real-IP, X-Request-ID\r\n\r\n")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	got := up.last(t).Header
	for name, want := range map[string]string{
		"X-Auth-User":       "bob",
		"X-Auth-Roles":      "staff",
		"X-Auth-Session":    id.SessionID,
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "gw.test",
		"X-Real-IP":         "127.0.0.1",
		"X-Request-ID":      res.Header.Get("X-Request-ID"),
	} {
		if v := got.Get(name); v != want || want == "" {
			t.Errorf("upstream %s = %q, want %q", name, v, want)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	const inbound = "X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example.com\r\n" +
		"X-Forwarded-Port: 443\r\nX-Forwarded-Prefix: /p\r\nX_Forwarded_For: 192.0.2.66\r\n" +
		"Forwarded: for=203.0.113.7;proto=https\r\nX-Real-IP: 192.0.2.1\r\nTrue-Client-IP: 192.0.2.2\r\n"
	tests := []struct {
		name    string
		trusted []string
		want    map[string]string // "" = absent
	}{
		{"untrusted peer", nil, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.test:81",
			"X-Real-IP": "127.0.0.1", "Forwarded": "", "True-Client-IP": "", "X-Forwarded-Port": "",
			"X-Forwarded-Prefix": "",
		}},
		{"trusted peer", []string{"127.0.0.1/32"}, map[string]string{
			"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https",
			"X-Forwarded-Host": "public.example.com", "X-Real-IP": "203.0.113.7",
			"Forwarded": "for=203.0.113.7;proto=https", "True-Client-IP": "192.0.2.2",
			"X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/p",
		}},
		{"trusted chain", []string{"127.0.0.0/8", "203.0.113.0/24"}, map[string]string{
			"X-Forwarded-For": "198.51.100.9, 203.0.113.7, 127.0.0.1", "X-Real-IP": "198.51.100.9",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newRecorder(t)
			cfg := testConfig(testRoute("pub", "/", up.srv.URL, config.AuthPublic))
			for _, p := range tc.trusted {
				cfg.Server.TrustedProxies = append(cfg.Server.TrustedProxies, netip.MustParsePrefix(p))
			}
			env := newEnv(t, envOptions{cfg: cfg})
			res := rawRequest(t, env.addr(), "GET /x HTTP/1.1\r\nHost: gw.test:81\r\n"+inbound+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			h := up.last(t).Header
			for name, want := range tc.want {
				if got := strings.Join(h.Values(name), "|"); got != want {
					t.Errorf("upstream %s = %q, want %q", name, got, want)
				}
			}
			for name, v := range h {
				if strings.Contains(name, "_") && isForwardingHeader(normHeader(name)) {
					t.Errorf("upstream saw %s: %q (underscore spelling of a forwarding header)", name, v)
				}
			}
		})
	}
}

func TestClientChain(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name      string
		peer      string
		xff       []string
		client    string
		chain     []string
		untrusted bool
	}{
		{"untrusted peer ignores xff", "192.0.2.1", []string{"1.2.3.4"}, "192.0.2.1", nil, true},
		{"trusted peer, no xff", "10.0.0.1", nil, "10.0.0.1", []string{}, false},
		{"one hop", "10.0.0.1", []string{"203.0.113.5"}, "203.0.113.5", []string{"203.0.113.5"}, false},
		{"spoofed left part dropped", "10.0.0.1", []string{"6.6.6.6, 203.0.113.5, 10.0.0.2"}, "203.0.113.5", []string{"203.0.113.5", "10.0.0.2"}, false},
		{"several header lines", "10.0.0.1", []string{"6.6.6.6", "203.0.113.5", "10.1.1.1"}, "203.0.113.5", []string{"203.0.113.5", "10.1.1.1"}, false},
		{"all trusted: leftmost", "10.0.0.1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3", []string{"10.0.0.3", "10.0.0.2"}, false},
		{"garbage stops the walk", "10.0.0.1", []string{"203.0.113.5, junk, 10.0.0.2"}, "10.0.0.2", []string{"10.0.0.2"}, false},
		{"garbage at the right", "10.0.0.1", []string{"203.0.113.5, <script>"}, "10.0.0.1", []string{}, false},
		{"ports and ipv6", "2001:db8::1", []string{"[2001:db9::7]:443, 10.0.0.9:80"}, "2001:db9::7", []string{"2001:db9::7", "10.0.0.9"}, false},
		{"mapped v4 peer", "::ffff:10.0.0.1", []string{"203.0.113.5"}, "203.0.113.5", []string{"203.0.113.5"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.xff {
				h.Add("X-Forwarded-For", v)
			}
			client, chain := clientChain(h, netip.MustParseAddr(tc.peer).Unmap(), trusted)
			if client.String() != tc.client || !slices.Equal(chain, tc.chain) || (tc.untrusted && chain != nil) {
				t.Errorf("clientChain(%v, %s) = %s, %q; want %s, %q", tc.xff, tc.peer, client, chain, tc.client, tc.chain)
			}
		})
	}
}

func TestGatewayCookiesAndBearerRemoved(t *testing.T) {
	t.Parallel()
	pass := true
	noPass := false
	tests := []struct {
		name       string
		global     bool
		route      *bool
		wantBearer bool
	}{
		{"default strips bearer", false, nil, false},
		{"global pass", true, nil, true},
		{"route overrides global off", true, &noPass, false},
		{"route overrides global on", false, &pass, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newRecorder(t)
			rc := testRoute("pub", "/", up.srv.URL, config.AuthPublic)
			rc.PassAuthorization = tc.route
			cfg := testConfig(rc)
			cfg.Headers.PassAuthorization = tc.global
			env := newEnv(t, envOptions{cfg: cfg})
			at, rt := cfg.Cookies.AccessName, cfg.Cookies.RefreshName
			res := rawRequest(t, env.addr(), "GET /x HTTP/1.1\r\nHost: gw.test\r\n"+
				"Cookie: theme=dark; "+at+"=ACCESS; lang=en\r\n"+
				"Cookie: "+rt+"=REFRESH\r\n"+
				"Cookie: "+at+"=DUP; other=1\r\n"+
				"Authorization: Bearer TOKEN\r\n"+
				"Authorization: Basic dXNlcjpwYXNz\r\n\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			h := up.last(t).Header
			cookies := strings.Join(h.Values("Cookie"), "; ")
			if strings.Contains(cookies, "ACCESS") || strings.Contains(cookies, "REFRESH") || strings.Contains(cookies, "DUP") {
				t.Errorf("upstream Cookie = %q: gateway cookies leaked", cookies)
			}
			if !strings.Contains(cookies, "theme=dark") || !strings.Contains(cookies, "lang=en") || !strings.Contains(cookies, "other=1") {
				t.Errorf("upstream Cookie = %q: other cookies lost", cookies)
			}
			auth := h.Values("Authorization")
			if !slices.Contains(auth, "Basic dXNlcjpwYXNz") {
				t.Errorf("upstream Authorization = %q: Basic lost", auth)
			}
			if got := slices.Contains(auth, "Bearer TOKEN"); got != tc.wantBearer {
				t.Errorf("upstream Authorization = %q: bearer passed = %v, want %v", auth, got, tc.wantBearer)
			}
		})
	}
}

func TestWithoutCookies(t *testing.T) {
	t.Parallel()
	names := []string{"__Host-portcullis_at", "__Secure-portcullis_rt"}
	tests := map[string]string{
		"a=1; b=2":                        "a=1; b=2",
		"__Host-portcullis_at=x":          "",
		"a=1;__Host-portcullis_at=x;b=2":  "a=1; b=2",
		" __Secure-portcullis_rt=y ; a=1": "a=1",
		"__host-portcullis_at=x":          "__host-portcullis_at=x", // names are case-sensitive
		"x__Host-portcullis_at=1":         "x__Host-portcullis_at=1",
	}
	for in, want := range tests {
		if got := withoutCookies(in, names); got != want {
			t.Errorf("withoutCookies(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRemoveBearer: every value extractCredential would take as a bearer
// token is removed (the tab-separated form too); other schemes stay.
func TestRemoveBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"space", []string{"Bearer TOKEN"}, nil},
		{"tab", []string{"Bearer\tTOKEN"}, nil},
		{"lower case", []string{"bearer TOKEN"}, nil},
		{"bare scheme", []string{"Bearer"}, nil},
		{"leading space", []string{" Bearer TOKEN"}, nil},
		{"basic kept", []string{"Basic dXNlcjpwYXNz", "Bearer TOKEN"}, []string{"Basic dXNlcjpwYXNz"}},
		{"prefix is not the scheme", []string{"BearerTOKEN"}, []string{"BearerTOKEN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Authorization": slices.Clone(tc.in)}
			removeBearer(h)
			if got := h["Authorization"]; !slices.Equal(got, tc.want) {
				t.Errorf("removeBearer(%q) left %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRequestIDHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted bool
		inbound string
		keep    bool
	}{
		{"untrusted peer: generated", false, "client-chosen", false},
		{"trusted peer: believed", true, "abc-123_XYZ", true},
		{"trusted but too long", true, strings.Repeat("a", 129), false},
		{"trusted but spaces", true, "a b", false},
		{"trusted, max length", true, strings.Repeat("b", 128), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newRecorder(t)
			cfg := testConfig(testRoute("pub", "/", up.srv.URL, config.AuthPublic))
			if tc.trusted {
				cfg.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			}
			env := newEnv(t, envOptions{cfg: cfg})
			res := rawRequest(t, env.addr(), "GET / HTTP/1.1\r\nHost: gw.test\r\nX-Request-ID: "+tc.inbound+"\r\n\r\n")
			got := res.Header.Values("X-Request-ID")
			if len(got) != 1 {
				t.Fatalf("response X-Request-ID = %q, want exactly one (the upstream's own is dropped)", got)
			}
			if (got[0] == tc.inbound) != tc.keep || !saneRequestID(got[0]) {
				t.Errorf("response X-Request-ID = %q, inbound %q kept = %v, want %v", got[0], tc.inbound, got[0] == tc.inbound, tc.keep)
			}
			if up := up.last(t).Header.Values("X-Request-ID"); len(up) != 1 || up[0] != got[0] {
				t.Errorf("upstream X-Request-ID = %q, want [%q]", up, got[0])
			}
		})
	}
}

func TestNormHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"X-Auth-User": "x-auth-user", "X_AUTH_USER": "x-auth-user", "x_auth-user": "x-auth-user", "": "",
	} {
		if got := normHeader(in); got != want {
			t.Errorf("normHeader(%q) = %q, want %q", in, got, want)
		}
		if got := string(appendNormHeader(nil, in)); got != want {
			t.Errorf("appendNormHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkStripInbound(b *testing.B) {
	ih := newIdentityHeaders(config.Default().Headers)
	set := spoofableSet(ih, nil)
	base := http.Header{
		"Host": {"x"}, "User-Agent": {"bench"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip"},
		"Cookie": {"a=1"}, "X-Forwarded-For": {"1.2.3.4"}, "X-Auth-User": {"spoof"}, "Content-Type": {"text/plain"},
	}
	b.ReportAllocs()
	for b.Loop() {
		h := base.Clone()
		stripInbound(h, set, false)
	}
}

func TestForwardedProtoFromTLSConnection(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	g, err := New(Options{Config: testConfig(testRoute("pub", "/", up.srv.URL, config.AuthPublic))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := up.last(t).Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https", got)
	}
}

// TestAnonymousCarriesNoIdentity: public routes and anonymous requests on
// optional routes reach the upstream with none of the identity headers, in
// the renamed configuration too and whatever the client sent; an
// authenticated request gets all of them, empty when there is no value.
func TestAnonymousCarriesNoIdentity(t *testing.T) {
	ks, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, keys: ks, edit: func(c *config.Config) {
		c.Headers.User, c.Headers.Roles = "X-Webauth-User", "X-Webauth-Groups"
		c.Headers.Session, c.Headers.Assertion = "X-Webauth-Sid", "X-Webauth-Jwt"
	}})
	alice := e.loginJSON("alice", "alice-password")
	dave := e.loginJSON("dave", "dave-password") // no roles
	gone := e.loginJSON("bob", "bob-password")
	wantStatus(t, "logout", e.do("POST", "/auth/logout", "", bearer(gone.AccessToken)...), http.StatusNoContent)
	spoofed := []string{
		"X-Webauth-User", "mallory", "x_webauth_user", "mallory", "X-WEBAUTH-GROUPS", "admin",
		"X_Webauth_Sid", "s", "x-webauth-jwt", "a.b.c", "X-Webauth-User", "second",
	}
	anonymous := []struct {
		name, path string
		auth       []string
	}{
		{"public", "/pub/x", nil},
		{"public with a valid token", "/pub/x", bearer(alice.AccessToken)},
		{"optional without a token", "/opt/x", nil},
		{"optional with a bad token", "/opt/x", bearer("x")},
		{"optional with an ended session", "/opt/x", bearer(gone.AccessToken)},
	}
	for _, tc := range anonymous {
		wantStatus(t, tc.name, e.do("GET", tc.path, "", append(append([]string{}, spoofed...), tc.auth...)...), http.StatusOK)
		for name, v := range e.up.last(t).Header {
			n := normHeader(name)
			if strings.HasPrefix(n, "x-auth-") || strings.HasPrefix(n, "x-webauth-") {
				t.Errorf("%s: upstream saw %s = %q, want absent", tc.name, name, v)
			}
		}
	}
	wantStatus(t, "optional as dave", e.do("GET", "/opt/x", "", append(append([]string{}, spoofed...), bearer(dave.AccessToken)...)...), http.StatusOK)
	h := e.up.last(t).Header
	for _, n := range identityNames {
		if v := h.Values(n); len(v) != 1 {
			t.Errorf("authenticated: %s = %q, want exactly one value", n, v)
		}
	}
	if h.Get("X-Webauth-User") != "dave" || h.Get("X-Webauth-Groups") != "" || h.Get("X-Webauth-Sid") != dave.SessionID || h.Get("X-Webauth-Jwt") == "" {
		t.Errorf("authenticated identity = %v", h)
	}
}

// identityNames are the renamed identity headers of TestAnonymousCarriesNoIdentity.
var identityNames = []string{"x-webauth-user", "x-webauth-groups", "x-webauth-sid", "x-webauth-jwt"}

// TestNewRequestIDShape: a generated id is 26 characters of the base32
// alphabet (130 bits, crypto/rand.Text's shape), sane to forward, and ids
// do not repeat.
func TestNewRequestIDShape(t *testing.T) {
	seen := make(map[string]bool, 10000)
	for range 10000 {
		id := newRequestID()
		if len(id) != 26 || strings.Trim(id, requestIDAlphabet) != "" || !saneRequestID(id) {
			t.Fatalf("newRequestID() = %q, want 26 characters of %s", id, requestIDAlphabet)
		}
		if seen[id] {
			t.Fatalf("newRequestID() repeated %q", id)
		}
		seen[id] = true
	}
	// Every position takes every character over many ids (no stuck bits).
	var used [26][32]bool
	for range 4000 {
		id := newRequestID()
		for i := range id {
			used[i][strings.IndexByte(requestIDAlphabet, id[i])] = true
		}
	}
	for i := range used {
		for c, ok := range used[i] {
			if !ok {
				t.Errorf("position %d never took %q in 4000 ids", i, requestIDAlphabet[c])
			}
		}
	}
}
