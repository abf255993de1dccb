package config

import (
	"runtime"
	"time"
)

// Default cookie names (SPEC §3).
const (
	cookieAccessHost     = "__Host-portcullis_at"
	cookieAccessSecure   = "__Secure-portcullis_at"
	cookieRefreshSecure  = "__Secure-portcullis_rt"
	cookieAccessPlain    = "portcullis_at"
	cookieRefreshPlain   = "portcullis_rt"
	defaultRouteTimeout  = 30 * time.Second
	defaultRoutePrefix   = "/"
	maxLeeway            = 30 * time.Second
	maxCacheMaxStaleness = 30 * time.Second
)

// Default returns a Config holding every SPEC §3 default, with the default
// cookie names filled for the default cookie settings. It is not valid on its
// own: users.file has no default.
func Default() *Config {
	c := defaults()
	c.fillDerived()
	return c
}

// defaults is Default without the derived values, which Load fills only after
// the file has been decoded (they depend on what the file says).
func defaults() *Config {
	return &Config{
		Server: Server{
			Listen:            ":8080",
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    65536,
			ShutdownDelay:     5 * time.Second,
			ShutdownTimeout:   25 * time.Second,
			AuthPrefix:        "/auth",
			PathMatching:      PathMatchingExact,

			EndpointBodyTimeout: 10 * time.Second,
		},
		Metrics: Metrics{Listen: ":9464"},
		Admin:   Admin{Listen: "127.0.0.1:9465"},
		Tokens: Tokens{
			Issuer:    "portcullis",
			Audience:  "portcullis",
			AccessTTL: 10 * time.Minute,
			Leeway:    5 * time.Second,
		},
		Sessions: Sessions{
			Store:            StoreMemory,
			MaxPerUser:       5,
			IdleTimeout:      24 * time.Hour,
			AbsoluteLifetime: 720 * time.Hour,
			TouchInterval:    time.Minute,
			RefreshGrace:     30 * time.Second,
			Redis: Redis{
				Mode:         RedisStandalone,
				KeyPrefix:    "portcullis:",
				DialTimeout:  2 * time.Second,
				ReadTimeout:  500 * time.Millisecond,
				WriteTimeout: 500 * time.Millisecond,
				PoolSize:     10 * runtime.GOMAXPROCS(0),
			},
			Cache: Cache{MaxStaleness: 2 * time.Second},
		},
		Users: Users{Argon2: Argon2Limit{
			MaxMemoryKiB:   262144,
			MaxIterations:  10,
			MaxParallelism: 16,
		}},
		Cookies: Cookies{Secure: true, SameSite: "lax"},
		Login: Login{RateLimit: RateLimit{
			PerUser: 10,
			PerIP:   20,
			Window:  5 * time.Minute,
		}},
		Headers: Headers{
			User:    "X-Auth-User",
			Roles:   "X-Auth-Roles",
			Session: "X-Auth-Session",
		},
		Log: Log{Level: "info", Format: "text", AccessLog: true},
		UI:  UI{Title: "Portcullis"},
	}
}

// DefaultRoute returns a Route holding the per-route defaults that Load
// applies to every element of routes: path_prefix "/", auth required (fail
// closed), preserve_host true, timeout 30s, csrf true, upgrades [websocket].
func DefaultRoute() Route {
	return Route{
		PathPrefix:   defaultRoutePrefix,
		Auth:         AuthRequired,
		PreserveHost: true,
		Timeout:      defaultRouteTimeout,
		CSRF:         true,
		Upgrades:     []string{"websocket"},
	}
}

// fillDerived fills the defaults that depend on other values: the cookie
// names follow cookies.secure and cookies.domain.
func (c *Config) fillDerived() {
	c.Cookies.AccessName, c.Cookies.RefreshName = c.Cookies.Names()
}

// Names returns the access and refresh cookie names: the configured ones, or
// for an empty name the SPEC §3 default for cookies.secure and cookies.domain.
func (ck Cookies) Names() (access, refresh string) {
	access, refresh = ck.AccessName, ck.RefreshName
	if access == "" {
		switch {
		case !ck.Secure:
			access = cookieAccessPlain
		case ck.Domain != "":
			// __Host- forbids a Domain attribute.
			access = cookieAccessSecure
		default:
			access = cookieAccessHost
		}
	}
	if refresh == "" {
		if ck.Secure {
			// Never __Host-: the refresh cookie's Path is <auth_prefix>/, not /.
			refresh = cookieRefreshSecure
		} else {
			refresh = cookieRefreshPlain
		}
	}
	return access, refresh
}
