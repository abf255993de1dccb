package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// TestStartupLine: one start-up line names the version, the config path,
// the store, the route count and the bound listeners.
func TestStartupLine(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, proxyAddr, metricsAddr, publicRoute))
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	logs := g.log.String()
	if n := strings.Count(logs, "msg=started "); n != 1 {
		t.Fatalf("%d start-up lines, want 1:\n%s", n, logs)
	}
	abs, err := filepath.Abs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"version=", "commit=", "config=" + abs + " ", "store.kind=memory ", "routes=2 ",
		"listeners.proxy=" + proxyAddr + " ", "listeners.metrics=" + metricsAddr + " ", "tls=false",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up line lacks %q:\n%s", want, logs)
		}
	}
}

// TestStartupLineRedisNoSecrets: with Redis the start-up line names the
// mode and addresses (JSON here) and never a password; the Redis server
// need not be up for the gateway to start.
func TestStartupLineRedisNoSecrets(t *testing.T) {
	t.Parallel()
	const secret = "REDIS-INLINE-SECRET"
	proxyAddr, metricsAddr, redisAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := testConfig(t, proxyAddr, metricsAddr, publicRoute)
	body = strings.Replace(body, "sessions:\n  store: memory\n", "sessions:\n  store: redis\n  redis:\n    addrs: [\""+redisAddr+
		"\"]\n    username: portcullis\n    password: "+secret+"\n", 1)
	body = strings.Replace(body, "log:\n  level: debug\n", "log:\n  level: info\n  format: json\n", 1)
	body += "tokens:\n  keys:\n    - id: k1\n      alg: HS256\n      secret: \"" + strings.Repeat("s", 32) + "\"\n"
	g := startGateway(t, writeFile(t, t.TempDir(), "gateway.yaml", body), proxyAddr, metricsAddr)
	var line struct {
		Msg   string `json:"msg"`
		Store struct {
			Kind, Mode, Addrs string
			TLS, Cache        bool
		} `json:"store"`
		Routes    int               `json:"routes"`
		Listeners map[string]string `json:"listeners"`
	}
	g.waitFor(5*time.Second, "the start-up line", func() bool {
		for _, l := range strings.Split(g.log.String(), "\n") {
			if strings.Contains(l, `"msg":"started"`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("start-up line %q: %v", l, err)
				}
				return true
			}
		}
		return false
	})
	if line.Store.Kind != "redis" || line.Store.Mode != "standalone" || line.Store.Addrs != redisAddr || line.Routes != 2 ||
		line.Listeners["proxy"] != proxyAddr || line.Listeners["metrics"] != metricsAddr {
		t.Errorf("start-up line = %+v", line)
	}
	if logs := g.log.String(); strings.Contains(logs, secret) {
		t.Errorf("log carries the Redis password:\n%s", logs)
	}
}

// TestStoreAttrDropsUserinfo: an address with a password mistyped into it
// is logged without it.
func TestStoreAttrDropsUserinfo(t *testing.T) {
	t.Parallel()
	var s config.Sessions
	s.Store, s.Redis.Mode, s.Redis.Addrs = "redis", "cluster", []string{"hunter2@redis-a:6379", "redis-b:6379"}
	got := storeAttr(s).String()
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "redis-a:6379,redis-b:6379") {
		t.Errorf("store attr = %s", got)
	}
}

// TestShutdownDelayLoggedAsDuration: in JSON logs the shutdown delay is a
// Go duration string, not integer nanoseconds.
func TestShutdownDelayLoggedAsDuration(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute), "log:\n  level: debug\n", "log:\n  level: info\n  format: json\n", 1)
	g := startGateway(t, writeFile(t, t.TempDir(), "gateway.yaml", body), proxyAddr, metricsAddr)
	g.signal(syscall.SIGTERM)
	if code := g.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if logs := g.log.String(); !strings.Contains(logs, `"shutdown_delay":"300ms"`) {
		t.Errorf("shutdown_delay not logged as \"300ms\":\n%s", logs)
	}
}
