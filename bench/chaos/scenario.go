package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// scenario is one Redis deployment and its fault schedule.
type scenario struct {
	name     string
	start    func(o *options, root string) (*topology, error)
	schedule func(e *env) error
	flood    bool // run the login-flood measurement
	storm    bool // open idle connections and abandon requests mid-way
	asked    bool // runs only when -only names it
}

func scenarios() []scenario {
	return []scenario{
		{name: "standalone", flood: true, storm: true,
			start: func(o *options, root string) (*topology, error) { return startStandalone(root, false) },
			schedule: func(e *env) error {
				n := e.topo.data[0]
				return seq(e,
					func() error { return e.freeze(n, e.o.freezeLong) }, // longer than refresh_grace
					func() error { return e.stall(n, e.o.stall) },
					func() error { return e.freeze(n, e.o.freezeShort) },
					e.longOnly(func() error { return e.stall(n, e.o.stall) }),
					func() error { return e.crash(n, 300*time.Millisecond, false) })
			}},
		// The flood measurement alone (standalone store, no other fault):
		// -only flood, to measure admission without a 3-minute run.
		{name: "flood", flood: true, asked: true,
			start:    func(o *options, root string) (*topology, error) { return startStandalone(root, false) },
			schedule: func(e *env) error { return nil }},
		{name: "standalone-aof",
			start: func(o *options, root string) (*topology, error) { return startStandalone(root, true) },
			schedule: func(e *env) error {
				n := e.topo.data[0]
				return seq(e,
					func() error { return e.crash(n, 300*time.Millisecond, true) },
					func() error { return e.stall(n, e.o.stall) },
					func() error { return e.crash(n, 300*time.Millisecond, true) })
			}},
		{name: "sentinel",
			start: func(o *options, root string) (*topology, error) { return startSentinel(root, o.downAfter) },
			schedule: func(e *env) error {
				return seq(e,
					func() error { return e.stall(e.masterNode(), e.o.stall) },
					e.sentinelFailover,
					func() error { return e.freeze(e.masterNode(), e.o.freezeShort) })
			}},
		{name: "cluster",
			start: func(o *options, root string) (*topology, error) { return startCluster(root, o.nodeTimeout) },
			schedule: func(e *env) error {
				return seq(e,
					func() error { return e.stall(e.topo.liveMasters()[1], e.o.stall) },
					func() error { return e.clusterFailover(e.o.users()) })
			}},
	}
}

// masterNode is the sentinel deployment's current master.
func (e *env) masterNode() *redisNode {
	a := e.topo.sentinelMasterAddr()
	for _, n := range e.topo.data {
		if n.addr == a {
			return n
		}
	}
	return e.topo.data[0]
}

// longOnly drops a step from the short form (nil is skipped by seq).
func (e *env) longOnly(f func() error) func() error {
	if e.o.short {
		return nil
	}
	return f
}

// seq runs the faults one after the other with o.gap of normal traffic
// before each; the first error stops the schedule.
func seq(e *env, faults ...func() error) error {
	for _, f := range faults {
		if f == nil {
			continue
		}
		time.Sleep(e.o.gap)
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// result is one scenario's row of the table.
type result struct {
	name                 string
	requests, s503       int
	after                int // requests sent after an acknowledged revocation
	windows              []window
	lost, excused, evict int
	flood                *floodResult
	viol                 map[string][]string
	notes                []string
	wsClosed             []time.Duration
	base, end            []usage
	warm                 []usage // after the warm-up: the clients' logins have run argon2id
	flooded              []usage // right after the flood (nil without one)
	t0                   time.Time
	unanswered           map[string]int // by request kind
	err                  error
}

// runScenario starts the deployment, two gateways and the upstream, drives
// traffic while the schedule injects faults, then checks the invariants.
// Everything it starts is stopped before it returns.
func runScenario(o *options, sc scenario, root string) (res result) {
	res.name = sc.name
	defer children.stopAll()
	dir := filepath.Join(root, sc.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		res.err = err
		return
	}
	e, err := setup(o, sc, dir)
	if e != nil {
		defer e.up.close()
	}
	if err != nil {
		res.err = err
		return
	}
	return e.drive(sc, res)
}

func setup(o *options, sc scenario, dir string) (*env, error) {
	topo, err := sc.start(o, dir)
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	up, err := startUpstream()
	if err != nil {
		return nil, err
	}
	e := &env{o: o, topo: topo, up: up, l: newLedger(), sec: newSecrets(),
		hc: &http.Client{Timeout: 6 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	e.form = &http.Client{Timeout: e.hc.Timeout, Transport: e.hc.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	usersFile := filepath.Join(dir, "users.yaml")
	if err := writeUsers(usersFile, append(append(o.users(), targetUsers...), append([]string{"bench", "probe"}, returningUsers...)...)); err != nil {
		return e, err
	}
	for i := range 2 {
		g, err := startGateway(o, dir, fmt.Sprintf("gateway%d", i), topo, e.sec, usersFile, up.port)
		if err != nil {
			return e, err
		}
		e.gws = append(e.gws, g)
	}
	return e, nil
}

// drive runs warm-up, the baseline, traffic with faults, the tail and the checks.
func (e *env) drive(sc scenario, res result) result {
	ctx, stop := context.WithCancel(context.Background())
	e.traffic = ctx
	e.hard.Store(time.Now().Add(24 * time.Hour).UnixNano())
	watch, stopWatch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.watchMaxPerUser(watch, append(e.o.users(), targetUsers...)) }()
	e.targets = newTargets(e)
	e.quiesce(0)
	res.base = e.usage() // idle: before any client connection
	var workers sync.WaitGroup
	for _, u := range e.o.users() {
		workers.Add(1)
		go func() { defer workers.Done(); (&worker{e: e, user: u}).run() }()
	}
	time.Sleep(e.o.warmup)
	res.warm = e.usage()
	e.phases(sc, &res)
	time.Sleep(e.o.tail)
	e.hard.Store(time.Now().Add(15 * time.Second).UnixNano())
	stop()
	workers.Wait()
	e.targets.sweep()
	stopWatch()
	wg.Wait()
	res.after = e.checkRevoked()
	res.end = e.settleUsage(res.base)
	e.checkUsage(res.base, res.end, res.warm, res.flooded)
	return e.collect(res, time.Now())
}

// phases runs the connection storm, the login flood and the fault schedule.
func (e *env) phases(sc scenario, res *result) {
	fail := func(err error) {
		if err != nil && res.err == nil {
			res.err = err
		}
	}
	if sc.storm && (e.o.idleConns > 0 || e.o.disconnects > 0) {
		fail(e.connStorm(e.o.idleConns, e.o.disconnects, time.Second))
	}
	if sc.flood && e.o.floodRate > 0 {
		fr, err := e.flood(e.o.floodRate, e.o.floodDur)
		res.flood = &fr
		fail(err)
		// Each flooded check allocated a 64 MiB argon2id buffer; the Go
		// runtime keeps that heap for a while. Later growth is measured from here.
		res.flooded = e.usage()
	}
	if err := sc.schedule(e); err != nil {
		fail(fmt.Errorf("fault schedule: %w", err))
	}
}
