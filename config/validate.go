package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Validate checks every rule of SPEC §3 that can be checked without I/O and
// returns every problem at once: errors.Join of *FieldError, each with its
// YAML path set (Load adds the file and line). It assumes Load has read the
// _file secrets; a secret still only named by its file is not length-checked.
func (c *Config) Validate() error {
	var p problems
	c.validateServer(&p)
	c.validateTokens(&p)
	c.validateSessions(&p)
	c.validateUsers(&p)
	c.validateCookies(&p)
	c.validateLogin(&p)
	c.validateHeaders(&p)
	c.validateRoutes(&p)
	c.validateLog(&p)
	c.validateUI(&p)
	c.validateIdentityProviders(&p)
	return p.err()
}

func (c *Config) validateServer(p *problems) {
	s := c.Server
	checkListen(p, "server.listen", s.Listen)
	bothOrNeither(p, "server.tls", s.TLS.CertFile, s.TLS.KeyFile, "cert_file", "key_file")
	positive(p, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	if s.MaxHeaderBytes <= 0 {
		p.add("server.max_header_bytes", "must be positive")
	}
	if s.ShutdownDelay < 0 {
		p.add("server.shutdown_delay", "must not be negative")
	}
	positive(p, "server.shutdown_timeout", s.ShutdownTimeout)
	positive(p, "server.endpoint_body_timeout", s.EndpointBodyTimeout)
	for i, pr := range s.TrustedProxies {
		if !pr.IsValid() {
			p.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "invalid CIDR")
		}
	}
	if msg := pathProblem(s.AuthPrefix, false); msg != "" {
		p.add("server.auth_prefix", "%s", msg)
	}
	switch s.PathMatching {
	case PathMatchingExact:
	case PathMatchingCaseInsensitive:
		if msg := pathProblem(s.AuthPrefix, false); msg == "" {
			if msg = foldedPathProblem(s.AuthPrefix); msg != "" {
				p.add("server.auth_prefix", "%s", msg)
			}
		}
	default:
		p.add("server.path_matching", "unknown value %q: want exact or case_insensitive", s.PathMatching)
	}

	checkListen(p, "metrics.listen", c.Metrics.Listen)
	listeners := [][2]string{{"server.listen", s.Listen}, {"metrics.listen", c.Metrics.Listen}}
	if c.Admin.Enabled() {
		checkListen(p, "admin.listen", c.Admin.Listen)
		if len(c.Admin.Token) < 32 {
			p.add(secretPath("admin.token", c.Admin.TokenFile), "must be at least 32 bytes")
		}
		listeners = append(listeners, [2]string{"admin.listen", c.Admin.Listen})
	}
	for i := range listeners {
		for j := range i {
			a, b := listeners[j], listeners[i]
			if a[1] == b[1] && !strings.HasSuffix(b[1], ":0") {
				p.add(b[0], "same address as %s", a[0])
			}
		}
	}
}

// secretPath names the _file key when the secret came from a file.
func secretPath(path, file string) string {
	if file != "" {
		return path + "_file"
	}
	return path
}

func checkListen(p *problems, path, addr string) {
	if addr == "" {
		p.add(path, "required")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "want host:port, e.g. \":8080\" or \"127.0.0.1:8080\"")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(path, "invalid port %q", port)
	}
	if host != "" && !validHostname(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			p.add(path, "invalid host %q", host)
		}
	}
}

// checkHostPort checks a host:port where the host is required (a Redis address).
func checkHostPort(p *problems, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		p.add(path, "want host:port, e.g. \"redis:6379\"")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.add(path, "invalid port %q", port)
	}
}

func bothOrNeither(p *problems, base, a, b, aName, bName string) {
	switch {
	case a != "" && b == "":
		p.add(base+"."+bName, "required when %s is set", aName)
	case a == "" && b != "":
		p.add(base+"."+aName, "required when %s is set", bName)
	}
}

func positive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be positive")
	}
}

// Key algorithms.
var (
	hmacAlgs       = map[string]bool{"HS256": true, "HS384": true, "HS512": true}
	asymmetricAlgs = map[string]bool{"RS256": true, "ES256": true, "EdDSA": true}
)

func (c *Config) validateTokens(p *problems) {
	t := c.Tokens
	if t.Issuer == "" {
		p.add("tokens.issuer", "required")
	}
	if t.Audience == "" {
		p.add("tokens.audience", "required")
	}
	positive(p, "tokens.access_ttl", t.AccessTTL)
	if t.Leeway < 0 || t.Leeway > maxLeeway {
		p.add("tokens.leeway", "must be between 0s and %s", maxLeeway)
	}
	ids := map[string]int{}
	canSign := false
	for i, k := range t.Keys {
		base := fmt.Sprintf("tokens.keys[%d]", i)
		if k.ID == "" {
			p.add(base+".id", "required")
		} else if j, dup := ids[k.ID]; dup {
			p.add(base+".id", "duplicate id %q (also tokens.keys[%d])", k.ID, j)
		} else {
			ids[k.ID] = i
		}
		if k.CanSign() {
			canSign = true
		}
		validateKey(p, base, k)
	}
	if len(t.Keys) > 0 && !canSign {
		p.add("tokens.keys", "no key can sign: at least one key needs secret, secret_file or private_key_file")
	}
	if len(t.Keys) == 0 && c.Sessions.Store == StoreRedis {
		p.add("tokens.keys", "required with sessions.store redis (an ephemeral key would differ between replicas and restarts)")
	}
	if c.Headers.Assertion != "" && len(t.Keys) > 0 && c.assertionKey() == nil {
		p.add("headers.assertion", "needs an asymmetric signing key (RS256, ES256 or EdDSA with private_key_file); HMAC and public-only keys cannot sign assertions")
	}
}

// assertionKey returns the first asymmetric key with private material, or nil.
func (c *Config) assertionKey() *Key {
	for i, k := range c.Tokens.Keys {
		if asymmetricAlgs[k.Alg] && k.PrivateKeyFile != "" {
			return &c.Tokens.Keys[i]
		}
	}
	return nil
}

func validateKey(p *problems, base string, k Key) {
	hasSecret := k.Secret != "" || k.SecretFile != ""
	sources := 0
	for _, set := range []bool{hasSecret, k.PrivateKeyFile != "", k.PublicKeyFile != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		p.add(base, "no key material: set one of secret, secret_file, private_key_file, public_key_file")
	case sources > 1:
		p.add(base, "set only one of secret, secret_file, private_key_file, public_key_file")
	}
	switch {
	case sources == 0 && k.Alg != "" && (hmacAlgs[k.Alg] || asymmetricAlgs[k.Alg]):
		// Already reported: no key material.
	case hmacAlgs[k.Alg]:
		if !hasSecret {
			p.add(base, "%s needs secret or secret_file", k.Alg)
		} else if k.Secret != "" {
			if _, err := k.SecretBytes(); err != nil {
				p.add(secretPath(base+".secret", k.SecretFile), "%v", err)
			}
		}
	case asymmetricAlgs[k.Alg]:
		if hasSecret {
			p.add(secretPath(base+".secret", k.SecretFile), "%s takes private_key_file or public_key_file, not a secret", k.Alg)
		} else if k.PrivateKeyFile == "" && k.PublicKeyFile == "" {
			p.add(base, "%s needs private_key_file or public_key_file", k.Alg)
		}
	case k.Alg == "":
		p.add(base+".alg", "required (one of HS256, HS384, HS512, RS256, ES256, EdDSA)")
	default:
		p.add(base+".alg", "unsupported algorithm %q: want one of HS256, HS384, HS512, RS256, ES256, EdDSA", k.Alg)
	}
}

// minHMACSecret is the minimum HMAC secret length (SPEC §3).
const minHMACSecret = 32

// SecretBytes returns the HMAC secret: the raw bytes, or the decoding of a
// "base64:"-prefixed value (standard alphabet, padding optional). It fails
// when the secret is shorter than 32 bytes or the base64 is malformed.
func (k Key) SecretBytes() ([]byte, error) {
	s := k.Secret.Reveal()
	var b []byte
	if rest, ok := strings.CutPrefix(s, "base64:"); ok {
		var err error
		b, err = base64.StdEncoding.DecodeString(rest)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(rest)
		}
		if err != nil {
			// Never echo the secret or the decoder's offset into it.
			return nil, errors.New("invalid base64 after \"base64:\"")
		}
	} else {
		b = []byte(s)
	}
	if len(b) < minHMACSecret {
		return nil, fmt.Errorf("secret must be at least %d bytes", minHMACSecret)
	}
	return b, nil
}

// CanSign reports whether the key holds private material (a secret or a
// private key file); the first such key signs access tokens.
func (k Key) CanSign() bool {
	return k.Secret != "" || k.SecretFile != "" || k.PrivateKeyFile != ""
}

// IsHMAC reports whether the key uses an HS algorithm.
func (k Key) IsHMAC() bool { return hmacAlgs[k.Alg] }

func (c *Config) validateSessions(p *problems) {
	s := c.Sessions
	switch s.Store {
	case StoreMemory, StoreRedis:
	default:
		p.add("sessions.store", "unknown store %q: want memory or redis", s.Store)
	}
	if s.MaxPerUser < 0 {
		p.add("sessions.max_per_user", "must not be negative (0 = unlimited)")
	}
	positive(p, "sessions.idle_timeout", s.IdleTimeout)
	positive(p, "sessions.absolute_lifetime", s.AbsoluteLifetime)
	positive(p, "sessions.touch_interval", s.TouchInterval)
	if s.TouchInterval > 0 && s.IdleTimeout > 0 && s.TouchInterval >= s.IdleTimeout {
		p.add("sessions.touch_interval", "must be shorter than sessions.idle_timeout")
	}
	if s.RefreshGrace < 0 {
		p.add("sessions.refresh_grace", "must not be negative")
	}
	if s.Store == StoreRedis {
		validateRedis(p, s.Redis)
	}
	if s.Cache.Enabled && s.Store == StoreMemory {
		p.add("sessions.cache.enabled", "a cache needs sessions.store redis (the memory store is already local)")
	}
	if s.Cache.MaxStaleness <= 0 || s.Cache.MaxStaleness > maxCacheMaxStaleness {
		p.add("sessions.cache.max_staleness", "must be above 0s and at most %s", maxCacheMaxStaleness)
	}
}

func validateRedis(p *problems, r Redis) {
	const base = "sessions.redis"
	switch r.Mode {
	case RedisStandalone, RedisSentinel, RedisCluster:
	default:
		p.add(base+".mode", "unknown mode %q: want standalone, sentinel or cluster", r.Mode)
	}
	if len(r.Addrs) == 0 {
		p.add(base+".addrs", "required with sessions.store redis")
	}
	for i, a := range r.Addrs {
		checkHostPort(p, fmt.Sprintf("%s.addrs[%d]", base, i), a)
	}
	if r.Mode == RedisStandalone && len(r.Addrs) > 1 {
		p.add(base+".addrs", "mode standalone takes one address (use sentinel or cluster for several)")
	}
	if r.Mode == RedisSentinel && r.MasterName == "" {
		p.add(base+".master_name", "required with mode sentinel")
	}
	if r.DB < 0 {
		p.add(base+".db", "must not be negative")
	}
	if r.DB != 0 && r.Mode == RedisCluster {
		p.add(base+".db", "must be 0 with mode cluster (Redis Cluster has only db 0)")
	}
	if strings.ContainsAny(r.KeyPrefix, "{}") {
		// A brace would change the hash tag, splitting a user's keys across slots.
		p.add(base+".key_prefix", "must not contain { or }")
	}
	positive(p, base+".dial_timeout", r.DialTimeout)
	positive(p, base+".read_timeout", r.ReadTimeout)
	positive(p, base+".write_timeout", r.WriteTimeout)
	if r.PoolSize <= 0 {
		p.add(base+".pool_size", "must be positive")
	}
	bothOrNeither(p, base+".tls", r.TLS.CertFile, r.TLS.KeyFile, "cert_file", "key_file")
	if !r.TLS.Enabled && r.TLS != (RedisTLS{}) {
		p.add(base+".tls.enabled", "must be true when other tls settings are given")
	}
}

func (c *Config) validateUsers(p *problems) {
	if c.Users.File == "" && len(c.IdentityProviders) == 0 {
		p.add("users.file", "required (unless identity_providers are configured)")
	}
	a := c.Users.Argon2
	if a.MaxMemoryKiB == 0 {
		p.add("users.argon2.max_memory_kib", "must be positive")
	}
	if a.MaxIterations == 0 {
		p.add("users.argon2.max_iterations", "must be positive")
	}
	if a.MaxParallelism == 0 {
		p.add("users.argon2.max_parallelism", "must be positive")
	}
}

func (c *Config) validateLog(p *problems) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "unknown level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "unknown format %q: want text or json", c.Log.Format)
	}
}
