package main

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// inject marks the fault as active (workers then favour mutations: logins,
// refreshes and revocations sent into a frozen store are what could take
// effect late) and records it as an event.
func (e *env) inject(ev event) (end func()) {
	e.faulting.Add(1)
	done := e.l.begin(ev)
	return func() {
		done()
		e.faulting.Add(-1)
	}
}

// freeze stops node with SIGSTOP for d: connections stay open, nothing
// answers (a hung or partitioned Redis).
func (e *env) freeze(node *redisNode, d time.Duration) error {
	fire := e.targets.arm()
	end := e.inject(event{name: fmt.Sprintf("SIGSTOP %s %v", node.name, d)})
	node.signal(syscall.SIGSTOP)
	fire()
	time.Sleep(d)
	node.signal(syscall.SIGCONT)
	end()
	e.targets.wait()
	return nil
}

// stall blocks node's event loop with DEBUG SLEEP for d (the 0.5–3 s stall
// that makes client timeouts fire while the server still runs the command).
func (e *env) stall(node *redisNode, d time.Duration) error {
	fire := e.targets.arm()
	end := e.inject(event{name: fmt.Sprintf("DEBUG SLEEP %s %v", node.name, d)})
	firedAfter(fire, 50*time.Millisecond)
	_, err := sessionstest.Do(node.addr, d+10*time.Second, "DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	end()
	e.targets.wait()
	return err
}

// crash kills node with SIGKILL and starts it again on the same port and
// directory. Without persistence everything it held is lost; with
// appendfsync always nothing acknowledged may be.
func (e *env) crash(node *redisNode, down time.Duration, persistent bool) error {
	ev := event{name: "kill -9 + restart " + node.name, lossWindow: -1}
	if persistent {
		ev.name += " (AOF)"
		ev.lossWindow = 0
	}
	end := e.inject(ev)
	defer end()
	node.kill()
	time.Sleep(down)
	return node.restart()
}

// sentinelFailover kills the current master; the sentinels promote the
// replica. The event ends at the promotion (sentinels name the new master
// and it answers ROLE master); the old master comes back afterwards and is
// turned into a replica by the sentinels.
func (e *env) sentinelFailover() error {
	old := e.topo.sentinelMasterAddr()
	var m *redisNode
	for _, n := range e.topo.data {
		if n.addr == old {
			m = n
		}
	}
	if m == nil {
		return fmt.Errorf("sentinel master %q is not one of ours", old)
	}
	start := time.Now()
	end := e.inject(event{name: "kill -9 sentinel master " + m.name, lossWindow: e.o.replLag, failover: true})
	m.kill()
	err := sessionstest.WaitFor(60*time.Second, "sentinel promotion", func() bool {
		a := e.topo.sentinelMasterAddr()
		return a != "" && a != old && role(a) == "master"
	})
	end()
	if err != nil {
		return err
	}
	e.l.note("sentinel: promotion %v after kill", time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	return m.restart()
}

// clusterFailover kills a master that serves some users; its replica is
// promoted after cluster-node-timeout. The users on that shard are the
// event's users: the promotion must bring them back within the limit.
func (e *env) clusterFailover(users []string) error {
	masters := e.topo.liveMasters()
	if len(masters) == 0 {
		return fmt.Errorf("no live master")
	}
	// The master serving the most users, so the window is well sampled.
	var m *redisNode
	var hit map[string]bool
	for _, c := range masters {
		h := map[string]bool{}
		for _, u := range users {
			if o := e.topo.ownerOf(sessionsKey(u)); o == c {
				h[u] = true
			}
		}
		if m == nil || len(h) > len(hit) {
			m, hit = c, h
		}
	}
	rep := e.topo.replicaOf(m)
	if rep == nil {
		return fmt.Errorf("master %s has no replica", m.name)
	}
	start := time.Now()
	end := e.inject(event{name: fmt.Sprintf("kill -9 cluster master %s (%d of %d users)", m.name, len(hit), len(users)),
		lossWindow: e.o.replLag, failover: true, users: hit})
	m.kill()
	err := sessionstest.WaitFor(60*time.Second, "cluster promotion", func() bool { return role(rep.addr) == "master" })
	end()
	if err != nil {
		return err
	}
	e.l.note("cluster: %s promoted %v after kill; %s stays down %v", rep.name, time.Since(start).Round(time.Millisecond), m.name, e.o.downFor)
	time.Sleep(e.o.downFor) // the dead address must not come back at once: clients have to follow the promotion
	return m.restart()
}
