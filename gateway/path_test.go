package gateway

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		path    string // "" = rejected
		escaped string
	}{
		{"/", "/", "/"},
		{"/a/b", "/a/b", "/a/b"},
		{"/a/b/", "/a/b/", "/a/b/"},
		{"/a/./b", "/a/b", "/a/b"},
		{"/a/b/../c", "/a/c", "/a/c"},
		{"/a/b/..", "/a/", "/a/"},
		{"/a/.", "/a/", "/a/"},
		{"/public/../secret", "/secret", "/secret"},
		{"//x", "/x", "/x"},
		{"///a//b///", "/a/b/", "/a/b/"},
		{"/a%20b", "/a b", "/a%20b"},
		{"/%41%42", "/AB", "/AB"},
		{"/caf%C3%A9", "/café", "/caf%C3%A9"},
		{"/a%25b", "/a%b", "/a%25b"},
		{"/a%3Fb", "/a?b", "/a%3Fb"},
		{"/a;b/c", "/a;b/c", "/a;b/c"},
		{"/...", "/...", "/..."},
		{"/a/..b", "/a/..b", "/a/..b"},
		{"/.well-known/x", "/.well-known/x", "/.well-known/x"},
		{"/a%253Fb", "/a%3Fb", "/a%253Fb"}, // double-encoded "?" is harmless
		{"/a!b(c)*d'e", "/a!b(c)*d'e", "/a!b(c)*d'e"},
		{"/a%21b", "/a!b", "/a!b"},
		{"/$&+,;=:@", "/$&+,;=:@", "/$&+,;=:@"},
		{"/a%23b%22c%3Cd%7B%7C%5E%60%20", "/a#b\"c<d{|^` ", "/a%23b%22c%3Cd%7B%7C%5E%60%20"},
		{"/a[1]", "/a[1]", "/a%5B1%5D"},
		{"/;x/admin", "/;x/admin", "/;x/admin"}, // parameters are forwarded as received
		{"/;/admin;a/b;c", "/;/admin;a/b;c", "/;/admin;a/b;c"},
		{"/a;x/../b", "/b", "/b"},
		{"/caf%E9", "/caf\xe9", "/caf%E9"}, // Latin-1 passes
		{"/%E0%A4%A4", "/\xe0\xa4\xa4", "/%E0%A4%A4"},
		{"/%F0%9F%98%80", "/\U0001F600", "/%F0%9F%98%80"},
		{"/%E0", "/\xe0", "/%E0"},
		{"/%25E9", "/%E9", "/%25E9"},
		{"/100%25", "/100%", "/100%25"},
		{"/a%2520b", "/a%20b", "/a%2520b"},
		{"/a/..%20/x", "/a/.. /x", "/a/..%20/x"}, // a name unless case_insensitive
		{"/ADMIN./a:b/~1", "/ADMIN./a:b/~1", "/ADMIN./a:b/~1"},

		// rejected
		{"", "", ""},
		{"a/b", "", ""},
		{"/..", "", ""},
		{"/a/../..", "", ""},
		{"/../etc/passwd", "", ""},
		{"/%2e%2e/secret", "", ""},
		{"/%2E", "", ""},
		{"/a/.%2e/b", "", ""},
		{"/..%2fsecret", "", ""},
		{"/a%2Fb", "", ""},
		{"/a%5cb", "", ""},
		{`/a\b`, "", ""},
		{`/..\secret`, "", ""},
		{"/%252e%252e/secret", "", ""},
		{"/%252E", "", ""},
		{"/%252f", "", ""},
		{"/%255C", "", ""},
		{"/%25%32%65", "", ""}, // decodes to "%2e"
		{"/a/..;/b", "", ""},
		{"/a/.;x/b", "", ""},
		{"/..;", "", ""},
		{"/a/..%3b/b", "", ""},
		{"/;x/..;/b", "", ""},
		{"/a/.;/b", "", ""},
		{"/%C0%AE%C0%AE/x", "", ""},
		{"/%c1%9c", "", ""},
		{"/%C0", "", ""},
		{"/%E0%80%AE", "", ""},
		{"/%E0%9F%BF", "", ""},
		{"/%F0%80%80%AE", "", ""},
		{"/%F0%8F%BF%BF", "", ""},
		{"/\xC0\xAE", "", ""},
		{"/\xE0\x80", "", ""},
		{"/%2500", "", ""},
		{"/%250A", "", ""},
		{"/%251f", "", ""},
		{"/%257F", "", ""},
		{"/%25C0%25AE", "", ""},
		{"/%25E0%2580", "", ""},
		{"/%E0%2580", "", ""},
		{"/a%00b", "", ""},
		{"/a%0Ab", "", ""},
		{"/a%1fb", "", ""},
		{"/a%7Fb", "", ""},
		{"/a\x00b", "", ""},
		{"/a\tb", "", ""},
		{"/a\x7fb", "", ""},
		{"/a%", "", ""},
		{"/a%4", "", ""},
		{"/a%zz", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			path, esc, err := normalizePath(tc.raw, false)
			if tc.path == "" {
				if err == nil {
					t.Fatalf("normalizePath(%q) = %q, nil; want errBadPath", tc.raw, path)
				}
				return
			}
			if err != nil || path != tc.path || esc != tc.escaped {
				t.Fatalf("normalizePath(%q) = %q, %q, %v; want %q, %q", tc.raw, path, esc, err, tc.path, tc.escaped)
			}
		})
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b", "//x", "/a/./b", "/a/b/../c", "/public/../secret", "/%2e%2e", "/..%2f",
		"/%5c", "/%252e", "/..;/", "/a%00", "/a%25b", "/caf%C3%A9", "/a;b", "/a/b/", "/\x7f",
		"/%25%32%65", "/...", "/a%3Fb?x", "/;x/admin", "/;/a;b/c;d", "/a;x/../b", "/%C0%AE", "/%E0%80%AE",
		"/%F0%80%80%AE", "/%2500", "/%25C0%25AE", "/caf%E9", "/%E0%2580", "/ADMIN.", "/admin%20", "/a/..%20/b",
		"/a/.../b", "/a/. ./b", "/a::$DATA", "/PROGRA~1", "/.. ;x", "/%20;x/a",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, fold bool) {
		path, esc, err := normalizePath(raw, fold)
		if strings.HasPrefix(raw, "/") {
			// The already-normal shortcut answers what the full walk answers.
			p2, e2, err2 := normalizeSegments(raw, fold)
			if p2 != path || e2 != esc || !errors.Is(err2, err) {
				t.Fatalf("normalizePath(%q, %v) = %q, %q, %v; normalizeSegments = %q, %q, %v", raw, fold, path, esc, err, p2, e2, err2)
			}
		}
		if err != nil {
			if path != "" || esc != "" {
				t.Fatalf("normalizePath(%q) returned %q, %q with error %v", raw, path, esc, err)
			}
			return
		}
		if !strings.HasPrefix(path, "/") || !strings.HasPrefix(esc, "/") {
			t.Fatalf("normalizePath(%q) = %q, %q: not rooted", raw, path, esc)
		}
		if strings.Contains(path, "//") {
			t.Fatalf("normalizePath(%q) = %q: contains //", raw, path)
		}
		for seg := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
			if kind, ok := segmentKind(seg, fold); path != "/" && (!ok || kind != segName) {
				t.Fatalf("normalizePath(%q, %v) = %q: segment %q is not a name", raw, fold, path, seg)
			}
		}
		if strings.ContainsAny(path, "\\") || hasControl(path) || overlongUTF8([]byte(path)) {
			t.Fatalf("normalizePath(%q) = %q: backslash, control byte or over-long form", raw, path)
		}
		p2, e2, err := normalizePath(esc, fold)
		if err != nil || p2 != path || e2 != esc {
			t.Fatalf("normalizePath(%q) = %q, %q, %v; not idempotent on %q (from %q)", esc, p2, e2, err, path, raw)
		}
		checkMatchPath(t, path, fold)
	})
}

func TestRequestTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, want string
		err       error
	}{
		{"/a/b?x=1", "/a/b", nil},
		{"/a%2Fb", "/a%2Fb", nil},
		{"http://host/a/b?q", "/a/b", nil},
		{"http://host", "/", nil},
		{"http://host?q", "/", nil},
		{"http://host:8080#f", "/", nil},
		{"http://[::1]:80/x", "/x", nil},
		{"*", "*", errBadPath},
		{"host:443", "", errBadPath},
		{"http://user@host/a?q", "/a", errBadHost},
		{"http:///a", "/a", errBadHost},
		{"http://host:80:90/a", "/a", errBadHost},
		{"http://a..b", "/", errBadHost},
	}
	for _, tc := range tests {
		r := &http.Request{RequestURI: tc.uri}
		got, err := requestTarget(r)
		if got != tc.want || err != tc.err {
			t.Errorf("requestTarget(%q) = %q, %v; want %q, %v", tc.uri, got, err, tc.want, tc.err)
		}
	}
}

// TestRawRequestPaths writes request lines verbatim over TCP (no client
// library cleans them) and checks what the upstream saw.
func TestRawRequestPaths(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	env := newEnv(t, envOptions{cfg: testConfig(
		testRoute("root", "/", up.srv.URL, config.AuthPublic),
		testRoute("secret", "/secret", up.srv.URL, config.AuthRequired),
		testRoute("admin", "/admin", up.srv.URL, config.AuthRequired),
	)})
	tests := []rawTarget{
		{"/public/../secret", http.StatusUnauthorized, ""}, // resolves into the required route
		{"/public/./../admin/x", http.StatusUnauthorized, ""},
		{"//admin", http.StatusUnauthorized, ""},
		{"/x/%2e%2e/secret", http.StatusBadRequest, ""},
		{"/x/%2E%2E/secret", http.StatusBadRequest, ""},
		{"/x/..%2fsecret", http.StatusBadRequest, ""},
		{"/x/..%2Fsecret", http.StatusBadRequest, ""},
		{"/x/%5c..%5csecret", http.StatusBadRequest, ""},
		{`/x\..\secret`, http.StatusBadRequest, ""},
		{"/x/%252e%252e/secret", http.StatusBadRequest, ""},
		{"/x/..;/secret", http.StatusBadRequest, ""},
		{"/secret;x=1/..", http.StatusOK, "/"},
		{"/secret;jsessionid=1", http.StatusUnauthorized, ""}, // path parameters do not dodge a route
		{"/secret;x/y", http.StatusUnauthorized, ""},
		{"/secretx", http.StatusOK, "/secretx"},
		{"/..", http.StatusBadRequest, ""},
		{"/x/%00", http.StatusBadRequest, ""},
		{"/x/%0d%0aSet-Cookie:x", http.StatusBadRequest, ""},
		{"/x/\x01", http.StatusBadRequest, ""},
		{"/x/%7f", http.StatusBadRequest, ""},
		{"/a/./b", http.StatusOK, "/a/b"},
		{"/a/b/../c", http.StatusOK, "/a/c"},
		{"//x", http.StatusOK, "/x"},
		{"/a//b///c?q=1&r=%2F", http.StatusOK, "/a/b/c?q=1&r=%2F"},
		{"/a%20b/caf%c3%a9", http.StatusOK, "/a%20b/caf%C3%A9"},
		{"/a%25b", http.StatusOK, "/a%25b"},
		{"/odata/items(1)!x*y", http.StatusOK, "/odata/items(1)!x*y"},
		{"/x?/../secret", http.StatusOK, "/x?/../secret"}, // the query never takes part in matching
		{"http://evil.example/a/../b", http.StatusOK, "/b"},
	}
	runRawTargets(t, env, up, tests)
}

func TestStripPrefixAndUpstreamBase(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	strip := testRoute("strip", "/api", up.srv.URL, config.AuthPublic)
	strip.StripPrefix = true
	base := testRoute("base", "/svc", up.srv.URL+"/base/", config.AuthPublic)
	both := testRoute("both", "/both", up.srv.URL+"/v1", config.AuthPublic)
	both.StripPrefix = true
	keep := testRoute("keep", "/keep", up.srv.URL, config.AuthPublic)
	env := newEnv(t, envOptions{cfg: testConfig(strip, base, both, keep)})
	tests := []struct{ target, seen string }{
		{"/api", "/"},
		{"/api/", "/"},
		{"/api/x/y?z=1", "/x/y?z=1"},
		{"/api/a%20b", "/a%20b"},
		{"/svc/x", "/base/svc/x"},
		{"/both", "/v1/"},
		{"/both/x", "/v1/x"},
		{"/keep/x", "/keep/x"},
		{"/api;v=1/x", "/x"},
		{"/api;v=1", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			res := rawRequest(t, env.addr(), "GET "+tc.target+" HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			if got := up.last(t).RequestURI; got != tc.seen {
				t.Errorf("upstream saw %q, want %q", got, tc.seen)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, prefix string
		fold         bool
		want         int
	}{
		{"/api", "/api", false, 4},
		{"/api/x", "/api", false, 4},
		{"/apix", "/api", false, -1},
		{"/ap", "/api", false, -1},
		{"/x", "/", false, 0},
		{"/api;a=b", "/api", false, 8},
		{"/api;a=b/x", "/api", false, 8},
		{"/api/v2;x/y", "/api/v2", false, 9},
		{"/api;x/v2x", "/api/v2", false, -1},
		{"/apix;y", "/api", false, -1},
		{"/;x/api", "/api", false, 7},
		{"/;/api;v/x", "/api", false, 8},
		{"/;x/api;y/;z/v2/w", "/api/v2", false, 15},
		{"/;x", "/api", false, -1},
		{"/API", "/api", false, -1},
		{"/API", "/api", true, 4},
		{"/Api. /x", "/api", true, 6},
		{"/;x/API;y/V2./z", "/api/v2", true, 13},
		{"/apiX", "/api", true, -1},
	}
	for _, tc := range tests {
		if got := prefixEnd(tc.path, tc.prefix, tc.fold); got != tc.want {
			t.Errorf("prefixEnd(%q, %q, %v) = %d, want %d", tc.path, tc.prefix, tc.fold, got, tc.want)
		}
		if in := withinPrefix(matchPath(tc.path, tc.fold), tc.prefix); in != (tc.want >= 0) {
			t.Errorf("withinPrefix(matchPath(%q, %v), %q) = %v, want %v", tc.path, tc.fold, tc.prefix, in, tc.want >= 0)
		}
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
	tests := []rawTarget{
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
	runRawTargets(t, env, up, tests)
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

// rawTarget is a request-target sent on the wire and what must come of it:
// the status, and the RequestURI the upstream saw ("" = never forwarded).
type rawTarget struct {
	target string
	status int
	seen   string
}

// runRawTargets sends each target as a raw GET and checks its rawTarget.
func runRawTargets(t *testing.T, env *env, up *recorder, tests []rawTarget) {
	t.Helper()
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
