package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

func TestServe(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, proxyAddr, metricsAddr, publicRoute))
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	t.Run("echo route", func(t *testing.T) {
		code, body := g.get(g.proxy + "/public/hello?x=1")
		if code != http.StatusOK {
			t.Fatalf("GET /public/hello = %d %s, want 200", code, body)
		}
		var echo struct {
			Method string `json:"method"`
			Path   string `json:"path"`
		}
		if err := json.Unmarshal([]byte(body), &echo); err != nil {
			t.Fatalf("echo body %q: %v", body, err)
		}
		if echo.Method != http.MethodGet || echo.Path != "/public/hello" {
			t.Errorf("echo = %+v, want GET /public/hello", echo)
		}
	})
	t.Run("required route without token", func(t *testing.T) {
		if code, body := g.get(g.proxy + "/private"); code != http.StatusUnauthorized {
			t.Errorf("GET /private = %d %s, want 401", code, body)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		if code, body := g.get(g.metrics + "/healthz"); code != http.StatusOK {
			t.Errorf("GET /healthz = %d %s, want 200", code, body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		g.waitFor(5*time.Second, "readyz 200", func() bool {
			code, _ := g.get(g.metrics + "/readyz")
			return code == http.StatusOK
		})
	})
	t.Run("metrics", func(t *testing.T) {
		_, body := g.get(g.metrics + "/metrics")
		for _, want := range []string{
			`portcullis_build_info{`,
			`version="` + testVersion + `"`,
			`commit="` + testCommit + `"`,
			`portcullis_http_requests_total{code="200",method="GET",route="public"}`,
			`go_goroutines `,
			`process_start_time_seconds `,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
	t.Run("proxy listener does not serve metrics", func(t *testing.T) {
		if code, body := g.get(g.proxy + "/metrics"); code == http.StatusOK && strings.Contains(body, "portcullis_build_info") {
			t.Errorf("GET proxy /metrics exposed metrics")
		}
	})
	t.Run("startup warnings", func(t *testing.T) {
		log := g.log.String()
		for _, want := range []string{"DEMO USERS IN USE", "ephemeral", "cookies.secure is false"} {
			if !strings.Contains(log, want) {
				t.Errorf("start-up log lacks %q", want)
			}
		}
	})
	t.Run("admin listener off without token", func(t *testing.T) {
		if strings.Contains(g.log.String(), "listener=admin") {
			t.Errorf("admin listener started without admin.token")
		}
	})
}

func TestServeAdminListener(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr, adminAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	token := strings.Repeat("t", 40)
	extra := "admin:\n  listen: \"" + adminAddr + "\"\n  token: \"" + token + "\"\n" + publicRoute
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", testConfig(t, proxyAddr, metricsAddr, extra))
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	if code, body := g.get("http://" + adminAddr + "/admin/users/alice/sessions"); code != http.StatusUnauthorized {
		t.Errorf("admin without token = %d %s, want 401", code, body)
	}
	code, body := doRequest(http.MethodGet, "http://"+adminAddr+"/admin/users/alice/sessions",
		http.Header{"Authorization": {"Bearer " + token}}, "")
	if code != http.StatusOK {
		t.Errorf("admin with token = %d %s, want 200", code, body)
	}
	if strings.Contains(g.log.String(), token) {
		t.Errorf("the admin token appears in the log")
	}
}

func TestServeRefusesBadStart(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	junk := writeFile(t, t.TempDir(), "junk.pem", "junk")
	badKey := "tokens:\n  keys:\n    - id: hs\n      alg: HS256\n      secret: \"" + strings.Repeat("s", 32) + "\"\n" +
		"    - id: ed\n      alg: EdDSA\n      private_key_file: " + junk + "\n" + publicRoute
	tests := []struct {
		name string
		cfg  func(proxyAddr, metricsAddr string) string
		want string
	}{
		{"invalid config", func(p, m string) string { return "server:\n  listen: [x\n" }, "invalid config"},
		// A problem in a file the config names is reported as check reports it.
		{"bad key file", func(p, m string) string { return testConfig(t, p, m, badKey) },
			"portcullis: invalid config:\n"},
		{"bad key file line", func(p, m string) string { return testConfig(t, p, m, badKey) },
			"gateway.yaml:22: tokens.keys[1].private_key_file: " + junk + ": no PEM key found\n"},
		{"port in use", func(p, m string) string { return testConfig(t, p, busy.Addr().String(), publicRoute) }, "metrics listener"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, m := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
			path := writeFile(t, t.TempDir(), "gateway.yaml", tt.cfg(p, m))
			code, out, errOut := runBin(t, nil, "serve", "-config", path)
			if code != 1 || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("serve exit = %d, output %q; want 1 mentioning %q", code, out+errOut, tt.want)
			}
		})
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	dir := t.TempDir()
	base := testConfig(t, proxyAddr, metricsAddr, publicRoute)
	cfg := writeFile(t, dir, "gateway.yaml", base)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	const failures = `portcullis_config_reloads_total{result="failure"}`
	const successes = `portcullis_config_reloads_total{result="success"}`

	// Sub-tests share one process and run in order.
	t.Run("good", func(t *testing.T) {
		if code, _ := g.get(g.proxy + "/extra/x"); code != http.StatusUnauthorized {
			t.Fatalf("before reload GET /extra/x = %d, want 401 (the demo route)", code)
		}
		next := strings.Replace(base, "log:\n  level: debug", "log:\n  level: info", 1) +
			"  - name: extra\n    path_prefix: /extra\n    upstream: \"echo:\"\n    auth: public\n"
		writeFile(t, dir, "gateway.yaml", next)
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "the new route", func() bool {
			code, _ := g.get(g.proxy + "/extra/x")
			return code == http.StatusOK
		})
		g.waitFor(5*time.Second, "reload success counted", func() bool { return g.metric(successes) == "1" })
	})
	t.Run("bad syntax keeps the old config", func(t *testing.T) {
		writeFile(t, dir, "gateway.yaml", "server:\n  listen: [oops\n")
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "reload failure counted", func() bool { return g.metric(failures) == "1" })
		if code, _ := g.get(g.proxy + "/extra/x"); code != http.StatusOK {
			t.Errorf("after a failed reload GET /extra/x = %d, want 200 (old config)", code)
		}
		if !strings.Contains(g.log.String(), "reload refused") {
			t.Errorf("log lacks the refused reload")
		}
	})
	t.Run("restart-only keys are refused", func(t *testing.T) {
		tests := []struct {
			name, next, key string
		}{
			{"sessions", strings.Replace(base, "store: memory\n", "store: memory\n  max_per_user: 9\n", 1), "sessions.max_per_user"},
			{"listener", strings.Replace(base, "listen: \""+proxyAddr+"\"", "listen: \""+sessionstest.FreeAddr(t)+"\"", 1), "server.listen"},
			{"users file path", strings.Replace(base, demoUsers(t), copyOf(t, demoUsers(t)), 1), "users.file"},
			{"argon2 caps", strings.Replace(base, "users:\n", "users:\n  argon2:\n    max_iterations: 5\n", 1), "users.argon2"},
		}
		for i, tt := range tests {
			writeFile(t, dir, "gateway.yaml", tt.next)
			g.signal(syscall.SIGHUP)
			want := strconv.Itoa(2 + i)
			g.waitFor(5*time.Second, tt.name+" reload failure counted", func() bool { return g.metric(failures) == want })
			log := g.log.String()
			if !strings.Contains(log, tt.key) || !strings.Contains(log, "restart required") {
				t.Errorf("%s: log lacks %q with restart required", tt.name, tt.key)
			}
			if code, _ := g.get(g.proxy + "/public/x"); code != http.StatusOK {
				t.Errorf("%s: after a refused reload GET /public/x = %d, want 200", tt.name, code)
			}
		}
	})
	t.Run("log level follows the config", func(t *testing.T) {
		if !strings.Contains(g.log.String(), "log_level=INFO") {
			t.Errorf("log lacks the new level after reload")
		}
	})
}

func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Write([]byte("slow done"))
	}))
	t.Cleanup(upstream.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	routes := "routes:\n  - name: slow\n    path_prefix: /slow\n    upstream: \"" + upstream.URL + "\"\n    auth: public\n"
	body := strings.Replace(testConfig(t, proxyAddr, metricsAddr, routes), "shutdown_delay: 300ms", "shutdown_delay: 2s", 1)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)
	g.waitFor(5*time.Second, "readyz 200", func() bool { code, _ := g.get(g.metrics + "/readyz"); return code == http.StatusOK })

	type result struct {
		code int
		body string
	}
	inflight := make(chan result, 1)
	go func() {
		code, body := g.get(g.proxy + "/slow")
		inflight <- result{code, body}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}

	const delay = 2 * time.Second
	sent := time.Now()
	g.signal(syscall.SIGTERM)
	g.waitFor(delay*3/4, "readyz 503 during shutdown_delay", func() bool {
		code, _ := g.get(g.metrics + "/readyz")
		return code == http.StatusServiceUnavailable
	})
	// Still accepting during shutdown_delay: load balancers may lag.
	if code, _ := g.get(g.proxy + "/not-a-route"); code != http.StatusNotFound {
		t.Errorf("request during shutdown_delay = %d, want 404 (still served)", code)
	}
	time.Sleep(time.Until(sent.Add(delay + 500*time.Millisecond))) // listener closed, drain in progress
	if code, _ := g.get(g.proxy + "/slow"); code != 0 {
		t.Errorf("new request after shutdown_delay answered %d, want a refused connection", code)
	}
	close(release)

	select {
	case r := <-inflight:
		if r.code != http.StatusOK || r.body != "slow done" {
			t.Errorf("in-flight request = %d %q, want 200 \"slow done\"", r.code, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not complete")
	}
	if code := g.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if log := g.log.String(); !strings.Contains(log, "drained in-flight requests") {
		t.Errorf("log lacks the drain")
	}
}

func TestIsDemoUsersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, file, body string
		want             bool
	}{
		{"by name", "demo-users.yaml", "users: {}\n", true},
		{"by marker", "users.yaml", "# portcullis:demo-users\nusers: {}\n", true},
		{"real file", "users.yaml", "users:\n  carol: {}\n", false},
		{"missing", "absent.yaml", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := t.TempDir()
			path := sub + "/" + tt.file
			if tt.body != "" {
				if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := isDemoUsersFile(path); got != tt.want {
				t.Errorf("isDemoUsersFile(%q) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
	_ = dir
}

func TestShutdownTimeoutCutsStuckRequests(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(upstream.Close)
	t.Cleanup(func() { close(release) })

	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	routes := "routes:\n  - name: stuck\n    path_prefix: /\n    upstream: \"" + upstream.URL + "\"\n    auth: public\n"
	body := testConfig(t, proxyAddr, metricsAddr, routes)
	body = strings.Replace(body, "shutdown_delay: 300ms\n  shutdown_timeout: 5s", "shutdown_delay: 0s\n  shutdown_timeout: 500ms", 1)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	inflight := make(chan int, 1)
	go func() { code, _ := g.get(g.proxy + "/stuck"); inflight <- code }()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck request never reached the upstream")
	}
	g.signal(syscall.SIGTERM)
	if code := g.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	select {
	case code := <-inflight:
		if code == http.StatusOK {
			t.Errorf("stuck request completed with 200 after shutdown_timeout; want it cut")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stuck request still open after the gateway exited")
	}
	if !strings.Contains(g.log.String(), "drain incomplete") {
		t.Errorf("log lacks the incomplete drain")
	}
}

// copyOf copies the file at path into a temp dir and returns the copy's path.
func copyOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), filepath.Base(path), string(data))
}

func TestSecondSignalSkipsShutdownDelay(t *testing.T) {
	t.Parallel()
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute), "shutdown_delay: 300ms", "shutdown_delay: 60s", 1)
	cfg := writeFile(t, t.TempDir(), "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	g.signal(syscall.SIGTERM)
	g.waitFor(5*time.Second, "the shutdown to start", func() bool {
		return strings.Contains(g.log.String(), "waiting before closing listeners")
	})
	g.signal(syscall.SIGINT)
	// Far less than the 60s delay: only the second signal explains an exit.
	if code := g.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if !strings.Contains(g.log.String(), "second signal") {
		t.Errorf("log lacks the second signal")
	}
}
