package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// redisNode is one redis-server (data node or sentinel) on a fixed loopback
// port, so that a restart after kill -9 comes back on the same address.
type redisNode struct {
	*proc
	addr string
	port int
}

// startRedis starts a redis-server in its own directory under root. lead
// comes before the port arguments (a sentinel's config file); extra after.
// No persistence unless extra turns it on.
func startRedis(root, name string, lead []string, extra ...string) (*redisNode, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between the probe and the bind
		port, err := sessionstest.NewPort()
		if err != nil {
			return nil, err
		}
		args := append(append([]string(nil), lead...), "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
			"--loglevel", "warning", "--enable-debug-command", "local", "--logfile", filepath.Join(dir, "redis.log"))
		args = append(args, extra...)
		p, err := children.start(name, dir, "redis-server", args...)
		if err != nil {
			return nil, err
		}
		n := &redisNode{proc: p, addr: "127.0.0.1:" + strconv.Itoa(port), port: port}
		if lastErr = n.waitReady(10 * time.Second); lastErr == nil {
			return n, nil
		}
		p.kill()
	}
	return nil, fmt.Errorf("start %s: %w", name, lastErr)
}

// waitReady polls PING until the node answers (LOADING counts as not yet).
func (n *redisNode) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if !n.alive() {
			return fmt.Errorf("%s exited", n.name)
		}
		reply, err := sessionstest.Do(n.addr, time.Second, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no PONG within %v: %v %q", n.name, within, err, reply)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the node again with the same arguments (same port, same
// directory: an AOF or nodes.conf there is read back).
func (n *redisNode) restart() error {
	if err := n.launch(); err != nil {
		return err
	}
	return n.waitReady(30 * time.Second)
}

// role is the first line of ROLE ("master", "slave", "sentinel"), or "".
func role(addr string) string {
	r, err := sessionstest.Do(addr, 500*time.Millisecond, "ROLE")
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(r, "\n")
	return first
}
