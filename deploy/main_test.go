// Package deploy_test proves the files in deploy/ against the real program:
// the binary is built exactly as deploy/Dockerfile builds it, then the
// Prometheus, Grafana, container and Kubernetes files are checked against it.
package deploy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build arguments the tests stamp, so a drift of the -X variable names shows.
const (
	testVersion = "v0.0.0-deploytest"
	testCommit  = "feedc0de"
)

var (
	binPath string // the binary, built by buildLikeDockerfile
	build   dockerBuild
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portcullis-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildLikeDockerfile(dir); err != nil {
		fmt.Fprintln(os.Stderr, "building portcullis as deploy/Dockerfile does:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildLikeDockerfile runs the Dockerfile's `go build` line (its environment
// assignments, flags and package; only -o changes) from the repository root.
func buildLikeDockerfile(dir string) error {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		return err
	}
	b, err := parseDockerBuild(string(data), map[string]string{"VERSION": testVersion, "COMMIT": testCommit})
	if err != nil {
		return err
	}
	build = b
	binPath = filepath.Join(dir, "portcullis")
	args := append([]string(nil), b.args...)
	args[b.outIndex] = binPath
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), b.env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// requireTool returns the path of an external program. Missing, the test
// skips on a developer's machine and fails in CI (CI=true), where .ci/run
// installs it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing in CI (.ci/run installs it): %v", name, err)
	}
	t.Skipf("%s not installed (CI=true makes this a failure): %v", name, err)
	return ""
}

// run runs a program to completion and returns its exit code and output.
func run(t *testing.T, stdin io.Reader, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// repoFile is a path in the repository, absolute.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer collects a process's output for the test to read.
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

// gateway is a running `portcullis serve`.
type gateway struct {
	cmd     *exec.Cmd
	log     *syncBuffer
	proxy   string
	metrics string
	done    chan struct{}
}

// startGateway starts cmd (a prepared `portcullis serve`) and waits for its
// /healthz; the process is killed when the test ends.
func startGateway(t *testing.T, cmd *exec.Cmd, proxyAddr, metricsAddr string) *gateway {
	t.Helper()
	g := &gateway{cmd: cmd, log: &syncBuffer{}, proxy: "http://" + proxyAddr, metrics: "http://" + metricsAddr, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			cmd.Process.Kill()
			<-g.done
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _, _ := do(http.MethodGet, g.metrics+"/healthz", nil, ""); code == http.StatusOK {
			return g
		}
		select {
		case <-g.done:
			t.Fatalf("gateway exited during start-up:\n%s", g.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy after 20s:\n%s", g.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends one request without following redirects; status 0 on failure.
func do(method, url string, header http.Header, body string) (int, http.Header, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err.Error()
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// field extracts a string field from a flat JSON answer.
func field(body, name string) string {
	m := regexp.MustCompile(`"` + name + `":"([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}
