package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestServeJSONLogs(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := freeAddr(t), freeAddr(t)
	body := strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute), "log:\n  level: debug\n", "log:\n  level: info\n  format: json\n", 1)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	g.get(g.proxy + "/public/x")

	lines := strings.Split(strings.TrimSpace(g.log.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("expected start-up log lines, got %q", lines)
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", l, err)
			continue
		}
		if rec["level"] == "DEBUG" {
			t.Errorf("debug line logged at level info: %q", l)
		}
	}
}

// TestRedisClientLogsAreJSON: go-redis' own messages (here: dials to a Redis
// that is down) come out through the process logger, as JSON like the rest,
// never as go-redis' plain-text default.
func TestRedisClientLogsAreJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "redis-password", "redis-test-password\n")
	proxyAddr, metricsAddr := freeAddr(t), freeAddr(t)
	body := redisConfig(t, testConfig(t, proxyAddr, metricsAddr, publicRoute), freeAddr(t), pwFile)
	body = strings.Replace(body, "log:\n  level: debug\n", "log:\n  level: info\n  format: json\n", 1)
	g := startGateway(t, writeFile(t, dir, "gateway.yaml", body), proxyAddr, metricsAddr)
	g.waitFor(15*time.Second, "a go-redis log line", func() bool {
		return strings.Contains(g.log.String(), `"component":"go-redis"`)
	})
	for _, l := range strings.Split(strings.TrimSpace(g.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", l, err)
		}
		if strings.Contains(l, "redis-test-password") {
			t.Errorf("log line %q carries the Redis password", l)
		}
	}
}
