package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gwusers "github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// gateway is one portcullis replica.
type gateway struct {
	*proc
	base    string // http://127.0.0.1:<port>
	metrics string
	admin   string
}

// secrets shared by both replicas of a scenario: one signing key (so either
// replica verifies the other's tokens and derives the same refresh secrets)
// and the admin token.
type secrets struct {
	hmac, admin string
}

func newSecrets() secrets {
	return secrets{hmac: randHex(32), admin: randHex(32)}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeUsers writes the users file with the default argon2id cost of
// `portcullis hash-password`, as production files have: the gateway's dummy
// check for unknown names imitates the file's cost, so cheap hashes here would
// make the login flood (unknown names) cost nothing and prove nothing.
func writeUsers(path string, users []string) error {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range users {
		h, err := gwusers.Hash(password(u), false)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %s:\n    password_hash: %q\n    roles: [staff]\n", u, h)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func password(user string) string { return "pw-" + user }

// gatewayConfig is the YAML both replicas run (only the ports differ).
func gatewayConfig(o *options, t *topology, s secrets, usersFile string, port, metrics, admin, upstream int) string {
	return fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
  shutdown_delay: 0s
  shutdown_timeout: 2s
  trusted_proxies: ["127.0.0.1/32"]
metrics:
  listen: "127.0.0.1:%d"
admin:
  listen: "127.0.0.1:%d"
  token: %q
tokens:
  keys:
    - id: chaos
      alg: HS256
      secret: %q
sessions:
  store: redis
  max_per_user: %d
  touch_interval: %s
  refresh_grace: %s
  idle_timeout: 1h
  cache:
    enabled: %t
    max_staleness: %s
%susers:
  file: %q
cookies:
  secure: false
login:
  rate_limit:
    per_user: 10
    per_ip: 20
    window: 5m
log:
  level: warn
  access_log: false
routes:
  - name: app
    path_prefix: /
    upstream: "http://127.0.0.1:%d"
    auth: required
`, port, metrics, admin, s.admin, s.hmac, o.maxPerUser, o.touch, o.grace, o.cache, o.staleness,
		t.redisYAML(), usersFile, upstream)
}

// startGateway writes the config and starts one replica, waiting for /readyz.
func startGateway(o *options, root, name string, t *topology, s secrets, usersFile string, upstream int) (*gateway, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := sessionstest.NewPort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(conf, []byte(gatewayConfig(o, t, s, usersFile, ports[0], ports[1], ports[2], upstream)), 0o600); err != nil {
		return nil, err
	}
	p, err := children.start(name, dir, o.binary, "serve", "-config", conf)
	if err != nil {
		return nil, err
	}
	g := &gateway{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		metrics: "http://127.0.0.1:" + strconv.Itoa(ports[1]), admin: "http://127.0.0.1:" + strconv.Itoa(ports[2])}
	err = sessionstest.WaitFor(20*time.Second, name+" /readyz", func() bool {
		if !p.alive() {
			return true
		}
		resp, err := http.Get(g.metrics + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err == nil && !p.alive() {
		err = fmt.Errorf("%s exited; see %s", name, filepath.Join(dir, name+".log"))
	}
	return g, err
}

// gauge reads one unlabelled metric from /metrics (-1 when absent).
func (g *gateway) gauge(name string) float64 {
	resp, err := http.Get(g.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
