package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gateway.yaml", strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute),
		"shutdown_delay: 300ms", "shutdown_delay: 30s", 1))
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	g.waitFor(5*time.Second, "readyz 200", func() bool { code, _ := g.get(g.metrics + "/readyz"); return code == http.StatusOK })

	t.Run("alive", func(t *testing.T) {
		if code, out, errOut := runBin(t, nil, "health", "-config", cfg); code != 0 || out != "" || errOut != "" {
			t.Errorf("health = %d %q %q, want 0 and silence", code, out, errOut)
		}
	})
	t.Run("ready", func(t *testing.T) {
		if code, out, errOut := runBin(t, nil, "health", "-ready", "-config", cfg); code != 0 {
			t.Errorf("health -ready = %d %q %q, want 0", code, out, errOut)
		}
	})
	t.Run("config from the environment", func(t *testing.T) {
		if code, out, errOut := runBinIn(t, t.TempDir(), []string{configEnv + "=" + cfg}, "health"); code != 0 {
			t.Errorf("PORTCULLIS_CONFIG health = %d %q %q, want 0", code, out, errOut)
		}
	})
	t.Run("not ready while shutting down", func(t *testing.T) {
		g.signal(syscall.SIGTERM)
		g.waitFor(10*time.Second, "readyz 503", func() bool { code, _ := g.get(g.metrics + "/readyz"); return code == http.StatusServiceUnavailable })
		code, _, errOut := runBin(t, nil, "health", "-ready", "-config", cfg)
		if code != 1 || !strings.Contains(errOut, "503 Service Unavailable: not ready: shutting down") {
			t.Errorf("health -ready during shutdown = %d %q, want 1 naming the 503 and why", code, errOut)
		}
		// Alive until the listener closes: liveness must not kill a draining process.
		if code, _, errOut := runBin(t, nil, "health", "-config", cfg); code != 0 {
			t.Errorf("health during shutdown_delay = %d %q, want 0", code, errOut)
		}
		g.signal(syscall.SIGTERM) // skip the rest of shutdown_delay
		g.wait(30 * time.Second)
	})
	t.Run("nothing listening", func(t *testing.T) {
		code, _, errOut := runBin(t, nil, "health", "-config", cfg)
		if code != 1 || !strings.Contains(errOut, "connection refused") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("health with the gateway stopped = %d %q, want 1 and one line", code, errOut)
		}
	})
}

// A gateway that has never reached its Redis store is alive but not ready.
func TestHealthStoreNotReached(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	cfg := testConfig(t, proxyAddr, metricsAddr, publicRoute+
		"tokens:\n  keys:\n    - id: hs\n      alg: HS256\n      secret: \""+strings.Repeat("k", 32)+"\"\n")
	cfg = strings.Replace(cfg, "store: memory\n", "store: redis\n  redis:\n    addrs: [\""+sessionstest.FreeAddr(t)+"\"]\n    dial_timeout: 100ms\n", 1)
	path := writeFile(t, t.TempDir(), "gateway.yaml", cfg)
	startGateway(t, path, proxyAddr, metricsAddr)

	if code, _, errOut := runBin(t, nil, "health", "-config", path); code != 0 {
		t.Errorf("health = %d %q, want 0 (alive)", code, errOut)
	}
	code, _, errOut := runBin(t, nil, "health", "-ready", "-config", path)
	if code != 1 || !strings.Contains(errOut, "not ready: session store not reached yet") {
		t.Errorf("health -ready = %d %q, want 1: store not reached", code, errOut)
	}
}

// Whatever answers on the metrics address, only a 200 is healthy.
func TestHealthAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    int
		want    string
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {}, 0, ""},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, 1, "500 Internal Server Error: boom"},
		{"204 is not 200", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, 1, "204 No Content"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/elsewhere" {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}
		}, 1, "302 Found"},
		{"forged log lines are flattened", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad\rlevel=INFO msg=fine\x1b[2J"+strings.Repeat("x", 1<<20), http.StatusServiceUnavailable)
		}, 1, "503 Service Unavailable: badlevel=INFO msg=fine[2J"},
		{"hangs past the timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 1, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			cfg := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, sessionstest.FreeAddr(t), srv.Listener.Addr().String(), publicRoute))
			// Generous except where the timeout is the point: a loaded
			// machine must not turn a 200 into a timeout.
			timeout := "10s"
			if strings.HasPrefix(tt.name, "hangs") {
				timeout = "500ms"
			}
			code, out, errOut := runBin(t, nil, "health", "-timeout", timeout, "-config", cfg)
			if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") > 1 || len(errOut) > 512 {
				t.Errorf("health = %d %q %q, want %d with one line containing %q", code, out, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestHealthRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing config", []string{"-config", dir + "/nope.yaml"}, 1, "nope.yaml"},
		{"invalid config", []string{"-config", writeFile(t, dir, "bad.yaml", "server:\n  listen: \":8080\"\nmetrics:\n  listen: 7\n  bogus: 1\n")},
			1, "bad.yaml:5: metrics.bogus"},
		{"unexpanded variable", []string{"-config", writeFile(t, dir, "env.yaml", "metrics:\n  listen: \"${PORTCULLIS_TEST_UNSET_VAR}\"\n"+
			"users:\n  file: "+demoUsers(t)+"\n")}, 1, "env.yaml:2: metrics.listen"},
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"positional argument", []string{"extra"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runBin(t, nil, append([]string{"health"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("health %v = %d %q, want %d mentioning %q", tt.args, code, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestProbeBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen, want string
		bad          bool
	}{
		{listen: ":9464", want: "http://127.0.0.1:9464"},
		{listen: "0.0.0.0:9464", want: "http://127.0.0.1:9464"},
		{listen: "[::]:9464", want: "http://[::1]:9464"},
		{listen: "[::1]:9464", want: "http://[::1]:9464"},
		{listen: "127.0.0.2:9464", want: "http://127.0.0.2:9464"},
		{listen: "10.1.2.3:9464", want: "http://10.1.2.3:9464"},
		{listen: "localhost:9464", want: "http://localhost:9464"},
		{listen: "[fe80::1%eth0]:9464", want: "http://[fe80::1%eth0]:9464"},
		{listen: "9464", bad: true},
		{listen: "", bad: true},
		{listen: ":0", bad: true},
		{listen: "127.0.0.1:", bad: true},
		{listen: "[::1:9464", bad: true},
	}
	for _, tt := range tests {
		got, err := probeBase(tt.listen)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("probeBase(%q) = %q, %v; want %q (error: %v)", tt.listen, got, err, tt.want, tt.bad)
		}
	}
}

// The probe reaches an IPv6-only metrics listener through [::1].
func TestHealthIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	proxyAddr := sessionstest.FreeAddr(t)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, proxyAddr, metricsAddr, publicRoute))
	startGateway(t, cfg, proxyAddr, metricsAddr)
	if code, _, errOut := runBin(t, nil, "health", "-config", cfg); code != 0 {
		t.Errorf("health on %s = %d %q, want 0", metricsAddr, code, errOut)
	}
}

func TestHealthListedInHelp(t *testing.T) {
	t.Parallel()
	if code, out, _ := runBin(t, nil, "help"); code != 0 || !strings.Contains(out, "\n  health ") {
		t.Errorf("help = %d %q, want health listed", code, out)
	}
	if code, _, errOut := runBin(t, nil, "health", "-h"); code != 0 || !strings.Contains(errOut, "-ready") || !strings.Contains(errOut, "-timeout") {
		t.Errorf("health -h = %d %q, want 0 listing -ready and -timeout", code, errOut)
	}
}
