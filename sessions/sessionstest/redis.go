// Package sessionstest starts throwaway redis-server processes for tests,
// hands out free loopback ports (port.go), and holds the conformance suite
// every session store must pass.
package sessionstest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing
// redis-server or redis-cli binary from a skip into a failure (set it in CI).
const RequireEnv = "PORTCULLIS_REQUIRE_REDIS"

// Redis is one redis-server process started for a test.
type Redis struct {
	Addr string // 127.0.0.1:<port>
	Dir  string // its working directory (a t.TempDir)

	cmd    *exec.Cmd
	mu     sync.Mutex
	paused bool
	done   chan struct{}
	tls    *TLSFiles
}

// binary returns the path of name, skipping (or failing, with RequireEnv set)
// the test when it is not installed.
func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s not found and %s is set: %v", name, RequireEnv, err)
		return ""
	}
	t.Skipf("%s not found (set %s to make this a failure): %v", name, RequireEnv, err)
	return ""
}

// StartRedis starts `redis-server --port <free> --bind 127.0.0.1 --save ""
// --appendonly no` in a temporary directory, waits until it answers PING and
// kills it when the test ends. Extra config directives may follow as
// command-line arguments (e.g. "--requirepass", "pw").
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin := binary(t, "redis-server")
	var lastErr error
	for range 3 { // a free port can be taken between the probe and the bind
		r, err := startServer(t, bin, nil, nil, args...)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

func startServer(t testing.TB, bin string, lead []string, tf *TLSFiles, args ...string) (*Redis, error) {
	dir := t.TempDir()
	port := FreePort(t)
	argv := append([]string(nil), lead...)
	if tf != nil {
		argv = append(argv, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", tf.ServerCert, "--tls-key-file", tf.ServerKey,
			"--tls-ca-cert-file", tf.CA, "--tls-auth-clients", "yes")
	} else {
		argv = append(argv, "--port", strconv.Itoa(port))
	}
	argv = append(argv, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning",
		"--logfile", filepath.Join(dir, "redis.log"))
	argv = append(argv, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, cmd: cmd, done: make(chan struct{}), tls: tf}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Stop)
	if err := waitReady(r, 10*time.Second); err != nil {
		r.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		return nil, fmt.Errorf("%s: %v\n%s", r.Addr, err, log)
	}
	return r, nil
}

func waitReady(r *Redis, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited")
		default:
		}
		reply, err := "", error(nil)
		if r.tls != nil {
			reply, err = tlsPing(r.Addr, r.tls)
		} else {
			reply, err = Command(r.Addr, "PING")
		}
		if err == nil && (reply == "PONG" || strings.HasPrefix(reply, "NOAUTH") || strings.HasPrefix(reply, "ERR")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %v: %v %q", within, err, reply)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pause freezes the server with SIGSTOP: connections stay open and nothing
// answers, like a hung or partitioned Redis.
func (r *Redis) Pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.paused {
		r.cmd.Process.Signal(syscall.SIGSTOP)
		r.paused = true
	}
}

// Resume undoes Pause with SIGCONT.
func (r *Redis) Resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paused {
		r.cmd.Process.Signal(syscall.SIGCONT)
		r.paused = false
	}
}

// Stop kills the server and waits for it to exit; safe to call twice.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Kill()
	if r.paused {
		r.cmd.Process.Signal(syscall.SIGCONT)
		r.paused = false
	}
	<-r.done
}

// WaitFor polls ok every 50 ms until it holds, or fails after within.
func WaitFor(within time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// waitFor is WaitFor that fails t.
func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	if err := WaitFor(within, what, ok); err != nil {
		t.Fatal(err)
	}
}

// Command sends one command over a fresh connection (RESP, no client
// library) and returns the reply flattened to text: simple strings, errors,
// integers and bulk strings as they are, arrays joined by newlines. Tests use
// it to inspect a server independently of go-redis.
func Command(addr string, args ...string) (string, error) {
	return CommandAuth(addr, "", "", args...)
}

// CommandAuth is Command on a connection that first authenticates with
// AUTH [user] password (skipped when password is empty).
func CommandAuth(addr, user, password string, args ...string) (string, error) {
	return asText(command(addr, 5*time.Second, user, password, args...))
}

// asText turns an error reply back into the reply's text.
func asText(reply string, err error) (string, error) {
	if e, ok := err.(RedisError); ok {
		return string(e), nil
	}
	return reply, err
}

// Do is Command bounded by timeout (the dial and the whole exchange), with
// an error reply returned as a RedisError instead of as text.
func Do(addr string, timeout time.Duration, args ...string) (string, error) {
	return command(addr, timeout, "", "", args...)
}

// RedisError is an error reply ("-ERR ...") without its leading '-'.
type RedisError string

func (e RedisError) Error() string { return string(e) }

func command(addr string, timeout time.Duration, user, password string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, min(timeout, time.Second))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReader(c)
	if password != "" {
		auth := []string{"AUTH", password}
		if user != "" {
			auth = []string{"AUTH", user, password}
		}
		if _, err := c.Write(encode(auth)); err != nil {
			return "", err
		}
		if reply, err := readReply(br); err != nil || reply != "OK" {
			return reply, fmt.Errorf("AUTH: %q %v", reply, err)
		}
	}
	if _, err := c.Write(encode(args)); err != nil {
		return "", err
	}
	return readReply(br)
}

func encode(args []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", RedisError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readReply(br); err != nil {
				e, ok := err.(RedisError)
				if !ok {
					return "", err
				}
				parts[i] = string(e) // an error inside an array stays in the text
			}
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// Sentinel is a master watched by one Sentinel (quorum 1).
type Sentinel struct {
	Addrs      []string // sentinel addresses
	MasterName string
	Master     *Redis
	Replica    *Redis // nil unless SentinelConfig.Replica
	Sentinel   *Redis

	cfg SentinelConfig
}

// SentinelConfig adds authentication to StartSentinelConfig.
type SentinelConfig struct {
	MasterArgs []string // extra redis-server arguments for the master (e.g. ACL users)
	// MasterUser/MasterPassword are what the sentinel uses to reach the
	// master (sentinel auth-user / auth-pass).
	MasterUser, MasterPassword string
	// Username/Password are what clients must present to the sentinel: with
	// Username an ACL user is created and the default user disabled; with
	// only Password, requirepass.
	Username, Password string
	// Replica adds a replica of the master, known to the sentinel, so that
	// tests can force a failover (Sentinel.Failover).
	Replica bool
}

// StartSentinel starts a master and one `redis-server sentinel.conf
// --sentinel` monitoring it with quorum 1, and waits until the sentinel
// names the master.
func StartSentinel(t testing.TB) *Sentinel { return StartSentinelConfig(t, SentinelConfig{}) }

// StartSentinelConfig is StartSentinel with authentication.
func StartSentinelConfig(t testing.TB, cfg SentinelConfig) *Sentinel {
	t.Helper()
	bin := binary(t, "redis-server")
	master := StartRedis(t, cfg.MasterArgs...)
	const name = "portcullis-test"
	_, mport, _ := net.SplitHostPort(master.Addr)
	var replica *Redis
	if cfg.Replica {
		args := append([]string{"--replicaof", "127.0.0.1", mport}, cfg.MasterArgs...)
		if cfg.MasterUser != "" {
			args = append(args, "--masteruser", cfg.MasterUser)
		}
		if cfg.MasterPassword != "" {
			args = append(args, "--masterauth", cfg.MasterPassword)
		}
		replica = StartRedis(t, args...)
	}
	var body strings.Builder
	fmt.Fprintf(&body, "sentinel monitor %s 127.0.0.1 %s 1\nsentinel down-after-milliseconds %s 5000\n", name, mport, name)
	if cfg.MasterUser != "" {
		fmt.Fprintf(&body, "sentinel auth-user %s %s\n", name, cfg.MasterUser)
	}
	if cfg.MasterPassword != "" {
		fmt.Fprintf(&body, "sentinel auth-pass %s %s\n", name, cfg.MasterPassword)
	}
	switch {
	case cfg.Username != "":
		fmt.Fprintf(&body, "user default off\nuser %s on >%s +@all\n", cfg.Username, cfg.Password)
	case cfg.Password != "":
		fmt.Fprintf(&body, "requirepass %s\n", cfg.Password)
	}
	var s *Redis
	var err error
	for range 3 {
		conf := filepath.Join(t.TempDir(), "sentinel.conf")
		if err = os.WriteFile(conf, []byte(body.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err = startServer(t, bin, []string{conf, "--sentinel"}, nil); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, err := CommandAuth(s.Addr, cfg.Username, cfg.Password, "SENTINEL", "get-master-addr-by-name", name)
		if err == nil && reply == "127.0.0.1\n"+mport {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel does not know master %s: %v %q", name, err, reply)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := &Sentinel{Addrs: []string{s.Addr}, MasterName: name, Master: master, Replica: replica, Sentinel: s, cfg: cfg}
	if replica != nil {
		waitFor(t, 20*time.Second, "the sentinel to know the replica", func() bool {
			reply, err := st.command("SENTINEL", "replicas", name)
			return err == nil && strings.Contains(reply, replica.Addr[len("127.0.0.1:"):]) && !strings.Contains(reply, "disconnected")
		})
	}
	return st
}

func (s *Sentinel) command(args ...string) (string, error) {
	return CommandAuth(s.Sentinel.Addr, s.cfg.Username, s.cfg.Password, args...)
}

// MasterAddr is the master's address according to the sentinel.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	reply, err := s.command("SENTINEL", "get-master-addr-by-name", s.MasterName)
	if err != nil {
		t.Fatalf("get-master-addr-by-name: %v", err)
	}
	host, port, _ := strings.Cut(reply, "\n")
	return net.JoinHostPort(host, port)
}

// Failover makes the sentinel promote the replica (SENTINEL FAILOVER) and
// waits until it names the replica as master, the replica accepts writes and
// the old master has been demoted to a replica (the failover is complete).
func (s *Sentinel) Failover(t testing.TB) {
	t.Helper()
	if s.Replica == nil {
		t.Fatal("Failover needs SentinelConfig.Replica")
	}
	waitFor(t, 20*time.Second, "SENTINEL FAILOVER to be accepted", func() bool {
		reply, err := s.command("SENTINEL", "FAILOVER", s.MasterName)
		return err == nil && reply == "OK"
	})
	waitFor(t, 30*time.Second, "the replica to become master", func() bool {
		if s.MasterAddr(t) != s.Replica.Addr {
			return false
		}
		role, err := CommandAuth(s.Replica.Addr, s.cfg.MasterUser, s.cfg.MasterPassword, "ROLE")
		return err == nil && strings.HasPrefix(role, "master")
	})
	waitFor(t, 30*time.Second, "the old master to be demoted", func() bool {
		role, err := CommandAuth(s.Master.Addr, s.cfg.MasterUser, s.cfg.MasterPassword, "ROLE")
		return err == nil && strings.HasPrefix(role, "slave")
	})
}
