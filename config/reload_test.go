package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReloadBlockers(t *testing.T) {
	t.Parallel()
	base := func() *Config {
		c := Default()
		c.Users.File = "users.yaml"
		c.Server.TLS = ServerTLS{CertFile: "a.crt", KeyFile: "a.key"}
		c.Routes = []Route{DefaultRoute()}
		c.Routes[0].Name, c.Routes[0].Upstream = "r", EchoUpstream
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"nothing", func(*Config) {}, nil},
		{"server.listen", func(c *Config) { c.Server.Listen = ":8081" }, []string{"server.listen"}},
		{"server tls off", func(c *Config) { c.Server.TLS = ServerTLS{} }, []string{"server.tls"}},
		{"server tls files", func(c *Config) { c.Server.TLS.CertFile = "b.crt" }, nil},
		{"metrics.listen", func(c *Config) { c.Metrics.Listen = ":9999" }, []string{"metrics.listen"}},
		{"admin on", func(c *Config) { c.Admin.Token = Secret(strings.Repeat("t", 32)) }, []string{"admin.token"}},
		{"admin listen while off", func(c *Config) { c.Admin.Listen = ":1" }, nil},
		{"admin listen and on", func(c *Config) { c.Admin.Listen = ":1"; c.Admin.Token = "t" }, []string{"admin.token", "admin.listen"}},
		{"listener settings", func(c *Config) {
			c.Server.ReadHeaderTimeout, c.Server.IdleTimeout, c.Server.MaxHeaderBytes, c.Server.AuthPrefix = 1, 1, 1, "/x"
		}, []string{"server.read_header_timeout", "server.idle_timeout", "server.max_header_bytes", "server.auth_prefix"}},
		{"issuer and audience", func(c *Config) { c.Tokens.Issuer, c.Tokens.Audience = "a", "b" }, []string{"tokens.issuer", "tokens.audience"}},
		{"sessions scalar", func(c *Config) { c.Sessions.MaxPerUser = 0 }, []string{"sessions.max_per_user"}},
		{"sessions redis", func(c *Config) {
			c.Sessions.Redis.Addrs = []string{"r:6379"}
			c.Sessions.Redis.Password = "new"
			c.Sessions.Redis.TLS.Enabled = true
		}, []string{"sessions.redis.addrs", "sessions.redis.password", "sessions.redis.tls.enabled"}},
		{"sessions cache", func(c *Config) { c.Sessions.Cache.MaxStaleness = 1 }, []string{"sessions.cache.max_staleness"}},
		{"cookies", func(c *Config) { c.Cookies.Secure = false; c.Cookies.Domain = "x" }, []string{"cookies.domain", "cookies.secure"}},
		{"log.format", func(c *Config) { c.Log.Format = "json" }, []string{"log.format"}},
		{"users.file", func(c *Config) { c.Users.File = "other.yaml" }, []string{"users.file"}},
		{"users.argon2", func(c *Config) {
			c.Users.Argon2.MaxMemoryKiB, c.Users.Argon2.MaxIterations, c.Users.Argon2.MaxParallelism = 1, 3, 1
		}, []string{"users.argon2.max_memory_kib", "users.argon2.max_iterations", "users.argon2.max_parallelism"}},
		{"swappable", func(c *Config) {
			c.Routes[0].Upstream = "http://other"
			c.Routes = append(c.Routes, DefaultRoute())
			c.Headers.User = "X-User"
			c.Headers.PassAuthorization = true
			c.Login.RateLimit.PerIP = 1
			c.Login.AllowedRedirectHosts = []string{"a"}
			c.Tokens.Keys = []Key{{ID: "k", Alg: "EdDSA", PrivateKeyFile: "k.pem"}}
			c.Tokens.AccessTTL = 1
			c.Log.Level = "debug"
			c.Log.AccessLog = false
			c.Server.TrustedProxies = nil
			c.Server.PathMatching = PathMatchingCaseInsensitive // SPEC §8: reloadable
			c.Server.EndpointBodyTimeout = time.Second
			c.Routes[0].Upgrades = nil
			c.Routes[0].AllowMethodOverride = true
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			old, new := base(), base()
			tt.change(new)
			if got := ReloadBlockers(old, new); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReloadBlockers() = %q, want %q", got, tt.want)
			}
			if got := ReloadBlockers(new, old); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReloadBlockers(reversed) = %q, want %q", got, tt.want)
			}
		})
	}
}
