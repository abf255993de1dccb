package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

func TestMatchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		fold bool
		want string
	}{
		{"/", false, "/"},
		{"/admin", false, "/admin"},
		{"/;x/admin", false, "/admin"},
		{"/;/admin/x", false, "/admin/x"},
		{"/admin;x/panel", false, "/admin/panel"},
		{"/admin;x;y/panel;z", false, "/admin/panel"},
		{"/admin/;x", false, "/admin/"},
		{"/;x", false, "/"},
		{"/a/b/", false, "/a/b/"},
		{"/ADMIN", false, "/ADMIN"},
		{"/ADMIN", true, "/admin"},
		{"/Admin./Panel ", true, "/admin/panel"},
		{"/admin. ./x", true, "/admin/x"},
		{"/ADMIN;X/y", true, "/admin/y"},
		{"/ ;x/Admin", true, "/admin"},
		{"/caf\xc3\x89", true, "/caf\xc3\x89"}, // ASCII letters only
		{"/\u212Aey", true, "/\u212Aey"},       // the Kelvin sign is not "k"
	}
	for _, tc := range tests {
		got := matchPath(tc.path, tc.fold)
		if got != tc.want {
			t.Errorf("matchPath(%q, %v) = %q, want %q", tc.path, tc.fold, got, tc.want)
		}
		if again := matchPath(got, tc.fold); again != got {
			t.Errorf("matchPath(%q, %v) = %q: not idempotent", got, tc.fold, again)
		}
	}
}

// TestNormalizePathFolded: server.path_matching: case_insensitive (IIS).
func TestNormalizePathFolded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw   string
		path  string // forwarded; "" = rejected
		match string
	}{
		{"/ADMIN", "/ADMIN", "/admin"},
		{"/admin.", "/admin.", "/admin"},
		{"/admin%20", "/admin ", "/admin"},
		{"/Admin.%20./Panel", "/Admin. ./Panel", "/admin/panel"},
		{"/public/..%20/admin", "/admin", "/admin"},
		{"/public/.../admin", "/admin", "/admin"},
		{"/public/..../admin", "/admin", "/admin"},
		{"/public/.%20/admin", "/public/admin", "/public/admin"},
		{"/public/%20/admin", "/public/admin", "/public/admin"},
		{"/public/%20%20/admin/", "/public/admin/", "/public/admin/"},
		{"/;x/ADMIN;y", "/;x/ADMIN;y", "/admin"},
		{"/a~b/x~", "/a~b/x~", "/a~b/x~"},
		{"/caf%E9", "/caf\xe9", "/caf\xe9"},

		{"/admin::$DATA", "", ""},
		{"/admin:stream", "", ""},
		{"/a%3Ab", "", ""},
		{"/PROGRA~1/x", "", ""},
		{"/x/ADMIN~2.ASP", "", ""},
		{"/x/a~%31", "", ""},
		{"/..%20", "", ""},       // climbs above the root
		{"/a/..%20;x/b", "", ""}, // "..;" once trimmed
		{"/a/...;x/b", "", ""},
		{"/a/.%20;x/b", "", ""},
		{"/a/.%20./b", "", ""}, // dots and spaces in another order
		{"/a/%20../b", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			path, _, err := normalizePath(tc.raw, true)
			if tc.path == "" {
				if err == nil {
					t.Fatalf("normalizePath(%q, true) = %q, nil; want errBadPath", tc.raw, path)
				}
				return
			}
			if err != nil || path != tc.path {
				t.Fatalf("normalizePath(%q, true) = %q, %v; want %q", tc.raw, path, err, tc.path)
			}
			if m := matchPath(path, true); m != tc.match {
				t.Errorf("matchPath(%q, true) = %q, want %q", path, m, tc.match)
			}
		})
	}
}

// checkMatchPath asserts the invariants of the path routes match on (for
// FuzzNormalizePath): rooted, no "//", no parameters, no dot segment,
// idempotent; folded, it has no upper-case ASCII and no segment ends in a
// dot or space.
func checkMatchPath(t *testing.T, path string, fold bool) {
	t.Helper()
	m := matchPath(path, fold)
	if !strings.HasPrefix(m, "/") || strings.Contains(m, "//") || strings.Contains(m, ";") {
		t.Fatalf("matchPath(%q, %v) = %q: not rooted, or holds // or ;", path, fold, m)
	}
	if again := matchPath(m, fold); again != m {
		t.Fatalf("matchPath(%q, %v) = %q, then %q: not idempotent", path, fold, m, again)
	}
	for seg := range strings.SplitSeq(strings.Trim(m, "/"), "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("matchPath(%q, %v) = %q: dot segment", path, fold, m)
		}
		if fold && (lowerASCII(seg) != seg || strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ")) {
			t.Fatalf("matchPath(%q, true) = %q: segment %q not folded", path, m, seg)
		}
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
	tests := []rawTarget{
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
	runRawTargets(t, env, up, tests)

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
