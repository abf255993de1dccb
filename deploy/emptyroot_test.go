package deploy_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// requireRoot skips without root on a developer's machine; CI runs as root
// (CI=true), where a missing privilege fails.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chroot needs root, and CI runs as root")
	}
	t.Skip("chroot needs root (CI=true makes this a failure)")
}

// The image needs nothing but the binary: the binary built by the
// Dockerfile's line runs as the image's uid in an empty root holding only
// itself, deploy/gateway.yaml and the files it names, through start-up
// against Redis, a login, a proxied request, a refresh, the HEALTHCHECK
// command and a clean SIGTERM.
func TestEmptyRoot(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	img := parseImage(t)
	uid, gid := imageUser(t, img.user)
	redis := sessionstest.StartRedis(t, "--requirepass", "s3cret-redis")

	var seen http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Write([]byte("app"))
	}))
	t.Cleanup(upstream.Close)

	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	proxyAddr, metricsAddr, adminAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	layoutRoot(t, root, img, uid, gid, proxyAddr, metricsAddr, adminAddr)

	env := []string{"PORTCULLIS_CONFIG=" + img.env["PORTCULLIS_CONFIG"], "REDIS_ADDR=" + redis.Addr, "UPSTREAM_URL=" + upstream.URL}
	inRoot := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		cmd.Dir = "/"
		// chroot(2) and the image's uid: nothing from the host's filesystem.
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		return cmd
	}
	g := startGateway(t, inRoot(append(img.entrypoint, img.cmd...)...), proxyAddr, metricsAddr)

	code, _, body := do(http.MethodPost, g.proxy+"/auth/login", jsonHeader, `{"username":"alice","password":"wonderland"}`)
	if code != http.StatusOK {
		t.Fatalf("login = %d %s, want 200", code, body)
	}
	bearer := http.Header{"Authorization": {"Bearer " + field(body, "access_token")}}
	if code, _, b := do(http.MethodGet, g.proxy+"/api/x", bearer, ""); code != http.StatusOK || b != "app" || seen.Get("X-Auth-User") != "alice" {
		t.Errorf("GET /api/x = %d %q, app saw X-Auth-User %q; want 200 from the app for alice", code, b, seen.Get("X-Auth-User"))
	}
	refresh := `{"refresh_token":"` + field(body, "refresh_token") + `"}`
	if code, _, b := do(http.MethodPost, g.proxy+"/auth/refresh", jsonHeader, refresh); code != http.StatusOK {
		t.Errorf("refresh = %d %s, want 200", code, b)
	}
	if out, err := inRoot(img.healthcheck...).CombinedOutput(); err != nil {
		t.Errorf("HEALTHCHECK %q in the root: %v %s", img.healthcheck, err, out)
	}

	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.done:
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within 60s of SIGTERM")
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(g.log.String(), `"msg":"stopped"`) {
		t.Errorf("exit after SIGTERM = %d, want 0 and a logged stop:\n%s", code, g.log.String())
	}
	for _, bad := range []string{"s3cret-redis", field(body, "access_token")} {
		if strings.Contains(g.log.String(), bad) {
			t.Errorf("the log holds a secret")
		}
	}
}

// imageUser parses USER uid:gid.
func imageUser(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	u, g, _ := strings.Cut(user, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("USER %q: want numeric uid:gid", user)
	}
	return uint32(uid), uint32(gid)
}

// layoutRoot lays out the image in root: the binary where COPY puts it, the
// shipped deploy/gateway.yaml where PORTCULLIS_CONFIG points (listeners
// moved to free loopback ports) and the secrets it names, owned and moded
// as the deploy README says (key 0400 by the image's uid; others 0440 to its
// group).
func layoutRoot(t *testing.T, root string, img dockerImage, uid, gid uint32, proxyAddr, metricsAddr, adminAddr string) {
	t.Helper()
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, img.binary), string(bin), 0o755)

	shipped, err := os.ReadFile("gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(shipped)
	for old, repl := range map[string]string{`listen: ":8080"`: `listen: "` + proxyAddr + `"`, `listen: ":9464"`: `listen: "` + metricsAddr + `"`, `listen: "127.0.0.1:9465"`: `listen: "` + adminAddr + `"`} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("deploy/gateway.yaml lacks %s", old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	writeFile(t, filepath.Join(root, img.env["PORTCULLIS_CONFIG"]), cfg, 0o444)

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	users, err := os.ReadFile(repoFile(t, "demo-users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []struct {
		path, data string
		owner      uint32
		mode       os.FileMode
	}{
		{"/run/secrets/portcullis/ed25519.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), uid, 0o400},
		{"/run/secrets/portcullis/admin-token", strings.Repeat("a", 40) + "\n", 0, 0o440},
		{"/run/secrets/portcullis/redis-password", "s3cret-redis\n", 0, 0o440},
		{"/etc/portcullis/users/users.yaml", string(users), 0, 0o440},
	}
	for _, s := range secrets {
		if !strings.Contains(cfg, s.path) {
			t.Fatalf("deploy/gateway.yaml no longer names %s", s.path)
		}
		p := writeFile(t, filepath.Join(root, s.path), s.data, s.mode)
		if err := os.Chown(p, int(s.owner), int(gid)); err != nil {
			t.Fatal(err)
		}
	}
	var layout []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			layout = append(layout, strings.TrimPrefix(p, root))
		}
		return nil
	})
	got, _ := json.Marshal(layout)
	t.Logf("empty root holds: %s", got)
}
