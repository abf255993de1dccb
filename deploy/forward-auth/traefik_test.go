package forwardauth_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portcullis-gw/portcullis/config"
)

// traefikDynamic is the part of Traefik's file-provider schema the shipped
// traefik-dynamic.yml uses. KnownFields makes a misspelt key a failure.
type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string   `yaml:"rule"`
			Service     string   `yaml:"service"`
			Priority    int      `yaml:"priority"`
			Middlewares []string `yaml:"middlewares"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *struct {
				Address             string   `yaml:"address"`
				TrustForwardHeader  bool     `yaml:"trustForwardHeader"`
				AuthRequestHeaders  []string `yaml:"authRequestHeaders"`
				AuthResponseHeaders []string `yaml:"authResponseHeaders"`
			} `yaml:"forwardAuth"`
			Errors *struct {
				Status  []string `yaml:"status"`
				Service string   `yaml:"service"`
				Query   string   `yaml:"query"`
			} `yaml:"errors"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// identityHeaders are the gateway's default identity headers (SPEC §6).
var identityHeaders = []string{"X-Auth-User", "X-Auth-Roles", "X-Auth-Session"}

// TestTraefikConfig: Traefik is not packaged here, so its example is parsed
// and checked against what the nginx and Caddy examples (run for real by the
// other tests) use: the same endpoint and the same identity headers.
func TestTraefikConfig(t *testing.T) {
	dec := yaml.NewDecoder(strings.NewReader(shipped(t, "traefik-dynamic.yml")))
	dec.KnownFields(true)
	var cfg traefikDynamic
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("traefik-dynamic.yml: %v", err)
	}
	h := cfg.HTTP
	if d := config.Default().Headers; !slices.Equal(identityHeaders, []string{d.User, d.Roles, d.Session}) {
		t.Fatalf("identity headers %v are not the gateway's defaults %v", identityHeaders, d)
	}
	auth := h.Middlewares["portcullis-auth"].ForwardAuth
	if auth == nil {
		t.Fatal("no forwardAuth middleware portcullis-auth")
	}
	if !strings.HasSuffix(auth.Address, "/auth/verify") || !strings.HasPrefix(auth.Address, "http://portcullis:8080") {
		t.Errorf("forwardAuth address %q, want the gateway's /auth/verify", auth.Address)
	}
	if auth.TrustForwardHeader {
		t.Error("trustForwardHeader: true would pass a client's X-Forwarded-Uri to the gateway")
	}
	if !slices.Equal(auth.AuthResponseHeaders, identityHeaders) {
		t.Errorf("authResponseHeaders %v, want %v", auth.AuthResponseHeaders, identityHeaders)
	}
	for _, need := range []string{"Authorization", "Cookie", "Accept"} {
		if !slices.Contains(auth.AuthRequestHeaders, need) {
			t.Errorf("authRequestHeaders %v lack %s (credentials, navigation detection)", auth.AuthRequestHeaders, need)
		}
	}
	// X-Original-URI next to Traefik's own X-Forwarded-Uri makes every check a 403.
	if slices.ContainsFunc(auth.AuthRequestHeaders, func(s string) bool { return strings.EqualFold(s, "X-Original-URI") }) {
		t.Error("authRequestHeaders pass X-Original-URI")
	}
	app := h.Routers["app"]
	if !slices.Contains(app.Middlewares, "portcullis-auth") {
		t.Errorf("router app middlewares %v lack portcullis-auth", app.Middlewares)
	}
	ep := h.Routers["portcullis-endpoints"]
	if !strings.Contains(ep.Rule, "PathPrefix(`/auth/`)") || ep.Service != "portcullis" || ep.Priority <= app.Priority {
		t.Errorf("router portcullis-endpoints = %+v, want /auth/ to the gateway ahead of the app", ep)
	}
	if e := h.Middlewares["portcullis-login"].Errors; e == nil || e.Service != "portcullis" || !strings.HasPrefix(e.Query, "/auth/login") || !slices.Contains(e.Status, "401") {
		t.Errorf("portcullis-login errors middleware = %+v, want 401 → the gateway's login page", e)
	}
	if s := h.Services["portcullis"].LoadBalancer.Servers; len(s) != 1 || s[0].URL != "http://portcullis:8080" {
		t.Errorf("service portcullis servers %v", s)
	}
}

// TestExamplesAgree: the nginx and Caddy examples (run for real by the other
// tests) use the endpoint and identity headers the Traefik one names.
func TestExamplesAgree(t *testing.T) {
	caddy := shipped(t, "Caddyfile")
	if !strings.Contains(caddy, "uri /auth/verify") || !strings.Contains(caddy, "copy_headers "+strings.Join(identityHeaders, " ")) {
		t.Error("Caddyfile does not use /auth/verify with the same identity headers")
	}
	nginx := shipped(t, "nginx.conf")
	if !strings.Contains(nginx, "proxy_pass http://portcullis/auth/verify;") {
		t.Error("nginx.conf does not use /auth/verify")
	}
	for _, name := range identityHeaders {
		v := "$upstream_http_" + strings.ReplaceAll(strings.ToLower(name), "-", "_")
		if !regexp.MustCompile(`auth_request_set\s+\$\w+\s+` + regexp.QuoteMeta(v) + `;`).MatchString(nginx) {
			t.Errorf("nginx.conf does not copy %s from /auth/verify", name)
		}
	}
}
