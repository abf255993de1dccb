// Package forwardauth_test runs the shipped forward-auth examples (nginx.conf,
// Caddyfile) with the real nginx and caddy binaries, the real portcullis
// binary and a recording upstream app, all on loopback; and drives a real
// headless Chromium through the browser journey. It holds tests only: nothing
// here is part of the binary.
package forwardauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/gateway/browsertest"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// requireProgram returns the path of an external program a test needs: a
// skip when it is missing, a failure under CI=true (gateway/browsertest).
func requireProgram(t *testing.T, name string) string {
	t.Helper()
	return browsertest.RequireProgram(t, name)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// TestMain removes the portcullis binary built by portcullisBin.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// portcullisBin builds cmd/portcullis once per test run: the program users
// run, not an in-process gateway.
func portcullisBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "portcullis-fa-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "portcullis")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/portcullis-gw/portcullis/cmd/portcullis")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startProcess runs a long-lived program whose output goes to a log file
// (shown when the test fails) and stops it with SIGTERM, then SIGKILL.
func startProcess(t *testing.T, name string, env []string, argv ...string) <-chan struct{} {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log:\n%s", name, tail(string(b), 4000))
		}
	})
	return done
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitHTTP polls url until it answers want, or fails the test after a
// generous deadline (the machine is shared; this bounds a hang, not speed).
func waitHTTP(t *testing.T, client *http.Client, url string, want int, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("the server for %s exited", url)
		default:
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d (last: %s)", url, want, last)
}

// The users of every test: alice may see /admin, bob may not.
const (
	alicePassword = "alice-pw-0123456789"
	bobPassword   = "bob-pw-0123456789"
)

// gateway is a running portcullis binary.
type gateway struct {
	Addr    string // proxy listener, 127.0.0.1:port
	Metrics string // metrics listener
	Config  string // config file path
}

// gatewayOptions shapes the config of startGateway.
type gatewayOptions struct {
	Upstream  string // the app's base URL
	Secure    bool   // cookies.secure
	RedisAddr string // "" = memory store
}

// startGateway writes a config and starts the binary with it: loopback is a
// trusted proxy (nginx and caddy run there), the app is behind two routes
// (/admin needs role admin), /static is a public route (so /auth/verify
// matches it; the proxies serve it without asking).
func startGateway(t *testing.T, o gatewayOptions) *gateway {
	t.Helper()
	bin := portcullisBin(t)
	dir := t.TempDir()
	var uf strings.Builder
	uf.WriteString("users:\n")
	for _, u := range []struct{ name, pw, roles string }{{"alice", alicePassword, "[admin, staff]"}, {"bob", bobPassword, "[staff]"}} {
		// Cheap argon2id parameters: these tests exercise flows, not cost.
		h, err := users.HashArgon2id(u.pw, 1024, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&uf, "  %s:\n    password_hash: %q\n    roles: %s\n", u.name, h, u.roles)
	}
	writeFile(t, filepath.Join(dir, "users.yaml"), uf.String())
	g := &gateway{Addr: sessionstest.FreeAddr(t), Metrics: sessionstest.FreeAddr(t), Config: filepath.Join(dir, "gateway.yaml")}
	store := "sessions: {store: memory}\n"
	if o.RedisAddr != "" {
		store = fmt.Sprintf("sessions:\n  store: redis\n  redis: {addrs: [%q], dial_timeout: 300ms, read_timeout: 300ms, write_timeout: 300ms}\n", o.RedisAddr)
	}
	cfg := fmt.Sprintf(`server:
  listen: %q
  trusted_proxies: ["127.0.0.0/8", "::1/128"]
  shutdown_delay: 0s
  shutdown_timeout: 5s
metrics: {listen: %q}
tokens:
  keys: [{id: k1, alg: HS256, secret: %q}]
%susers: {file: users.yaml}
cookies: {secure: %v, same_site: lax}
log: {level: info, format: text}
routes:
  - {name: admin, path_prefix: /admin, upstream: %q, auth: required, roles: [admin]}
  - {name: static, path_prefix: /static, upstream: %q, auth: public}
  - {name: app, path_prefix: /, upstream: %q, auth: required}
`, g.Addr, g.Metrics, strings.Repeat("k", 32), store, o.Secure, o.Upstream, o.Upstream, o.Upstream)
	writeFile(t, g.Config, cfg)
	exited := startProcess(t, "portcullis", nil, bin, "serve", "-config", g.Config)
	waitHTTP(t, http.DefaultClient, "http://"+g.Metrics+"/readyz", http.StatusOK, exited)
	return g
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// recordingApp is the upstream app: it records every request's headers and
// answers with the identity it was handed.
type recordingApp struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newRecordingApp(t *testing.T) *recordingApp {
	t.Helper()
	a := &recordingApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Clone(context.Background()))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>app</title><p id=user>user=%s</p><p id=uri>uri=%s</p>\n",
			htmlEscape(r.Header.Get("X-Auth-User")), htmlEscape(r.URL.RequestURI()))
	}))
	t.Cleanup(a.Close)
	return a
}

// last returns the last request the app received, or nil.
func (a *recordingApp) last() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		return nil
	}
	return a.seen[len(a.seen)-1]
}

func (a *recordingApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// tlsFiles writes a self-signed certificate for 127.0.0.1, localhost and
// app.example.com and returns the cert and key paths and the cert pool.
func tlsFiles(t *testing.T) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "app.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"app.example.com", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// shipped reads a file of deploy/forward-auth (this directory).
func shipped(t *testing.T, name string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(self), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// template replaces each old string of a shipped file, failing unless every
// one occurs exactly as often as expected: a shipped file that drifts from
// what the test templates must fail loudly, not test something else.
func template(t *testing.T, s string, pairs ...any) string {
	t.Helper()
	for i := 0; i+3 <= len(pairs); i += 3 {
		old, repl, n := pairs[i].(string), pairs[i+1].(string), pairs[i+2].(int)
		if got := strings.Count(s, old); got != n {
			t.Fatalf("shipped file: %q occurs %d times, want %d", old, got, n)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return s
}

// startNginx runs the shipped nginx.conf (an http{} snippet) in a minimal
// main config, on a free loopback port with TLS.
func startNginx(t *testing.T, gw *gateway, app *recordingApp) (base string, pool *x509.CertPool) {
	t.Helper()
	bin := requireProgram(t, "nginx")
	certPath, keyPath, pool := tlsFiles(t)
	port := sessionstest.FreePort(t)
	snippet := template(t, shipped(t, "nginx.conf"),
		"server portcullis:8080;", "server "+gw.Addr+";", 1,
		"server app:8000;", "server "+strings.TrimPrefix(app.URL, "http://")+";", 1,
		"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", port), 1,
		"/etc/nginx/tls/app.example.com.crt", certPath, 1,
		"/etc/nginx/tls/app.example.com.key", keyPath, 1,
	)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "forward-auth.conf"), snippet)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers need the temp dirs below
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/forward-auth.conf;
}
`, user, dir)
	writeFile(t, filepath.Join(dir, "nginx.conf"), main)
	exited := startProcess(t, "nginx", nil, bin, "-p", dir, "-e", "stderr", "-c", filepath.Join(dir, "nginx.conf"))
	base = fmt.Sprintf("https://127.0.0.1:%d", port)
	waitHTTP(t, newClient(pool), base+"/auth/login", http.StatusOK, exited)
	return base, pool
}

// startCaddy runs the shipped Caddyfile with its site address templated to a
// free loopback port over plain http; the global options block only keeps
// this instance private (no admin endpoint, no shared storage).
func startCaddy(t *testing.T, gw *gateway, app *recordingApp) string {
	t.Helper()
	bin := requireProgram(t, "caddy")
	addr := sessionstest.FreeAddr(t)
	file := template(t, shipped(t, "Caddyfile"),
		"\napp.example.com {", "\nhttp://"+addr+" {", 1,
		"portcullis:8080", gw.Addr, 2,
		"app:8000", strings.TrimPrefix(app.URL, "http://"), 2,
	)
	dir := t.TempDir()
	global := "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\tstorage file_system " + filepath.Join(dir, "data") + "\n}\n"
	writeFile(t, filepath.Join(dir, "Caddyfile"), global+file)
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	exited := startProcess(t, "caddy", env, bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	base := "http://" + addr
	waitHTTP(t, newClient(nil), base+"/auth/login", http.StatusOK, exited)
	return base
}
