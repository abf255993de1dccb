package config

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config is the whole gateway.yaml document (SPEC §3). Load fills every
// default, expands the environment, reads the _file secrets and validates;
// a *Config returned by Load is ready to use and must be treated as read-only.
type Config struct {
	Server   Server   `yaml:"server"`
	Metrics  Metrics  `yaml:"metrics"`
	Admin    Admin    `yaml:"admin"`
	Tokens   Tokens   `yaml:"tokens"`
	Sessions Sessions `yaml:"sessions"`
	Users    Users    `yaml:"users"`
	Cookies  Cookies  `yaml:"cookies"`
	Login    Login    `yaml:"login"`
	Headers  Headers  `yaml:"headers"`
	Routes   []Route  `yaml:"routes"`
	Log      Log      `yaml:"log"`
	UI       UI       `yaml:"ui"`

	// IdentityProviders are the OpenID Connect providers users may sign in
	// with (SPEC §9); with one or more, users.file is optional.
	IdentityProviders []IdentityProvider `yaml:"identity_providers"`

	// Path is the file the config was loaded from. Relative file paths in the
	// config (users.file, key files, TLS files, _file secrets) are resolved
	// against its directory by Load, so every path in a loaded Config is
	// absolute or relative to the process working directory as written.
	Path string `yaml:"-"`

	// lines maps each YAML path of the file to its line (see Line).
	lines map[string]int
}

// Secret is a string that never appears in logs or %v output.
type Secret string

// LogValue implements slog.LogValuer with a redacted form.
func (s Secret) LogValue() slog.Value {
	if s == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("[redacted]")
}

// String returns a redacted form so that fmt never prints the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// Server is the proxy listener.
type Server struct {
	Listen            string        `yaml:"listen"`              // ":8080"
	TLS               ServerTLS     `yaml:"tls"`                 // optional; both files or neither
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // 10s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // 120s
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`    // 65536
	ShutdownDelay     time.Duration `yaml:"shutdown_delay"`      // 5s
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`    // 25s
	// TrustedProxies are CIDRs (a bare address is taken as a single-host prefix).
	TrustedProxies       []netip.Prefix `yaml:"trusted_proxies"`
	AuthPrefix           string         `yaml:"auth_prefix"`            // "/auth"
	ReadinessTracksStore bool           `yaml:"readiness_tracks_store"` // false
	// PathMatching is PathMatchingExact (default) or
	// PathMatchingCaseInsensitive (IIS and Windows upstreams).
	PathMatching string `yaml:"path_matching"`
	// EndpointBodyTimeout bounds the arrival of the whole body of a request
	// to a gateway endpoint (proxied bodies are never cut).
	EndpointBodyTimeout time.Duration `yaml:"endpoint_body_timeout"` // 10s
}

// server.path_matching values.
const (
	PathMatchingExact           = "exact"
	PathMatchingCaseInsensitive = "case_insensitive"
)

// FoldsPathCase reports whether routes match paths as IIS reads them (ASCII
// case folded, trailing dots and spaces of each segment ignored).
func (s Server) FoldsPathCase() bool { return s.PathMatching == PathMatchingCaseInsensitive }

// ServerTLS enables TLS termination on the proxy listener when both files are set.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS termination is configured.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Metrics is the unauthenticated /metrics, /healthz, /readyz listener.
type Metrics struct {
	Listen string `yaml:"listen"` // ":9464"
}

// Admin is the /admin/* listener; it is off when Token is empty.
type Admin struct {
	Listen    string `yaml:"listen"` // "127.0.0.1:9465"
	Token     Secret `yaml:"token"`  // ≥ 32 bytes; filled from TokenFile by Load
	TokenFile string `yaml:"token_file"`
}

// Tokens configures access-token issuing and verification.
type Tokens struct {
	Issuer    string        `yaml:"issuer"`     // "portcullis"
	Audience  string        `yaml:"audience"`   // "portcullis"
	AccessTTL time.Duration `yaml:"access_ttl"` // 10m
	Leeway    time.Duration `yaml:"leeway"`     // 5s, max 30s
	Keys      []Key         `yaml:"keys"`       // none → ephemeral Ed25519 (memory store only)
}

// Key is one signing or verification key. Exactly one source of key material.
type Key struct {
	ID  string `yaml:"id"`
	Alg string `yaml:"alg"` // HS256 HS384 HS512 RS256 ES256 EdDSA
	// Secret is the HMAC secret: raw bytes (≥ 32) or "base64:"-prefixed.
	// Load fills it from SecretFile.
	Secret         Secret `yaml:"secret"`
	SecretFile     string `yaml:"secret_file"`
	PrivateKeyFile string `yaml:"private_key_file"` // PEM; signs and verifies
	PublicKeyFile  string `yaml:"public_key_file"`  // PEM; verifies only
}

// Store kinds.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// Redis modes.
const (
	RedisStandalone = "standalone"
	RedisSentinel   = "sentinel"
	RedisCluster    = "cluster"
)

// Sessions configures the session store and session lifetimes.
type Sessions struct {
	Store            string        `yaml:"store"`             // "memory" | "redis"
	MaxPerUser       int           `yaml:"max_per_user"`      // 5; 0 = unlimited
	IdleTimeout      time.Duration `yaml:"idle_timeout"`      // 24h
	AbsoluteLifetime time.Duration `yaml:"absolute_lifetime"` // 720h
	TouchInterval    time.Duration `yaml:"touch_interval"`    // 1m
	RefreshGrace     time.Duration `yaml:"refresh_grace"`     // 30s
	Redis            Redis         `yaml:"redis"`
	Cache            Cache         `yaml:"cache"`
}

// Redis configures the Redis session store (go-redis UniversalClient).
type Redis struct {
	Mode                 string        `yaml:"mode"` // standalone | sentinel | cluster
	Addrs                []string      `yaml:"addrs"`
	MasterName           string        `yaml:"master_name"`
	Username             string        `yaml:"username"`
	Password             Secret        `yaml:"password"`
	PasswordFile         string        `yaml:"password_file"`
	SentinelUsername     string        `yaml:"sentinel_username"`
	SentinelPassword     Secret        `yaml:"sentinel_password"`
	SentinelPasswordFile string        `yaml:"sentinel_password_file"`
	DB                   int           `yaml:"db"`
	TLS                  RedisTLS      `yaml:"tls"`
	KeyPrefix            string        `yaml:"key_prefix"`    // "portcullis:"
	DialTimeout          time.Duration `yaml:"dial_timeout"`  // 2s
	ReadTimeout          time.Duration `yaml:"read_timeout"`  // 500ms
	WriteTimeout         time.Duration `yaml:"write_timeout"` // 500ms
	PoolSize             int           `yaml:"pool_size"`     // 10 × GOMAXPROCS
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Cache configures the optional per-replica validation cache (Redis only).
type Cache struct {
	Enabled      bool          `yaml:"enabled"`       // false
	MaxStaleness time.Duration `yaml:"max_staleness"` // 2s, max 30s
}

// Users configures the credential store.
type Users struct {
	File   string      `yaml:"file"`
	Argon2 Argon2Limit `yaml:"argon2"`
}

// Argon2Limit caps the argon2id parameters a users-file hash may ask for, so a
// hostile or mistaken hash cannot exhaust memory or CPU.
type Argon2Limit struct {
	MaxMemoryKiB   uint32 `yaml:"max_memory_kib"`  // 262144 (256 MiB)
	MaxIterations  uint32 `yaml:"max_iterations"`  // 10
	MaxParallelism uint8  `yaml:"max_parallelism"` // 16
}

// Cookies configures browser mode. Load fills the default names.
type Cookies struct {
	AccessName  string `yaml:"access_name"`
	RefreshName string `yaml:"refresh_name"`
	Domain      string `yaml:"domain"`
	Secure      bool   `yaml:"secure"`    // true
	SameSite    string `yaml:"same_site"` // lax | strict | none
}

// Login configures the login flow.
type Login struct {
	AllowedRedirectHosts []string  `yaml:"allowed_redirect_hosts"`
	TrustedOrigins       []string  `yaml:"trusted_origins"`
	RateLimit            RateLimit `yaml:"rate_limit"`
}

// RateLimit caps failed logins in a sliding window; 0 disables one limit.
type RateLimit struct {
	PerUser int           `yaml:"per_user"` // 10
	PerIP   int           `yaml:"per_ip"`   // 20
	Window  time.Duration `yaml:"window"`   // 5m
}

// Headers configures the identity headers handed to upstreams.
type Headers struct {
	User              string   `yaml:"user"`      // "X-Auth-User"
	Roles             string   `yaml:"roles"`     // "X-Auth-Roles"
	Session           string   `yaml:"session"`   // "X-Auth-Session"
	Assertion         string   `yaml:"assertion"` // "" = off
	Strip             []string `yaml:"strip"`
	PassAuthorization bool     `yaml:"pass_authorization"` // false
}

// AlwaysStripped are inbound headers dropped on every route whatever the config.
var AlwaysStripped = []string{
	"Remote-User", "Remote-Groups", "Remote-Email",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
}

// Route auth modes.
const (
	AuthRequired = "required"
	AuthOptional = "optional"
	AuthPublic   = "public"
)

// EchoUpstream is the built-in upstream that answers JSON describing the request.
const EchoUpstream = "echo:"

// Route maps requests to an upstream.
type Route struct {
	Name       string   `yaml:"name"`        // unique, [a-z0-9_-]+
	Host       string   `yaml:"host"`        // exact, "*.example.com", or empty
	PathPrefix string   `yaml:"path_prefix"` // segment-aware; default "/"
	Methods    []string `yaml:"methods"`     // upper-cased by Load; empty = all
	Upstream   string   `yaml:"upstream"`    // http(s) URL or "echo:"
	Auth       string   `yaml:"auth"`        // required (default) | optional | public
	Roles      []string `yaml:"roles"`       // any-of; empty = any authenticated user
	// StripPrefix removes the route's path_prefix from the forwarded path.
	StripPrefix  bool          `yaml:"strip_prefix"`
	PreserveHost bool          `yaml:"preserve_host"` // true
	Timeout      time.Duration `yaml:"timeout"`       // 30s: dial + response headers
	CSRF         bool          `yaml:"csrf"`          // true
	// PassAuthorization overrides headers.pass_authorization when set.
	PassAuthorization *bool       `yaml:"pass_authorization"`
	TLS               UpstreamTLS `yaml:"tls"`
	// AllowMethodOverride keeps X-HTTP-Method-Override and its kin; the
	// request must then match this route for the overriding method too.
	AllowMethodOverride bool `yaml:"allow_method_override"` // false
	// Upgrades is the complete allow-list of Upgrade protocols (compared
	// case-insensitively); empty forbids every upgrade; h2c is refused.
	Upgrades []string `yaml:"upgrades"` // [websocket]
}

// UpstreamTLS configures TLS from the gateway to one route's upstream.
type UpstreamTLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Log configures logging.
type Log struct {
	Level     string `yaml:"level"`      // debug | info | warn | error
	Format    string `yaml:"format"`     // text | json
	AccessLog bool   `yaml:"access_log"` // true
}
