package sessions_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// redisConfig is a config.Redis as config.Load would default it, except for
// read/write timeouts of 3s instead of 500ms: the race detector on a loaded
// 2-core machine can stall a goroutine longer than 500ms, and these tests are
// not about timeouts (TestRedisUnavailable sets its own).
func redisConfig(mode string, addrs ...string) config.Redis {
	return config.Redis{
		Mode: mode, Addrs: addrs, KeyPrefix: "portcullis:",
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
	}
}

func newClient(t testing.TB, cfg config.Redis) redis.UniversalClient {
	t.Helper()
	c, err := sessions.NewRedisClient(cfg)
	if err != nil {
		t.Fatalf("NewRedisClient() error = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// storeFactory makes stores sharing client, each under its own key prefix.
func storeFactory(client redis.UniversalClient) sessionstest.NewStoreFunc {
	return prefixedFactory(client, "pt")
}

// prefixedFactory is storeFactory with key prefixes base1:, base2:, …
func prefixedFactory(client redis.UniversalClient, base string) sessionstest.NewStoreFunc {
	var n atomic.Int64
	return func(t *testing.T, opts sessions.Options) sessionstest.Store {
		return sessions.NewRedisStore(client, fmt.Sprintf("%s%d:", base, n.Add(1)), opts)
	}
}

func TestRedisStandaloneConformance(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	sessionstest.RunConformance(t, storeFactory(newClient(t, redisConfig(config.RedisStandalone, srv.Addr))))
}

func TestRedisClusterConformance(t *testing.T) {
	t.Parallel()
	cl := sessionstest.StartCluster(t)
	sessionstest.RunConformance(t, storeFactory(newClient(t, redisConfig(config.RedisCluster, cl.Addrs[0]))))
}

func TestRedisSentinelConformance(t *testing.T) {
	t.Parallel()
	s := sessionstest.StartSentinel(t)
	cfg := redisConfig(config.RedisSentinel, s.Addrs...)
	cfg.MasterName = s.MasterName
	sessionstest.RunConformance(t, storeFactory(newClient(t, cfg)))
}

// standalone starts a throwaway redis-server and returns it with a client
// (test timeouts) and a test context.
func standalone(t *testing.T) (*sessionstest.Redis, redis.UniversalClient, context.Context) {
	t.Helper()
	srv := sessionstest.StartRedis(t)
	return srv, newClient(t, redisConfig(config.RedisStandalone, srv.Addr)), testCtx(t)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
