package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the real binary as a process: built once here, stamped like
// a release build, with the race detector when the tests have it.
var binPath string

const (
	testVersion = "v0.0.0-test"
	testCommit  = "0123456789abcdef"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portcullis-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "portcullis")
	args := []string{"build", "-o", binPath,
		"-ldflags", "-X main.version=" + testVersion + " -X main.commit=" + testCommit}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building portcullis:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the binary to completion and returns its exit code and output.
func runBin(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runBinIn(t, "", env, args...)
}

// runBinIn is runBin with the working directory set to dir ("" = inherit).
func runBinIn(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running %v: %v", args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// cleanEnv is the environment without PORTCULLIS_CONFIG, so that tests do
// not depend on the caller's shell.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, configEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// demoUsers is the repository's demo users file (absolute, so configs in
// temporary directories can name it).
func demoUsers(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "demo-users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is an io.Writer safe for the process's output goroutine and the
// test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gatewayProc is a running `portcullis serve`.
type gatewayProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	log     *syncBuffer
	proxy   string // base URL of the proxy listener
	metrics string // base URL of the metrics listener
	done    chan struct{}
	exit    int
}

// testConfig is the base config for serve tests; extra is appended verbatim
// (routes, more sections).
func testConfig(t *testing.T, proxyAddr, metricsAddr, extra string) string {
	return fmt.Sprintf(`server:
  listen: %q
  shutdown_delay: 300ms
  shutdown_timeout: 5s
metrics:
  listen: %q
sessions:
  store: memory
users:
  file: %q
cookies:
  secure: false
log:
  level: debug
%s`, proxyAddr, metricsAddr, demoUsers(t), extra)
}

const publicRoute = `routes:
  - name: public
    path_prefix: /public
    upstream: "echo:"
    auth: public
  - name: demo
    path_prefix: /
    upstream: "echo:"
    auth: required
`

// startGateway runs `portcullis serve -config cfgPath` and waits until the
// metrics listener answers /healthz.
func startGateway(t *testing.T, cfgPath, proxyAddr, metricsAddr string) *gatewayProc {
	t.Helper()
	return startGatewayEnv(t, nil, cfgPath, proxyAddr, metricsAddr)
}

// startGatewayEnv is startGateway with env added to the process environment.
func startGatewayEnv(t *testing.T, env []string, cfgPath, proxyAddr, metricsAddr string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{
		t:       t,
		log:     &syncBuffer{},
		proxy:   "http://" + proxyAddr,
		metrics: "http://" + metricsAddr,
		done:    make(chan struct{}),
	}
	g.cmd = exec.Command(binPath, "serve", "-config", cfgPath)
	g.cmd.Env = append(cleanEnv(), env...)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.cmd.Wait()
		g.exit = g.cmd.ProcessState.ExitCode()
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			g.cmd.Process.Kill()
			<-g.done
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.log.String())
		}
	})
	g.waitFor(10*time.Second, "healthz 200", func() bool {
		code, _ := g.get(g.metrics + "/healthz")
		return code == http.StatusOK
	})
	return g
}

// waitFor polls cond until it holds, failing the test after timeout or when
// the process exits.
func (g *gatewayProc) waitFor(timeout time.Duration, what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		select {
		case <-g.done:
			g.t.Fatalf("gateway exited (code %d) while waiting for %s", g.exit, what)
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the status and body of a GET; status 0 when the request failed.
func (g *gatewayProc) get(url string) (int, string) {
	return doRequest(http.MethodGet, url, nil, "")
}

func doRequest(method, url string, header http.Header, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true},
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signal sends sig to the process.
func (g *gatewayProc) signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (g *gatewayProc) wait(timeout time.Duration) int {
	g.t.Helper()
	select {
	case <-g.done:
		return g.exit
	case <-time.After(timeout):
		g.t.Fatalf("gateway did not exit within %v", timeout)
		return -1
	}
}

// metric returns the value of the exposition line that starts with prefix
// (a metric name with its labels), or "" when absent.
func (g *gatewayProc) metric(prefix string) string {
	_, body := g.get(g.metrics + "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return ""
}
