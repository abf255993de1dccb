package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// redisConfig switches a test config to the Redis store (with a password
// from a file) and a fixed HS256 key, as ephemeral keys are refused with Redis.
func redisConfig(t *testing.T, body, addr, passwordFile string) string {
	t.Helper()
	body = strings.Replace(body, "sessions:\n  store: memory\n",
		"sessions:\n  store: redis\n  redis:\n    addrs: [\""+addr+"\"]\n    password_file: "+passwordFile+"\n", 1)
	return body + "tokens:\n  keys:\n    - id: k1\n      alg: HS256\n      secret: \"" + strings.Repeat("s", 32) + "\"\n"
}

func TestServeWithRedis(t *testing.T) {
	t.Parallel()
	const password = "redis-test-password"
	r := sessionstest.StartRedis(t, "--requirepass", password)
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "redis-password", password+"\n")
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	cfg := writeFile(t, dir, "gateway.yaml",
		redisConfig(t, testConfig(t, proxyAddr, metricsAddr, publicRoute), r.Addr, pwFile))
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	g.waitFor(5*time.Second, "readyz 200 with Redis", func() bool {
		code, _ := g.get(g.metrics + "/readyz")
		return code == http.StatusOK
	})
	if code, body := g.get(g.proxy + "/public/x"); code != http.StatusOK {
		t.Errorf("GET /public/x = %d %s, want 200", code, body)
	}
	if strings.Contains(g.log.String(), "ephemeral") {
		t.Errorf("ephemeral key warning with configured keys")
	}
	if strings.Contains(g.log.String(), password) {
		t.Errorf("the Redis password appears in the log")
	}
}

func TestCheckDoesNotDialRedis(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "redis-password", "pw\n")
	// Nothing listens on port 1: check must still pass, serve would wait for it.
	body := redisConfig(t, testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", publicRoute), "127.0.0.1:1", pwFile)
	cfg := writeFile(t, dir, "gateway.yaml", body)
	if code, out, errOut := runBin(t, nil, "check", "-config", cfg); code != 0 {
		t.Errorf("check with unreachable Redis: exit %d, stdout %q stderr %q, want 0", code, out, errOut)
	}
}

func TestServeWithRedisCache(t *testing.T) {
	t.Parallel()
	r := sessionstest.StartRedis(t, "--requirepass", "pw")
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "redis-password", "pw\n")
	usersPath := writeFile(t, dir, "users.yaml", usersFile(t, "carol"))
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := redisConfig(t, testConfig(t, proxyAddr, metricsAddr, publicRoute), r.Addr, pwFile)
	body = strings.Replace(body, demoUsers(t), usersPath, 1)
	body = strings.Replace(body, "    password_file: "+pwFile+"\n", "    password_file: "+pwFile+"\n  cache:\n    enabled: true\n    max_staleness: 10s\n", 1)
	cfg := writeFile(t, dir, "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	g.waitFor(5*time.Second, "readyz 200 with Redis", func() bool {
		code, _ := g.get(g.metrics + "/readyz")
		return code == http.StatusOK
	})

	token := g.loginToken(t, "carol", "carol-pw")
	// Fill the cache, then log out: the revocation must win over the cached
	// "valid" at once, not after max_staleness.
	for range 3 {
		if code := g.bearerStatus("/x", token); code != http.StatusOK {
			t.Fatalf("GET /x with a fresh token = %d, want 200", code)
		}
	}
	code, _ := doRequest(http.MethodPost, g.proxy+"/auth/logout", http.Header{"Authorization": {"Bearer " + token}}, "")
	if code != http.StatusNoContent {
		t.Fatalf("logout = %d, want 204", code)
	}
	if code := g.bearerStatus("/x", token); code != http.StatusUnauthorized {
		t.Errorf("GET /x right after logout = %d, want 401 (cache entry dropped)", code)
	}

	// A revocation by another process (the sessions CLI) reaches this
	// replica's cache through the store's invalidation channel.
	token = g.loginToken(t, "carol", "carol-pw")
	if code := g.bearerStatus("/x", token); code != http.StatusOK {
		t.Fatalf("GET /x with a fresh token = %d, want 200", code)
	}
	if code, out, errOut := runBin(t, nil, "sessions", "revoke", "-config", cfg, "-user", "carol", "-all"); code != 0 {
		t.Fatalf("sessions revoke = %d %q %q, want 0", code, out, errOut)
	}
	// Well within max_staleness (10s): only the invalidation can explain it.
	g.waitFor(5*time.Second, "the CLI revocation honoured", func() bool {
		return g.bearerStatus("/x", token) == http.StatusUnauthorized
	})
}
