package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func TestServeJSONLogs(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
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
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := redisConfig(t, testConfig(t, proxyAddr, metricsAddr, publicRoute), sessionstest.FreeAddr(t), pwFile)
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

// TestLoggerDurationsAreStrings: every time.Duration the process logs is a
// Go duration string ("3.5ms") in both formats, wherever it sits: a plain
// attribute, one given as Any, one inside a group (inline or from
// WithGroup), one added by With, and one a LogValuer resolves to. Only the
// JSON handler needs the rewrite; the text case proves it changes nothing
// there.
func TestLoggerDurationsAreStrings(t *testing.T) {
	t.Parallel()
	const d = 3500 * time.Microsecond
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := newLogger(&buf, config.Log{Level: "info", Format: format}, new(slog.LevelVar))
			logger.With("with", d).WithGroup("wg").Info("durations",
				slog.Duration("plain", d), slog.Any("any", d),
				slog.Group("g", slog.Duration("nested", d), slog.Group("deeper", slog.Duration("deepest", d))),
				slog.Any("valuer", durationValuer(d)),
				slog.Int64("count", int64(d)), // an integer stays an integer
			)
			line := strings.TrimSpace(buf.String())
			want := map[string]string{"with": "", "wg.plain": "", "wg.any": "", "wg.g.nested": "", "wg.g.deeper.deepest": "", "wg.valuer": ""}
			if format == "json" {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not JSON: %q: %v", line, err)
				}
				for path := range want {
					var v any = rec
					for _, k := range strings.Split(path, ".") {
						m, _ := v.(map[string]any)
						v = m[k]
					}
					if v != "3.5ms" {
						t.Errorf("%s = %#v, want \"3.5ms\" in %s", path, v, line)
					}
				}
				if c := rec["wg"].(map[string]any)["count"]; c != float64(d) {
					t.Errorf("count = %#v, want the integer %d", c, int64(d))
				}
				return
			}
			for path := range want {
				if !strings.Contains(line, " "+path+"=3.5ms") {
					t.Errorf("no %s=3.5ms in %s", path, line)
				}
			}
			if !strings.Contains(line, " wg.count=3500000") {
				t.Errorf("no wg.count=3500000 in %s", line)
			}
		})
	}
}

// durationValuer is a LogValuer resolving to a duration.
type durationValuer time.Duration

func (v durationValuer) LogValue() slog.Value { return slog.DurationValue(time.Duration(v)) }

// TestLibraryLogLinesAreJSON: what net/http logs itself (here a TLS
// handshake error: plain HTTP sent to the TLS listener) comes out through
// the process logger, as JSON like every other line, not as the standard
// log package's plain text.
func TestLibraryLogLinesAreJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCert(t, dir, 1)
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := testConfig(t, proxyAddr, metricsAddr, publicRoute)
	body = strings.Replace(body, "log:\n  level: debug\n", "log:\n  level: info\n  format: json\n", 1)
	body = body[:len("server:\n")] + "  tls:\n    cert_file: " + dir + "/tls.crt\n    key_file: " + dir + "/tls.key\n" + body[len("server:\n"):]
	g := startGateway(t, writeFile(t, dir, "gateway.yaml", body), proxyAddr, metricsAddr)
	g.get("http://" + proxyAddr + "/public/x")
	g.waitFor(15*time.Second, "net/http's TLS handshake error", func() bool {
		return strings.Contains(g.log.String(), "TLS handshake error")
	})
	for _, l := range strings.Split(strings.TrimSpace(g.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", l, err)
		}
	}
}
