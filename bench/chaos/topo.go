package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// topology is the Redis deployment of one scenario.
type topology struct {
	mode       string // sessions.redis.mode
	data       []*redisNode
	sentinels  []*redisNode
	masterName string
	aof        bool
}

const sentinelMaster = "chaos"

// redisYAML is the sessions.redis block of the gateway config.
func (t *topology) redisYAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  redis:\n    mode: %s\n    addrs:\n", t.mode)
	addrs := t.data
	if t.mode == "sentinel" {
		addrs = t.sentinels
	}
	if t.mode == "standalone" {
		addrs = t.data[:1]
	}
	for _, n := range addrs {
		fmt.Fprintf(&b, "      - %q\n", n.addr)
	}
	if t.mode == "sentinel" {
		fmt.Fprintf(&b, "    master_name: %s\n", t.masterName)
	}
	return b.String()
}

// startStandalone starts one node; with aof every write is fsynced before
// Redis answers (appendfsync always), so an acknowledged write survives kill -9.
func startStandalone(root string, aof bool) (*topology, error) {
	var extra []string
	if aof {
		extra = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	n, err := startRedis(root, "redis", nil, extra...)
	if err != nil {
		return nil, err
	}
	return &topology{mode: "standalone", data: []*redisNode{n}, aof: aof}, nil
}

// startSentinel starts a master, one replica and three sentinels (quorum 2).
func startSentinel(root string, downAfter time.Duration) (*topology, error) {
	master, err := startRedis(root, "master", nil)
	if err != nil {
		return nil, err
	}
	replica, err := startRedis(root, "replica", nil, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	if err != nil {
		return nil, err
	}
	t := &topology{mode: "sentinel", data: []*redisNode{master, replica}, masterName: sentinelMaster}
	for i := range 3 {
		name := fmt.Sprintf("sentinel%d", i)
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\nsentinel down-after-milliseconds %[1]s %[3]d\n"+
			"sentinel failover-timeout %[1]s 10000\nsentinel parallel-syncs %[1]s 1\n",
			sentinelMaster, master.port, downAfter.Milliseconds())
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return nil, err
		}
		s, err := startRedis(root, name, []string{conf, "--sentinel"})
		if err != nil {
			return nil, err
		}
		t.sentinels = append(t.sentinels, s)
	}
	err = sessionstest.WaitFor(30*time.Second, "sentinels to know each other and the replica", func() bool {
		for _, s := range t.sentinels {
			m := sentinelFields(s.addr)
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return false
			}
		}
		return replicaSynced(master.addr)
	})
	return t, err
}

// sentinelFields is SENTINEL MASTER <name> as a map.
func sentinelFields(addr string) map[string]string {
	r, err := sessionstest.Do(addr, time.Second, "SENTINEL", "MASTER", sentinelMaster)
	m := map[string]string{}
	if err != nil {
		return m
	}
	parts := strings.Split(r, "\n")
	for i := 0; i+1 < len(parts); i += 2 {
		m[parts[i]] = parts[i+1]
	}
	return m
}

// sentinelMasterAddr is the master according to the first sentinel that answers.
func (t *topology) sentinelMasterAddr() string {
	for _, s := range t.sentinels {
		r, err := sessionstest.Do(s.addr, time.Second, "SENTINEL", "get-master-addr-by-name", t.masterName)
		if err == nil {
			host, port, _ := strings.Cut(r, "\n")
			return host + ":" + port
		}
	}
	return ""
}

// replicaSynced reports whether a master has a replica in state online.
func replicaSynced(addr string) bool {
	info, err := sessionstest.Do(addr, time.Second, "INFO", "replication")
	return err == nil && strings.Contains(info, "state=online")
}

// startCluster starts 6 nodes and joins them as 3 masters with 1 replica each.
func startCluster(root string, nodeTimeout time.Duration) (*topology, error) {
	t := &topology{mode: "cluster"}
	var addrs []string
	for i := range 6 {
		n, err := startRedis(root, fmt.Sprintf("node%d", i), nil, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10))
		if err != nil {
			return nil, err
		}
		t.data = append(t.data, n)
		addrs = append(addrs, n.addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	cmd := exec.Command("redis-cli", args...)
	if out, err := runTimeout(cmd, 60*time.Second); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	err := sessionstest.WaitFor(60*time.Second, "cluster_state:ok with 3 synced replicas", func() bool {
		synced := 0
		for _, n := range t.data {
			info, err := sessionstest.Do(n.addr, time.Second, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			if role(n.addr) == "master" && replicaSynced(n.addr) {
				synced++
			}
		}
		return synced == 3
	})
	return t, err
}

// runTimeout runs cmd and kills it when it takes longer than d.
func runTimeout(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return []byte(out.String()), fmt.Errorf("timed out after %v", d)
	}
}

// liveMasters are the data nodes that answer ROLE with master.
func (t *topology) liveMasters() []*redisNode {
	var ms []*redisNode
	for _, n := range t.data {
		if n.alive() && role(n.addr) == "master" {
			ms = append(ms, n)
		}
	}
	return ms
}

// replicaOf is the data node replicating m (nil when none).
func (t *topology) replicaOf(m *redisNode) *redisNode {
	for _, n := range t.data {
		if n == m || !n.alive() {
			continue
		}
		r, err := sessionstest.Do(n.addr, time.Second, "ROLE")
		if err != nil {
			continue
		}
		parts := strings.Split(r, "\n")
		if len(parts) >= 3 && parts[0] == "slave" && parts[2] == strconv.Itoa(m.port) {
			return n
		}
	}
	return nil
}

// ownerOf is the live master that serves key (the one not answering MOVED).
func (t *topology) ownerOf(key string) *redisNode {
	for _, m := range t.liveMasters() {
		if _, err := sessionstest.Do(m.addr, time.Second, "EXISTS", key); err == nil {
			return m
		}
	}
	return nil
}
