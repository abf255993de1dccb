package config

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	c := Default()
	checks := []struct {
		path      string
		got, want any
	}{
		{"server.listen", c.Server.Listen, ":8080"},
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout, 10 * time.Second},
		{"server.idle_timeout", c.Server.IdleTimeout, 120 * time.Second},
		{"server.max_header_bytes", c.Server.MaxHeaderBytes, 65536},
		{"server.shutdown_delay", c.Server.ShutdownDelay, 5 * time.Second},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout, 25 * time.Second},
		{"server.trusted_proxies", len(c.Server.TrustedProxies), 0},
		{"server.auth_prefix", c.Server.AuthPrefix, "/auth"},
		{"server.path_matching", c.Server.PathMatching, "exact"},
		{"server.readiness_tracks_store", c.Server.ReadinessTracksStore, false},
		{"server.endpoint_body_timeout", c.Server.EndpointBodyTimeout, 10 * time.Second},
		{"metrics.listen", c.Metrics.Listen, ":9464"},
		{"admin.listen", c.Admin.Listen, "127.0.0.1:9465"},
		{"admin enabled", c.Admin.Enabled(), false},
		{"tokens.issuer", c.Tokens.Issuer, "portcullis"},
		{"tokens.audience", c.Tokens.Audience, "portcullis"},
		{"tokens.access_ttl", c.Tokens.AccessTTL, 10 * time.Minute},
		{"tokens.leeway", c.Tokens.Leeway, 5 * time.Second},
		{"tokens.keys", len(c.Tokens.Keys), 0},
		{"sessions.store", c.Sessions.Store, StoreMemory},
		{"sessions.max_per_user", c.Sessions.MaxPerUser, 5},
		{"sessions.idle_timeout", c.Sessions.IdleTimeout, 24 * time.Hour},
		{"sessions.absolute_lifetime", c.Sessions.AbsoluteLifetime, 720 * time.Hour},
		{"sessions.touch_interval", c.Sessions.TouchInterval, time.Minute},
		{"sessions.refresh_grace", c.Sessions.RefreshGrace, 30 * time.Second},
		{"sessions.redis.mode", c.Sessions.Redis.Mode, RedisStandalone},
		{"sessions.redis.key_prefix", c.Sessions.Redis.KeyPrefix, "portcullis:"},
		{"sessions.redis.dial_timeout", c.Sessions.Redis.DialTimeout, 2 * time.Second},
		{"sessions.redis.read_timeout", c.Sessions.Redis.ReadTimeout, 500 * time.Millisecond},
		{"sessions.redis.write_timeout", c.Sessions.Redis.WriteTimeout, 500 * time.Millisecond},
		{"sessions.redis.pool_size", c.Sessions.Redis.PoolSize, 10 * runtime.GOMAXPROCS(0)},
		{"sessions.cache.enabled", c.Sessions.Cache.Enabled, false},
		{"sessions.cache.max_staleness", c.Sessions.Cache.MaxStaleness, 2 * time.Second},
		{"users.argon2.max_memory_kib", c.Users.Argon2.MaxMemoryKiB, uint32(262144)},
		{"users.argon2.max_iterations", c.Users.Argon2.MaxIterations, uint32(10)},
		{"users.argon2.max_parallelism", c.Users.Argon2.MaxParallelism, uint8(16)},
		{"cookies.secure", c.Cookies.Secure, true},
		{"cookies.same_site", c.Cookies.SameSite, "lax"},
		{"cookies.access_name", c.Cookies.AccessName, "__Host-portcullis_at"},
		{"cookies.refresh_name", c.Cookies.RefreshName, "__Secure-portcullis_rt"},
		{"login.rate_limit.per_user", c.Login.RateLimit.PerUser, 10},
		{"login.rate_limit.per_ip", c.Login.RateLimit.PerIP, 20},
		{"login.rate_limit.window", c.Login.RateLimit.Window, 5 * time.Minute},
		{"headers.user", c.Headers.User, "X-Auth-User"},
		{"headers.roles", c.Headers.Roles, "X-Auth-Roles"},
		{"headers.session", c.Headers.Session, "X-Auth-Session"},
		{"headers.assertion", c.Headers.Assertion, ""},
		{"headers.pass_authorization", c.Headers.PassAuthorization, false},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"log.access_log", c.Log.AccessLog, true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("Default() %s = %v, want %v", ck.path, ck.got, ck.want)
		}
	}
}

func TestLoadMinimalEqualsDefault(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatalf("Load(minimal.yaml) = %v", err)
	}
	want := Default()
	want.Users.File = filepath.Join("testdata", "users.yaml")
	want.Path = "testdata/minimal.yaml"
	want.lines = c.lines // the line index is tested by TestConfigLine
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(minimal.yaml) = %+v\nwant %+v", c, want)
	}
}

func TestLoadDerivedCookieNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc       string
		access, refresh string
	}{
		{"secure", "", "__Host-portcullis_at", "__Secure-portcullis_rt"},
		{"secure with domain", "cookies:\n  domain: example.com\n", "__Secure-portcullis_at", "__Secure-portcullis_rt"},
		{"not secure", "cookies:\n  secure: false\n", "portcullis_at", "portcullis_rt"},
		{"explicit names kept", "cookies:\n  secure: false\n  access_name: at\n  refresh_name: rt\n", "at", "rt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, tt.doc+usersLine, nil)
			if c.Cookies.AccessName != tt.access || c.Cookies.RefreshName != tt.refresh {
				t.Errorf("cookie names = %q, %q; want %q, %q", c.Cookies.AccessName, c.Cookies.RefreshName, tt.access, tt.refresh)
			}
		})
	}
}

func TestLoadExplicitZerosKept(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "server:\n  shutdown_delay: 0s\n  readiness_tracks_store: true\n"+
		"sessions:\n  max_per_user: 0\n  refresh_grace: 0s\n"+
		"cookies:\n  secure: false\n"+
		"login:\n  rate_limit: {per_user: 0, per_ip: 0}\n"+
		"log:\n  access_log: false\n"+
		"tokens:\n  leeway: 0s\n"+
		"routes:\n  - name: r\n    upstream: \"echo:\"\n    csrf: false\n    preserve_host: false\n    pass_authorization: false\n"+
		usersLine, nil)
	checks := []struct {
		path      string
		got, want any
	}{
		{"server.shutdown_delay", c.Server.ShutdownDelay, time.Duration(0)},
		{"server.readiness_tracks_store", c.Server.ReadinessTracksStore, true},
		{"sessions.max_per_user", c.Sessions.MaxPerUser, 0},
		{"sessions.refresh_grace", c.Sessions.RefreshGrace, time.Duration(0)},
		{"cookies.secure", c.Cookies.Secure, false},
		{"login.rate_limit.per_user", c.Login.RateLimit.PerUser, 0},
		{"login.rate_limit.per_ip", c.Login.RateLimit.PerIP, 0},
		{"login.rate_limit.window", c.Login.RateLimit.Window, 5 * time.Minute},
		{"log.access_log", c.Log.AccessLog, false},
		{"tokens.leeway", c.Tokens.Leeway, time.Duration(0)},
		{"routes[0].csrf", c.Routes[0].CSRF, false},
		{"routes[0].preserve_host", c.Routes[0].PreserveHost, false},
		{"routes[0] PassAuth(true)", c.Routes[0].PassAuth(true), false},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.path, ck.got, ck.want)
		}
	}
}

func TestLoadRouteDefaultsAndNormalisation(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "routes:\n"+
		"  - name: a\n    upstream: http://backend:8000/base\n"+
		"  - name: b\n    host: API.Example.COM.\n    methods: [get, Post]\n    upstream: \"echo:\"\n    pass_authorization: true\n"+
		"    upgrades: []\n    allow_method_override: true\n"+
		"login:\n  allowed_redirect_hosts: [App.Example.com., \".Example.COM\", \"Web.Example.com:8443\"]\n"+
		"  trusted_origins: [\"HTTPS://App.Example.com\"]\n"+
		"server:\n  trusted_proxies: [10.1.2.3/24, 192.0.2.7, \"2001:db8::1\"]\n"+
		usersLine, nil)
	a := c.Routes[0]
	if a.PathPrefix != "/" || a.Auth != AuthRequired || !a.PreserveHost || a.Timeout != 30*time.Second || !a.CSRF || a.PassAuthorization != nil {
		t.Errorf("route defaults = %+v, want path_prefix /, auth required, preserve_host, 30s, csrf, pass_authorization unset", a)
	}
	if !reflect.DeepEqual(a.Upgrades, []string{"websocket"}) || a.AllowMethodOverride {
		t.Errorf("route upgrades %q allow_method_override %v, want [websocket] false", a.Upgrades, a.AllowMethodOverride)
	}
	if !a.PassAuth(true) || a.PassAuth(false) {
		t.Errorf("PassAuth without a route value should follow the global value")
	}
	if u := a.UpstreamURL(); u == nil || u.Host != "backend:8000" || u.Path != "/base" {
		t.Errorf("UpstreamURL() = %v, want http://backend:8000/base", u)
	}
	b := c.Routes[1]
	if b.Host != "api.example.com" || !reflect.DeepEqual(b.Methods, []string{"GET", "POST"}) {
		t.Errorf("route b host %q methods %q, want api.example.com [GET POST]", b.Host, b.Methods)
	}
	if b.Upgrades == nil || len(b.Upgrades) != 0 || !b.AllowMethodOverride {
		t.Errorf("route b upgrades %q allow_method_override %v, want [] (forbids all) true", b.Upgrades, b.AllowMethodOverride)
	}
	if !b.IsEcho() || b.UpstreamURL() != nil || !b.PassAuth(false) {
		t.Errorf("echo route: IsEcho %v UpstreamURL %v PassAuth(false) %v", b.IsEcho(), b.UpstreamURL(), b.PassAuth(false))
	}
	wantHosts := []string{"app.example.com", ".example.com", "web.example.com:8443"}
	if !reflect.DeepEqual(c.Login.AllowedRedirectHosts, wantHosts) {
		t.Errorf("allowed_redirect_hosts = %q, want %q", c.Login.AllowedRedirectHosts, wantHosts)
	}
	if c.Login.TrustedOrigins[0] != "https://app.example.com" {
		t.Errorf("trusted_origins[0] = %q, want lower case", c.Login.TrustedOrigins[0])
	}
	wantProxies := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.0/24"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::1/128"),
	}
	if !reflect.DeepEqual(c.Server.TrustedProxies, wantProxies) {
		t.Errorf("trusted_proxies = %v, want %v", c.Server.TrustedProxies, wantProxies)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	keys := Tokens{Keys: []Key{
		{ID: "pub", Alg: "EdDSA", PublicKeyFile: "p.pem"},
		{ID: "hs", Alg: "HS256", Secret: "base64:" + "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="},
		{ID: "ed", Alg: "EdDSA", PrivateKeyFile: "k.pem"},
	}}
	if k := keys.SigningKey(); k == nil || k.ID != "hs" {
		t.Errorf("SigningKey() = %v, want hs", k)
	}
	if (Tokens{}).SigningKey() != nil {
		t.Errorf("SigningKey() without keys should be nil (ephemeral key)")
	}
	c := &Config{Tokens: keys}
	if k := c.assertionKey(); k == nil || k.ID != "ed" {
		t.Errorf("assertionKey() = %v, want ed", k)
	}
	b, err := keys.Keys[1].SecretBytes()
	if err != nil || string(b) != "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
		t.Errorf("SecretBytes() = %q, %v", b, err)
	}
	if !keys.Keys[1].IsHMAC() || keys.Keys[2].IsHMAC() {
		t.Errorf("IsHMAC wrong")
	}
}

func TestLoadTestdata(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "pw")
	for _, name := range []string{"minimal.yaml", "production.yaml", "full.yaml"} {
		if _, err := Load(filepath.Join("testdata", name)); err != nil {
			t.Errorf("Load(%s) = %v", name, err)
		}
	}
}
