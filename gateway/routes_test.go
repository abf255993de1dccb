package gateway

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

func TestRouteMatch(t *testing.T) {
	t.Parallel()
	r := func(name, host, prefix string, methods ...string) config.Route {
		rc := testRoute(name, prefix, "http://upstream.invalid", config.AuthPublic)
		rc.Host, rc.Methods = host, methods
		return rc
	}
	cfg := testConfig(
		r("root", "", "/"),
		r("api", "", "/api"),
		r("api-write", "", "/api", "POST", "PUT"),
		r("api-v2", "", "/api/v2"),
		r("exact-root", "app.example.com", "/"),
		r("exact-admin", "app.example.com", "/admin"),
		r("wild", "*.example.com", "/"),
		r("wild-deep", "*.eu.example.com", "/"),
		r("wild-api", "*.example.com", "/api", "GET"),
	)
	table, _, err := buildRoutes(cfg, newSharedTransport())
	if err != nil {
		t.Fatalf("buildRoutes: %v", err)
	}
	tests := []struct {
		name, host, path, method string
		want                     string // "" = no match
	}{
		{"host-less root", "other.test", "/", "GET", "root"},
		{"segment-aware prefix", "other.test", "/api", "GET", "api"},
		{"below prefix", "other.test", "/api/x", "GET", "api"},
		{"not a segment", "other.test", "/apix", "GET", "root"},
		{"longest prefix", "other.test", "/api/v2/users", "GET", "api-v2"},
		{"methods before none", "other.test", "/api/x", "POST", "api-write"},
		{"method excluded falls through", "other.test", "/api/x", "DELETE", "api"},
		{"exact host", "app.example.com", "/x", "GET", "exact-root"},
		{"exact host with port and case", "App.Example.COM:8443", "/admin/users", "GET", "exact-admin"},
		{"exact host trailing dot", "app.example.com.", "/admin", "GET", "exact-admin"},
		{"exact beats longer host-less prefix", "app.example.com", "/api/v2", "GET", "exact-root"},
		{"wildcard", "x.example.com", "/api/v2", "GET", "wild-api"},
		{"wildcard method excluded falls to shorter prefix", "x.example.com", "/api", "POST", "wild"},
		{"wildcard matches any depth", "a.b.example.com", "/", "GET", "wild"},
		{"longer wildcard first", "x.eu.example.com", "/api", "GET", "wild-deep"},
		{"wildcard needs a label", "example.com", "/api/v2", "GET", "api-v2"},
		{"wildcard is not a suffix match without dot", "xexample.com", "/", "GET", "root"},
		{"ipv6 host", "[::1]:8080", "/", "GET", "root"},
		{"parsed host", "app.example.com", "/admin", "GET", "exact-admin"},
		{"malformed host matches nothing", "app.example.com:80:90", "/", "GET", ""},
		{"empty labels match nothing", "x..example.com", "/", "GET", ""},
		{"no host: host-less routes only", "", "/api", "GET", "api"},
		{"parameters in any segment", "app.example.com", "/;x/admin;y/z", "GET", "exact-admin"},
		{"case is exact by default", "app.example.com", "/ADMIN", "GET", "exact-root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := table.match(tc.host, tc.path, tc.method)
			name := ""
			if got != nil {
				name = got.name
			}
			if name != tc.want {
				t.Errorf("match(%q, %q, %q) = %q, want %q", tc.host, tc.path, tc.method, name, tc.want)
			}
		})
	}
}

func TestRouteNoMatchIs404(t *testing.T) {
	t.Parallel()
	rc := testRoute("only", "/only", config.EchoUpstream, config.AuthPublic)
	rc.Host = "app.example.com"
	rc.Methods = []string{"GET"}
	env := newEnv(t, envOptions{cfg: testConfig(rc)})
	tests := []struct{ name, req string }{
		{"other host", "GET /only HTTP/1.1\r\nHost: other.example.com\r\n\r\n"},
		{"other path", "GET /elsewhere HTTP/1.1\r\nHost: app.example.com\r\n\r\n"},
		{"other method", "POST /only HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 0\r\n\r\n"},
		{"X-Forwarded-Host is ignored", "GET /only HTTP/1.1\r\nHost: other.example.com\r\nX-Forwarded-Host: app.example.com\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRequest(t, env.addr(), tc.req)
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("status = %d, want 404", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if e := decodeError(t, res.body); e.Error != "not_found" {
				t.Errorf("error = %q, want not_found", e.Error)
			}
		})
	}
	res := rawRequest(t, env.addr(), "GET /only/x HTTP/1.1\r\nHost: APP.example.com.:1234\r\n\r\n")
	if res.StatusCode != http.StatusOK {
		t.Errorf("matching request: status = %d, want 200", res.StatusCode)
	}
}

func TestBuildRoutesRejectsBadUpstream(t *testing.T) {
	t.Parallel()
	for _, up := range []string{"ftp://x", "not a url", "", "http://"} {
		cfg := testConfig(testRoute("bad", "/", up, config.AuthPublic))
		if _, _, err := buildRoutes(cfg, newSharedTransport()); err == nil {
			t.Errorf("buildRoutes(upstream %q) = nil error, want error", up)
		}
	}
	cfg := testConfig(testRoute("tls", "/", "https://x.invalid", config.AuthPublic))
	cfg.Routes[0].TLS.CAFile = "/nonexistent/ca.pem"
	if _, _, err := buildRoutes(cfg, newSharedTransport()); err == nil {
		t.Error("buildRoutes(missing ca_file) = nil error, want error")
	}
}

// TestBuildRoutesErrorsAreFieldErrors: every problem is a *config.FieldError
// at the route's own YAML path, so check prints it at its line.
func TestBuildRoutesErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	good := testRoute("web", "/", config.EchoUpstream, config.AuthPublic)
	badCA := testRoute("api", "/api", "https://x.invalid", config.AuthPublic)
	badCA.TLS.CAFile = junk
	badPair := testRoute("pair", "/pair", "https://x.invalid", config.AuthPublic)
	badPair.TLS.CertFile, badPair.TLS.KeyFile = junk, junk
	badUp := testRoute("up", "/up", "ftp://x", config.AuthPublic)
	noCA := testRoute("noca", "/noca", "https://x.invalid", config.AuthPublic)
	noCA.TLS.CAFile = missing

	_, _, err := buildRoutes(testConfig(good, badCA, badPair, badUp, noCA), newSharedTransport())
	want := []string{
		"routes[1].tls.ca_file: " + junk + ": no PEM certificate found",
		"routes[2].tls.cert_file: " + junk + " (with key_file " + junk + "): tls: failed to find any PEM data in certificate input",
		`routes[3].upstream: want an http(s) URL or "echo:"`,
		"routes[4].tls.ca_file: open " + missing + ": no such file or directory",
	}
	got := config.FieldErrors(err)
	if len(got) != len(want) {
		t.Fatalf("buildRoutes = %v, want %d problems", err, len(want))
	}
	for i, fe := range got {
		if fe.Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, fe.Error(), want[i])
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("buildRoutes(missing ca_file) does not wrap fs.ErrNotExist")
	}
}
