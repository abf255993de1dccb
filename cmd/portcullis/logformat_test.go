package main

import (
	"encoding/json"
	"strings"
	"testing"
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
