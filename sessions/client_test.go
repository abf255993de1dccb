package sessions_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestNewRedisClientOptions: the client honours context deadlines and uses
// the SPEC §3 timeouts and pool size (not go-redis' 5 s defaults) unless the
// config sets them, in every mode. (Sentinel credentials: TestRedisSentinelAuth.)
func TestNewRedisClientOptions(t *testing.T) {
	t.Parallel()
	type got struct {
		ctxTimeout              bool
		dial, read, write, pool time.Duration
		poolSize, db            int
		user, pass              string
	}
	defaults := got{true, 2 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 10 * runtime.GOMAXPROCS(0), 0, "", ""}
	cases := []struct {
		name string
		cfg  config.Redis
		want got
	}{
		{"standalone defaults", config.Redis{Addrs: []string{"127.0.0.1:1"}}, defaults},
		{"standalone explicit", config.Redis{Addrs: []string{"127.0.0.1:1"}, DB: 3, Username: "gw", Password: "pw",
			DialTimeout: time.Second, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, PoolSize: 7},
			got{true, time.Second, 300 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 7, 3, "gw", "pw"}},
		{"sentinel", config.Redis{Mode: config.RedisSentinel, MasterName: "m", Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}, defaults},
		{"cluster", config.Redis{Mode: config.RedisCluster, Addrs: []string{"127.0.0.1:1"}}, defaults},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sessions.NewRedisClient(tc.cfg)
			if err != nil {
				t.Fatalf("NewRedisClient() error = %v", err)
			}
			defer c.Close()
			var g got
			switch c := c.(type) {
			case *redis.Client:
				o := c.Options()
				g = got{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.PoolSize, o.DB, o.Username, o.Password}
			case *redis.ClusterClient:
				o := c.Options()
				g = got{o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.PoolSize, 0, o.Username, o.Password}
				if tc.cfg.Mode != config.RedisCluster {
					t.Fatalf("NewRedisClient(%s) = cluster client", tc.name)
				}
			default:
				t.Fatalf("NewRedisClient() = %T", c)
			}
			if g != tc.want {
				t.Fatalf("options = %+v, want %+v", g, tc.want)
			}
		})
	}
}

func TestNewRedisClientRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tlsWith := func(tc config.RedisTLS) config.Redis {
		c := redisConfig(config.RedisStandalone, "127.0.0.1:1")
		tc.Enabled = true
		c.TLS = tc
		return c
	}
	cases := []struct {
		name string
		cfg  config.Redis
	}{
		{"no addrs", redisConfig(config.RedisStandalone)},
		{"standalone with two addrs", redisConfig(config.RedisStandalone, "a:1", "b:1")},
		{"sentinel without master_name", redisConfig(config.RedisSentinel, "a:1")},
		{"cluster with db", func() config.Redis { c := redisConfig(config.RedisCluster, "a:1"); c.DB = 1; return c }()},
		{"unknown mode", redisConfig("ring", "a:1")},
		{"missing CA file", tlsWith(config.RedisTLS{CAFile: filepath.Join(dir, "nope.pem")})},
		{"CA file without certificates", tlsWith(config.RedisTLS{CAFile: notPEM})},
		{"client cert without key", tlsWith(config.RedisTLS{CertFile: notPEM})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := sessions.NewRedisClient(tc.cfg); err == nil {
				c.Close()
				t.Fatalf("NewRedisClient() error = nil, want an error")
			}
		})
	}
}

func TestRedisTLS(t *testing.T) {
	t.Parallel()
	files := sessionstest.GenerateTLS(t)
	srv := sessionstest.StartRedisTLS(t, files)
	ok := config.RedisTLS{Enabled: true, CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	cases := []struct {
		name   string
		tls    config.RedisTLS
		wantOK bool
	}{
		{"CA and client certificate", ok, true},
		{"server name matches", func() config.RedisTLS { c := ok; c.ServerName = "redis.test"; return c }(), true},
		{"server name mismatch", func() config.RedisTLS { c := ok; c.ServerName = "other.test"; return c }(), false},
		{"no client certificate", config.RedisTLS{Enabled: true, CAFile: files.CA}, false},
		{"unknown CA", config.RedisTLS{Enabled: true, CertFile: files.ClientCert, KeyFile: files.ClientKey}, false},
		{"insecure skip verify", config.RedisTLS{Enabled: true, InsecureSkipVerify: true, CertFile: files.ClientCert, KeyFile: files.ClientKey}, true},
		{"TLS off", config.RedisTLS{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := redisConfig(config.RedisStandalone, srv.Addr)
			cfg.TLS = tc.tls
			store := sessions.NewRedisStore(newClient(t, cfg), "tls:", testOptions())
			// Its own deadline: parallel subtests may wait long for a slot.
			_, err := store.Create(testCtx(t), sessions.NewSession{User: "alice"})
			switch {
			case tc.wantOK && err != nil:
				t.Fatalf("Create() over TLS error = %v, want nil", err)
			case !tc.wantOK && !errors.Is(err, sessions.ErrUnavailable):
				t.Fatalf("Create() over TLS error = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestRedisSentinelAuth(t *testing.T) {
	t.Parallel()
	s := sessionstest.StartSentinelConfig(t, sessionstest.SentinelConfig{
		MasterArgs: []string{"--user", "default", "off", "--user", "gw", "on", ">master-pw", "~*", "&*", "+@all"},
		MasterUser: "gw", MasterPassword: "master-pw",
		Username: "sent", Password: "sentinel-pw",
	})
	cases := []struct {
		name                   string
		user, pass, suser, spw string
		wantOK                 bool
	}{
		{"all credentials", "gw", "master-pw", "sent", "sentinel-pw", true},
		{"wrong sentinel password", "gw", "master-pw", "sent", "nope", false},
		{"no sentinel credentials", "gw", "master-pw", "", "", false},
		{"wrong master password", "gw", "nope", "sent", "sentinel-pw", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait for a free slot
			// longer than a deadline its parent set (that expired deadline
			// was the "flake" seen in loaded CI runs).
			ctx := testCtx(t)
			cfg := redisConfig(config.RedisSentinel, s.Addrs...)
			cfg.MasterName = s.MasterName
			cfg.Username, cfg.Password = tc.user, config.Secret(tc.pass)
			cfg.SentinelUsername, cfg.SentinelPassword = tc.suser, config.Secret(tc.spw)
			store := sessions.NewRedisStore(newClient(t, cfg), "sent:", testOptions())
			c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
			if !tc.wantOK {
				if !errors.Is(err, sessions.ErrUnavailable) {
					t.Fatalf("Create() error = %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create() error = %v", err)
			}
			if _, err := store.Validate(ctx, "alice", c.Session.ID); err != nil {
				t.Fatalf("Validate() error = %v", err)
			}
		})
	}
}

// TestRedisSentinelFailover: after Sentinel promotes the replica, the store
// follows the new master; sessions replicated before the failover survive,
// and the transition is ErrUnavailable (503), never ErrNotFound (401).
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	s := sessionstest.StartSentinelConfig(t, sessionstest.SentinelConfig{Replica: true})
	cfg := redisConfig(config.RedisSentinel, s.Addrs...)
	cfg.MasterName = s.MasterName
	store := sessions.NewRedisStore(newClient(t, cfg), "fo:", testOptions())
	ctx := testCtx(t)
	c, err := store.Create(ctx, sessions.NewSession{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sessionstest.Command(s.Master.Addr, "WAIT", "1", "5000"); err != nil || n != "1" {
		t.Fatalf("WAIT 1 = %q, %v; the replica did not get the session", n, err)
	}
	s.Failover(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := store.Refresh(ctx, c.RefreshToken) // a write: must reach the new master
		if err == nil {
			break
		}
		if !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("Refresh() during failover error = %v, want nil or ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not follow the failover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := store.Validate(ctx, "alice", c.Session.ID); err != nil {
		t.Fatalf("Validate() after failover error = %v", err)
	}
	// The rotation landed on the new master (the old one was demoted).
	key, field := "fo:{"+sessions.UserTag("alice")+"}:h", rawID(t, c.Session.ID)+"R"
	if got, err := sessionstest.Command(s.Replica.Addr, "HEXISTS", key, field); err != nil || got != "1" {
		t.Fatalf("HEXISTS %s <id>R on the new master = %q, %v; want 1 (rotated there)", key, got, err)
	}
}
