package sessions_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestNodeFailure: the Cluster follower reloads the slot map on what may
// mean a node is gone or a slot moved (network errors, timeouts, the
// replies of a cluster in transition) and not on ordinary replies, a
// missing key, the caller's cancellation or a closed client. Replies are
// real (a script returns them); network errors come from a stopped and a
// frozen server.
func TestNodeFailure(t *testing.T) {
	t.Parallel()
	srv := sessionstest.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	ctx := testCtx(t)
	reply := func(s string) error {
		return client.Eval(ctx, "return redis.error_reply(ARGV[1])", nil, s).Err()
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"CLUSTERDOWN", reply("CLUSTERDOWN The cluster is down"), true},
		{"TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"LOADING", reply("LOADING Redis is loading the dataset in memory"), true},
		{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down"), true},
		{"READONLY", reply("READONLY You can't write against a read only replica."), true},
		{"wrapped CLUSTERDOWN", fmt.Errorf("op: %w", reply("CLUSTERDOWN Hash slot not served")), true},
		{"script error", reply("ERR user_script:1: boom"), false},
		{"WRONGTYPE", reply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"NOAUTH", reply("NOAUTH Authentication required."), false},
		{"OOM", reply("OOM command not allowed when used memory > 'maxmemory'."), false},
		{"MOVED after the redirect budget", reply("MOVED 1 127.0.0.1:1"), false},
		{"spoofed CLUSTERDOWN inside an ERR", reply("ERR CLUSTERDOWN"), false},
		{"nil", client.Get(ctx, "missing").Err(), false},
		{"wrapped nil", fmt.Errorf("op: %w", client.Get(ctx, "missing").Err()), false},
		{"no error", nil, false},
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	cases = append(cases, struct {
		name string
		err  error
		want bool
	}{"caller cancelled", client.Get(cancelled, "k").Err(), false})

	frozen := sessionstest.StartRedis(t)
	slow := redis.NewClient(&redis.Options{Addr: frozen.Addr, MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { slow.Close() })
	slow.Ping(ctx) // a pooled connection, so the timeout is a read timeout
	frozen.Pause()
	timeoutErr := slow.Get(ctx, "k").Err()
	frozen.Resume()
	stopped := sessionstest.StartRedis(t)
	stopped.Stop()
	refused := redis.NewClient(&redis.Options{Addr: stopped.Addr, MaxRetries: -1, DialerRetries: 1})
	refusedErr := refused.Get(ctx, "k").Err()
	refused.Close()
	closedErr := refused.Get(ctx, "k").Err()
	cases = append(cases, []struct {
		name string
		err  error
		want bool
	}{
		{"read timeout (frozen node)", timeoutErr, true},
		{"connection refused (killed node)", refusedErr, true},
		{"closed client", closedErr, false},
	}...)

	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			if tc.err == nil && tc.name != "no error" {
				t.Fatalf("setup: no error to classify")
			}
			if got := sessions.NodeFailure(tc.err); got != tc.want {
				t.Fatalf("NodeFailure(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestNewRedisClientOwnsAddrs: go-redis' cluster client appends the nodes it
// discovers to its Addrs slice; NewRedisClient must hand it a copy, or
// discovering a node writes into the caller's config (and races with every
// other client built from it: seen under -race with two clients on one
// config during a failover).
func TestNewRedisClientOwnsAddrs(t *testing.T) {
	t.Parallel()
	node := sessionstest.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if reply, err := sessionstest.Command(node.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil || reply != "OK" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE = %q, %v", reply, err)
	}
	_, port, _ := strings.Cut(node.Addr, ":")
	backing := []string{"localhost:" + port, "untouched"} // CLUSTER SLOTS names 127.0.0.1: a new node
	cfg := redisConfig(config.RedisCluster, backing[:1]...)
	client := newClient(t, cfg)
	ctx := testCtx(t)
	deadline := time.Now().Add(10 * time.Second)
	for client.Set(ctx, "k", "v", 0).Err() != nil { // the slot map is loaded
		if time.Now().After(deadline) {
			t.Fatal("the cluster node never served k")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if backing[1] != "untouched" || len(cfg.Addrs) != 1 {
		t.Fatalf("the client wrote into the caller's addrs: %q", backing)
	}
}
