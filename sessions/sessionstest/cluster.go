package sessionstest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of three masters, each with ClusterConfig.Replicas
// replicas, started for a test.
type Cluster struct {
	Addrs []string // seed addresses, one per master (as created)
	Nodes []*Redis // every node, masters and replicas
}

// ClusterConfig shapes StartClusterConfig.
type ClusterConfig struct {
	// Replicas is the number of replicas per master (0: masters only).
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master must be
	// unreachable before it is failed over (default 2 s).
	NodeTimeout time.Duration
	// Args are extra redis-server arguments for every node.
	Args []string
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID, Addr, MasterID string
	Master, Failed     bool     // role "master"; flag "fail" (not the tentative "fail?")
	Slots              [][2]int // owned slot ranges, inclusive
}

// StartCluster starts three masters with --cluster-enabled yes, joins them
// with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` and
// waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB) *Cluster { return StartClusterConfig(t, ClusterConfig{}) }

// StartClusterConfig is StartCluster with replicas and a node timeout. With
// replicas it also waits until every replica is linked to its master, so a
// test can kill a master and expect a failover.
func StartClusterConfig(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	bin := binary(t, "redis-server")
	cli := binary(t, "redis-cli")
	timeout := cfg.NodeTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c := &Cluster{}
	var addrs []string
	for range 3 * (1 + cfg.Replicas) {
		var node *Redis
		var err error
		for range 3 {
			args := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10)}, cfg.Args...)
			if node, err = startServer(t, bin, nil, nil, args...); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("start cluster node: %v", err)
		}
		c.Nodes = append(c.Nodes, node)
		addrs = append(addrs, node.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(cfg.Replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "every node to see the whole cluster ok", func() bool { return c.settled(cfg.Replicas) })
	nodes, err := ClusterNodes(addrs[0])
	if err != nil {
		t.Fatalf("CLUSTER NODES: %v", err)
	}
	for _, n := range nodes {
		if n.Master {
			c.Addrs = append(c.Addrs, n.Addr)
		}
	}
	return c
}

// settled reports whether every node says cluster_state:ok, knows every
// node, sees three masters with slots and, with replicas, has its
// replication link up.
func (c *Cluster) settled(replicas int) bool {
	for _, n := range c.Nodes {
		info, err := Command(n.Addr, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") ||
			!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))) {
			return false
		}
		nodes, err := ClusterNodes(n.Addr)
		if err != nil {
			return false
		}
		masters := 0
		for _, m := range nodes {
			if m.Master && len(m.Slots) > 0 {
				masters++
			}
		}
		if masters != 3 {
			return false
		}
		repl, err := Command(n.Addr, "INFO", "replication")
		if err != nil || (strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up")) {
			return false
		}
		if replicas > 0 && strings.Contains(repl, "role:master") && !strings.Contains(repl, "connected_slaves:"+strconv.Itoa(replicas)) {
			return false
		}
	}
	return true
}

// Node returns the node listening on addr, nil if none.
func (c *Cluster) Node(addr string) *Redis {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Slot is the cluster slot of key (CLUSTER KEYSLOT on a live node).
func (c *Cluster) Slot(t testing.TB, key string) int {
	t.Helper()
	var lastErr error
	for _, n := range c.Nodes {
		reply, err := Command(n.Addr, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			lastErr = err
			continue
		}
		slot, err := strconv.Atoi(reply)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q = %q", key, reply)
		}
		return slot
	}
	t.Fatalf("CLUSTER KEYSLOT: no node answers: %v", lastErr)
	return 0
}

// Owner is the node that serves slot according to the node at via, and
// its replicas.
func (c *Cluster) Owner(t testing.TB, via string, slot int) (master ClusterNode, replicas []ClusterNode) {
	t.Helper()
	nodes, err := ClusterNodes(via)
	if err != nil {
		t.Fatalf("CLUSTER NODES on %s: %v", via, err)
	}
	for _, n := range nodes {
		for _, r := range n.Slots {
			if n.Master && !n.Failed && r[0] <= slot && slot <= r[1] {
				master = n
			}
		}
	}
	if master.ID == "" {
		t.Fatalf("%s: no master serves slot %d", via, slot)
	}
	for _, n := range nodes {
		if n.MasterID == master.ID {
			replicas = append(replicas, n)
		}
	}
	return master, replicas
}

// WaitReplicated waits until every replica has applied everything its
// master has written so far (replication offsets), so a test can kill a
// master knowing what its replica holds.
func (c *Cluster) WaitReplicated(t testing.TB) {
	t.Helper()
	target := map[string]int64{} // master id → its offset now
	nodes, err := ClusterNodes(c.Addrs[0])
	if err != nil {
		t.Fatalf("CLUSTER NODES: %v", err)
	}
	for _, n := range nodes {
		if n.Master {
			target[n.ID] = replOffset(t, n.Addr, "master_repl_offset")
		}
	}
	for _, n := range nodes {
		if n.Master || n.MasterID == "" {
			continue
		}
		want := target[n.MasterID]
		waitFor(t, 10*time.Second, "replica "+n.Addr+" to catch up", func() bool {
			return replOffset(t, n.Addr, "slave_repl_offset") >= want
		})
	}
}

func replOffset(t testing.TB, addr, field string) int64 {
	t.Helper()
	info, err := Command(addr, "INFO", "replication")
	if err != nil {
		t.Fatalf("INFO replication on %s: %v", addr, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: malformed %s %q", addr, field, v)
			}
			return n
		}
	}
	t.Fatalf("%s: INFO replication has no %s:\n%s", addr, field, info)
	return 0
}

// ClusterNodes asks the node at addr for CLUSTER NODES and parses it.
func ClusterNodes(addr string) ([]ClusterNode, error) {
	reply, err := Command(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	var out []ClusterNode
	for _, line := range strings.Split(strings.TrimSpace(reply), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("malformed CLUSTER NODES line %q", line)
		}
		host, _, _ := strings.Cut(f[1], "@")
		host, _, _ = strings.Cut(host, ",")
		n := ClusterNode{ID: f[0], Addr: host}
		for _, flag := range strings.Split(f[2], ",") {
			n.Master = n.Master || flag == "master"
			n.Failed = n.Failed || flag == "fail"
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") { // a slot being migrated or imported
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("malformed slot %q", s)
			}
			n.Slots = append(n.Slots, [2]int{a, b})
		}
		out = append(out, n)
	}
	return out, nil
}
