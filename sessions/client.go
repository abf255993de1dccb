package sessions

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/portcullis-gw/portcullis/config"
)

// Client defaults (SPEC §3), applied when cfg leaves a field zero. go-redis'
// own 5 s defaults are far too long for a per-request check.
const (
	defaultDialTimeout  = 2 * time.Second
	defaultReadTimeout  = 500 * time.Millisecond
	defaultWriteTimeout = 500 * time.Millisecond
)

// NewRedisClient builds the go-redis universal client for cfg: mode
// standalone (one address), sentinel (sentinel addresses + master_name,
// sentinel credentials) or cluster (seed addresses), ACL username/password,
// db, TLS (CA, client certificate, server name, insecure_skip_verify),
// timeouts and pool size. Context deadlines are honoured on every call.
// It does not dial: the first command (or Ping) does.
func NewRedisClient(cfg config.Redis) (redis.UniversalClient, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("sessions: redis: no addrs")
	}
	opts := &redis.UniversalOptions{
		// A private copy: go-redis' cluster client appends the nodes it
		// discovers to this very slice, which would write into cfg (and race
		// with any other client built from the same config).
		Addrs:                 slices.Clone(cfg.Addrs),
		ClientName:            "portcullis",
		Username:              cfg.Username,
		Password:              cfg.Password.Reveal(),
		DB:                    cfg.DB,
		DialTimeout:           orDefault(cfg.DialTimeout, defaultDialTimeout),
		ReadTimeout:           orDefault(cfg.ReadTimeout, defaultReadTimeout),
		WriteTimeout:          orDefault(cfg.WriteTimeout, defaultWriteTimeout),
		ContextTimeoutEnabled: true,
		// One retry after a failed dial, not go-redis' five: a request
		// waiting on a dead store should get its 503 quickly.
		DialerRetries: 2,
		PoolSize:      cfg.PoolSize,
		// A request that finds every pooled connection busy waits at most
		// one read timeout, then gets its 503; go-redis' default would be
		// read timeout + 1 s.
		PoolTimeout: orDefault(cfg.ReadTimeout, defaultReadTimeout),
		// Maintenance push notifications are a Redis Cloud/Enterprise feature;
		// off, so no surprise commands on connect with self-hosted Redis.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	switch cfg.Mode {
	case "", config.RedisStandalone:
		if len(cfg.Addrs) != 1 {
			return nil, errors.New("sessions: redis: standalone takes exactly one address")
		}
	case config.RedisSentinel:
		if cfg.MasterName == "" {
			return nil, errors.New("sessions: redis: sentinel needs master_name")
		}
		opts.MasterName = cfg.MasterName
		opts.SentinelUsername = cfg.SentinelUsername
		opts.SentinelPassword = cfg.SentinelPassword.Reveal()
	case config.RedisCluster:
		if cfg.DB != 0 {
			return nil, errors.New("sessions: redis: cluster has no db")
		}
		opts.IsClusterMode = true
	default:
		return nil, fmt.Errorf("sessions: redis: unknown mode %q", cfg.Mode)
	}
	if cfg.TLS.Enabled {
		tc, err := tlsConfig(cfg.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	client := redis.NewUniversalClient(opts)
	if cc, ok := client.(*redis.ClusterClient); ok {
		// Follow a failover as soon as commands start failing, not at the
		// next periodic slot reload (see clusterFollower).
		followFailovers(cc, clusterReloadEvery)
	}
	return client, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func tlsConfig(c config.RedisTLS) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, // operator's explicit choice (self-signed test setups)
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sessions: redis tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sessions: redis tls: %s: no certificates", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sessions: redis tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
