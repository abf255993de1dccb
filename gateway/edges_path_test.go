package gateway

import (
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// Regression tests of issue 7 at the HTTP boundary: raw requests in through
// the gateway, status out, and what the recording upstream received.

// edgeEnv is the nginx-vhost scenario of issue 7: a protected host route
// and a public host-less route, both in front of one recording upstream.
func edgeEnv(t *testing.T) (*env, *recorder) {
	t.Helper()
	up := newRecorder(t)
	secure := testRoute("secure", "/", up.srv.URL, config.AuthRequired)
	secure.Host, secure.Roles = "secure.example.com", []string{"admin"}
	web := testRoute("web", "/", up.srv.URL, config.AuthPublic)
	return newEnv(t, envOptions{cfg: testConfig(secure, web)}), up
}

// TestMalformedHostNeverRoutes: a Host outside the SPEC §3 grammar is 400
// before any route is chosen; it never falls through to the host-less route
// (nginx would read "secure.example.com:80:90" up to its first ":" and
// serve the protected vhost).
func TestMalformedHostNeverRoutes(t *testing.T) {
	t.Parallel()
	env, up := edgeEnv(t)
	bad := []string{
		"secure.example.com:80:90",
		"secure.example.com::",
		"secure.example.com:x",
		"secure.example.com:0",
		"secure.example.com:65536",
		"secure.example.com:99999999999999999999",
		"secure.example.com:+80",
		"secure.example.com:-1",
		"secure.example.com: 80",
		"secure..example.com",
		".secure.example.com",
		"secure.example.com..",
		".",
		":80",
		"secure.example.com/x",
		"secure.example.com@evil.example",
		"user@secure.example.com",
		"secure.example.com%2e",
		"secure.example.com;x",
		"secure.example.com\\x",
		"secure.exa\x80mple.com",
		strings.Repeat("a", 64) + ".example.com",
		"[::1",
		"[::1]x",
		"[::1]:80:90",
		"[secure.example.com]",
		"[fe80::1%25eth0]",
		"::1",
		"[]",
	}
	for _, host := range bad {
		t.Run(host, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "GET /admin HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("Host %q: status = %d %s, want 400", host, res.StatusCode, res.body)
			}
			if got := up.requests(); len(got) != before {
				t.Fatalf("Host %q reached the upstream as Host %q", host, got[len(got)-1].Host)
			}
		})
	}
	good := []struct {
		host   string
		status int // secure → 401 (no token), web → 200
	}{
		{"secure.example.com", http.StatusUnauthorized},
		{"Secure.Example.COM.:8443", http.StatusUnauthorized},
		{"secure.example.com:", http.StatusUnauthorized},
		{"secure.example.com:65535", http.StatusUnauthorized},
		{"other.example.com:80", http.StatusOK},
		{"under_score.example", http.StatusOK},
		{"127.0.0.1:8080", http.StatusOK},
		{"[::1]:8080", http.StatusOK},
		{"[2001:DB8::1]", http.StatusOK},
	}
	for _, tc := range good {
		res := rawRequest(t, env.addr(), "GET /admin HTTP/1.1\r\nHost: "+tc.host+"\r\n\r\n")
		if res.StatusCode != tc.status {
			t.Errorf("Host %q: status = %d, want %d", tc.host, res.StatusCode, tc.status)
		}
	}
}

// TestMalformedAuthorityIs400: the authority of an absolute-form target obeys
// the Host grammar too (net/http makes it the request's Host).
func TestMalformedAuthorityIs400(t *testing.T) {
	t.Parallel()
	env, up := edgeEnv(t)
	for _, target := range []string{
		"http://user@secure.example.com/admin",
		"http://secure..example.com/admin",
		"http://secure.example.com:80:90/admin",
		"http://secure.example.com:0/admin",
		"http://[::1/admin",
		"http:///admin",
	} {
		t.Run(target, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "GET "+target+" HTTP/1.1\r\nHost: other.example.com\r\n\r\n")
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("GET %s: status = %d %s, want 400", target, res.StatusCode, res.body)
			}
			if len(up.requests()) != before {
				t.Fatalf("GET %s reached the upstream", target)
			}
		})
	}
	res := rawRequest(t, env.addr(), "GET http://Secure.Example.com:8443/admin HTTP/1.1\r\nHost: other.example.com\r\n\r\n")
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("absolute-form to the secure host: status = %d, want 401 (the authority selects the route)", res.StatusCode)
	}
}

// TestMalformedHostOnGatewayEndpoints: a bad Host never reaches login or any
// other gateway endpoint either.
func TestMalformedHostOnGatewayEndpoints(t *testing.T) {
	t.Parallel()
	env, _ := edgeEnv(t)
	for _, target := range []string{"/auth/login", "/auth/me", "/.well-known/jwks.json"} {
		res := rawRequest(t, env.addr(), "GET "+target+" HTTP/1.1\r\nHost: secure.example.com:80:90\r\n\r\n")
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s with a malformed Host: status = %d, want 400", target, res.StatusCode)
		}
	}
}

// TestVerifyMalformedForwardedHost: /auth/verify takes the host from
// X-Forwarded-Host; one outside the Host grammar is refused (403, like an
// unparseable forwarded URI), never matched as a host-less route.
func TestVerifyMalformedForwardedHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: memoryStore, edit: trustLoopback})
	alice := e.loginJSON("alice", "alice-password")
	for _, tc := range []struct {
		host string
		want int
	}{
		{"app.example.com", http.StatusOK},
		{"App.Example.com.:443", http.StatusOK},
		{"app.example.com:80:90", http.StatusForbidden},
		{"app.example.com::", http.StatusForbidden},
		{"app..example.com", http.StatusForbidden},
		{"user@app.example.com", http.StatusForbidden},
		{"app.example.com:99999", http.StatusForbidden},
	} {
		res := e.do("GET", "/auth/verify", "", append(bearer(alice.AccessToken),
			"X-Forwarded-Uri", "/api/x", "X-Forwarded-Host", tc.host)...)
		wantStatus(t, "verify with X-Forwarded-Host "+tc.host, res, tc.want)
	}
	// The forwarded URI is matched like a proxied path: parameters in any
	// segment do not move it off the admin-only route.
	dave := e.loginJSON("dave", "dave-password")
	for _, uri := range []string{"/;x/adminarea", "/;/adminarea/x", "/adminarea;x/y"} {
		res := e.do("GET", "/auth/verify", "", append(bearer(dave.AccessToken), "X-Forwarded-Uri", uri)...)
		wantStatus(t, "verify "+uri+" as a user without the admin role", res, http.StatusForbidden)
	}
}

// TestPathParametersInEverySegment: ";…" parameters are ignored for matching
// in every segment (Tomcat, Spring and Shiro strip them: CVE-2020-11989),
// and forwarded as received.
func TestPathParametersInEverySegment(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	strip := testRoute("strip", "/strip", up.srv.URL, config.AuthPublic)
	strip.StripPrefix = true
	env := newEnv(t, envOptions{cfg: testConfig(
		testRoute("root", "/", up.srv.URL, config.AuthPublic),
		testRoute("admin", "/admin", up.srv.URL, config.AuthRequired),
		testRoute("pub", "/pub", up.srv.URL, config.AuthPublic),
		strip,
	)})
	tests := []struct {
		target string
		status int
		seen   string // RequestURI at the upstream; "" = never forwarded
	}{
		{"/;x/admin", http.StatusUnauthorized, ""},
		{"/;/admin/x", http.StatusUnauthorized, ""},
		{"/;x;y/;z/admin;a/panel", http.StatusUnauthorized, ""},
		{"/admin;x/panel", http.StatusUnauthorized, ""},
		{"/x;y/../admin", http.StatusUnauthorized, ""},
		{"/;x/..;/admin", http.StatusBadRequest, ""},
		{"/;x/.;y/admin", http.StatusBadRequest, ""},
		{"/;x/pub/a;b/c", http.StatusOK, "/;x/pub/a;b/c"},
		{"/pub;v=1/x", http.StatusOK, "/pub;v=1/x"},
		{"/;x/adminx", http.StatusOK, "/;x/adminx"},
		{"/;x/strip;v=1/y", http.StatusOK, "/y"},
		{"/;/strip/;/y", http.StatusOK, "/;/y"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			if res.StatusCode != tc.status {
				t.Fatalf("GET %q = %d %s, want %d", tc.target, res.StatusCode, res.body, tc.status)
			}
			got := up.requests()
			if tc.seen == "" {
				if len(got) != before {
					t.Fatalf("GET %q reached the upstream as %q", tc.target, got[len(got)-1].RequestURI)
				}
				return
			}
			if last := up.last(t); last.RequestURI != tc.seen {
				t.Errorf("GET %q: upstream saw %q, want %q", tc.target, last.RequestURI, tc.seen)
			}
		})
	}
}

// TestDecodingTricks: over-long UTF-8 forms and "%25" followed by the
// encoding of a refused byte are 400; UTF-8 and Latin-1 bytes still pass.
func TestDecodingTricks(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("root", "/", up.srv.URL, config.AuthPublic))})
	refused := []string{
		"/x/%C0%AE%C0%AE/admin", // over-long "."
		"/x/%c0%af",             // over-long "/"
		"/x/%C1%9C",             // over-long "\"
		"/x/%C0",
		"/x/%E0%80%AE",
		"/x/%e0%9f%bf",
		"/x/%F0%80%80%AE",
		"/x/%F0%8F%BF%BF",
		"/x/\xC0\xAE",
		"/x/\xE0\x80\xAE",
		"/x/%2500",
		"/x/%250a",
		"/x/%251F",
		"/x/%257f",
		"/x/%252E",
		"/x/%252f",
		"/x/%255c",
		"/x/%25C0%25AE", // over-long "." once decoded twice
		"/x/%25E0%2580%25AE",
		"/x/%E0%2580", // E0 80 once decoded twice
	}
	for _, target := range refused {
		t.Run(target, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "GET "+target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("GET %q = %d, want 400", target, res.StatusCode)
			}
			if len(up.requests()) != before {
				t.Fatalf("GET %q reached the upstream", target)
			}
		})
	}
	passed := []struct{ target, seen string }{
		{"/caf%E9", "/caf%E9"},             // Latin-1
		{"/caf%C3%A9", "/caf%C3%A9"},       // UTF-8
		{"/%E0%A4%A4", "/%E0%A4%A4"},       // E0 followed by A0–BF is not over-long
		{"/%F0%9F%98%80", "/%F0%9F%98%80"}, // F0 followed by 90–BF is not over-long
		{"/%25E9", "/%25E9"},               // "%E9" once decoded twice: Latin-1
		{"/100%25", "/100%25"},
		{"/a%2520b", "/a%2520b"}, // a double-encoded space is not refused
	}
	for _, tc := range passed {
		t.Run(tc.target, func(t *testing.T) {
			res := rawRequest(t, env.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %q = %d, want 200", tc.target, res.StatusCode)
			}
			if got := up.last(t).RequestURI; got != tc.seen {
				t.Errorf("GET %q: upstream saw %q, want %q", tc.target, got, tc.seen)
			}
		})
	}
}

// TestAsteriskFormIs400: "OPTIONS *" (which net/http's server would answer
// 200 by itself) and every other asterisk-form target are 400, through the
// gateway's chain: counted and in the access log.
func TestAsteriskFormIs400(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))})
	srv := NewServer(config.Default().Server, env.g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, method := range []string{"OPTIONS", "GET"} {
		res := rawRequest(t, ln.Addr().String(), method+" * HTTP/1.1\r\nHost: gw.test\r\n\r\n")
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s *: status = %d, want 400", method, res.StatusCode)
		}
	}
	waitForRequests(t, env.reg, 2)
	if v := testutil.ToFloat64(metricsOf(env.g).requests.WithLabelValues(routeNone, "OPTIONS", "400")); v != 1 {
		t.Errorf("OPTIONS * counted %v times as _none/400, want 1", v)
	}
	if logs := env.logs.String(); !strings.Contains(logs, "method=OPTIONS path=*") {
		t.Errorf("OPTIONS * is not in the access log:\n%s", logs)
	}
}

// TestCaseInsensitivePathMatching: server.path_matching: case_insensitive
// reads paths as IIS does (case folded, trailing dots and spaces ignored,
// such segments resolved as dot-segments); ":" and "~digit" are 400. The
// path is forwarded as received. A reload switches the mode.
func TestCaseInsensitivePathMatching(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	strip := testRoute("api", "/api", up.srv.URL, config.AuthPublic)
	strip.StripPrefix = true
	cfg := testConfig(
		testRoute("root", "/", up.srv.URL, config.AuthPublic),
		testRoute("admin", "/Admin", up.srv.URL, config.AuthRequired),
		strip,
	)
	cfg.Server.PathMatching = config.PathMatchingCaseInsensitive
	env := newEnv(t, envOptions{cfg: cfg})
	tests := []struct {
		target string
		status int
		seen   string // RequestURI at the upstream; "" = never forwarded
	}{
		{"/admin", http.StatusUnauthorized, ""},
		{"/ADMIN", http.StatusUnauthorized, ""},
		{"/admin.", http.StatusUnauthorized, ""},
		{"/admin%20", http.StatusUnauthorized, ""},
		{"/aDmIn.%20./panel", http.StatusUnauthorized, ""},
		{"/;x/ADMIN;y/panel", http.StatusUnauthorized, ""},
		{"/public/..%20/admin", http.StatusUnauthorized, ""},
		{"/public/.../admin", http.StatusUnauthorized, ""},
		{"/public/%20/...%20/admin", http.StatusUnauthorized, ""},
		{"/public/..%20./admin", http.StatusBadRequest, ""}, // dots and spaces mixed: refused
		{"/admin::$DATA", http.StatusBadRequest, ""},
		{"/admin:stream/x", http.StatusBadRequest, ""},
		{"/x/ADMIN~1.ASP", http.StatusBadRequest, ""},
		{"/PROGRA~1/x", http.StatusBadRequest, ""},
		{"/x/a%7E1", http.StatusBadRequest, ""},
		{"/x/.%20.", http.StatusBadRequest, ""},
		{"/..%20/admin", http.StatusBadRequest, ""},
		{"/x/..%20;y/admin", http.StatusBadRequest, ""},
		{"/AUTH/login", http.StatusNotFound, ""}, // the gateway's namespace, never an upstream's
		{"/Pub./X%20", http.StatusOK, "/Pub./X%20"},
		{"/adminx", http.StatusOK, "/adminx"},
		{"/a~b/c~", http.StatusOK, "/a~b/c~"},
		{"/API./x", http.StatusOK, "/x"},
		{"/;v/Api;v=1/y", http.StatusOK, "/y"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			before := len(up.requests())
			res := rawRequest(t, env.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			if res.StatusCode != tc.status {
				t.Fatalf("GET %q = %d %s, want %d", tc.target, res.StatusCode, res.body, tc.status)
			}
			got := up.requests()
			if tc.seen == "" {
				if len(got) != before {
					t.Fatalf("GET %q reached the upstream as %q", tc.target, got[len(got)-1].RequestURI)
				}
				return
			}
			if last := up.last(t); last.RequestURI != tc.seen {
				t.Errorf("GET %q: upstream saw %q, want %q", tc.target, last.RequestURI, tc.seen)
			}
		})
	}

	// exact (the default) after a reload: case and trailing dots are names.
	exact := testConfig(cfg.Routes...)
	if err := env.g.Reload(exact); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	for _, tc := range []struct {
		target string
		status int
	}{{"/ADMIN", http.StatusOK}, {"/admin.", http.StatusOK}, {"/Admin", http.StatusUnauthorized}, {"/a:b/x~1", http.StatusOK}} {
		if res := rawRequest(t, env.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n"); res.StatusCode != tc.status {
			t.Errorf("exact: GET %q = %d, want %d", tc.target, res.StatusCode, tc.status)
		}
	}
}
