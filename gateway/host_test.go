package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

func TestParseHost(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"example.com":           "example.com",
		"Example.COM":           "example.com",
		"example.com:8080":      "example.com",
		"example.com.":          "example.com",
		"EXAMPLE.com.:443":      "example.com",
		"[::1]:8080":            "::1",
		"[2001:DB8::1]":         "2001:db8::1",
		"[::ffff:1.2.3.4]":      "::ffff:1.2.3.4",
		"127.0.0.1:80":          "127.0.0.1",
		"":                      "",
		"api.example.com:":      "api.example.com",
		"[::1]:":                "::1",
		"a.b.example.com.:9000": "a.b.example.com",
		"under_score-x.test":    "under_score-x.test",
		"localhost:1":           "localhost",
		"x:65535":               "x",
		"x:08080":               "x", // decimal, leading zero
		strings.Repeat("a", 63): strings.Repeat("a", 63),
	}
	for in, want := range good {
		if got, ok := parseHost(in); !ok || got != want {
			t.Errorf("parseHost(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	bad := []string{
		"secure.example.com:80:90", "host::", "host:x", "host:0", "host:65536", "host:123456",
		"host:+80", "host:-1", "host: 80", "host :80", "a..b", ".a", "a..", ".", "..", ":80", ":",
		"a/b", "a@b", "user@host", "a%2eb", "a;b", `a\b`, "a b", "a\tb", "a\x00b", "caf\xc3\xa9.test",
		strings.Repeat("a", 64), "a." + strings.Repeat("b", 64) + ".c",
		"[::1", "[::1]x", "[::1]:80:90", "[::1]:x", "[host]", "[1.2.3.4]", "[fe80::1%eth0]",
		"[fe80::1%25eth0]", "::1", "[]", "[[::1]]", "]", "a]", "a[b]",
	}
	for _, in := range bad {
		if got, ok := parseHost(in); ok {
			t.Errorf("parseHost(%q) = %q, true; want refused", in, got)
		}
	}
}

// FuzzParseHost: never panic; an accepted host is lower case, without port
// or trailing dot, accepted again as itself, and is what a parser reading
// the Host up to its first ":" (nginx) would see: no host confusion.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "Example.COM.:8443", "[::1]:80", "[2001:db8::1]", "1.2.3.4:80", "secure.example.com:80:90",
		"host::", "a..b", "host:", "host:0", "host:65536", "[fe80::1%25eth0]", "user@host", "", ".", "x:+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, ok := parseHost(in)
		if !ok {
			if h != "" {
				t.Fatalf("parseHost(%q) = %q with ok false", in, h)
			}
			return
		}
		if h != strings.ToLower(h) || strings.HasSuffix(h, ".") {
			t.Fatalf("parseHost(%q) = %q: not lower case without trailing dot", in, h)
		}
		if strings.HasPrefix(in, "[") {
			a, err := netip.ParseAddr(h)
			if err != nil || !a.Is6() {
				t.Fatalf("parseHost(%q) = %q: not an IPv6 address", in, h)
			}
			if h2, ok := parseHost("[" + h + "]"); !ok || h2 != h {
				t.Fatalf("parseHost([%q]) = %q, %v; want %q", h, h2, ok, h)
			}
			return
		}
		if strings.ContainsAny(h, ":[]@/\\% ") {
			t.Fatalf("parseHost(%q) = %q: holds a byte outside the grammar", in, h)
		}
		// nginx's reading: up to the first ":", trailing dot removed.
		first, _, _ := strings.Cut(in, ":")
		if nginx := strings.ToLower(strings.TrimSuffix(first, ".")); nginx != h {
			t.Fatalf("parseHost(%q) = %q, but a first-colon reader sees %q", in, h, nginx)
		}
		if h2, ok := parseHost(h); !ok || h2 != h {
			t.Fatalf("parseHost(%q) = %q, %v; not idempotent", h, h2, ok)
		}
	})
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
