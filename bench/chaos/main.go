// Command chaos is the fault-injection harness (issue 8): for each Redis
// deployment (standalone, standalone with AOF, Sentinel, Cluster) it starts
// real redis-servers, two portcullis replicas sharing the store and a
// recording upstream on 127.0.0.1, drives bounded mixed traffic across both
// replicas while injecting faults on a schedule, and checks afterwards that
// no fault changed what clients were told. It prints one row per scenario and
// exits 1 on any invariant violation. Run it with bench/chaos/run.sh.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line knobs; -short selects the CI durations.
type options struct {
	binary             string
	only               string
	short              bool
	nUsers             int
	maxPerUser         int
	touch, grace       time.Duration
	cache              bool
	staleness          time.Duration
	ws                 bool
	warmup, gap, tail  time.Duration
	settle             time.Duration
	freezeLong         time.Duration
	freezeShort, stall time.Duration
	downAfter          time.Duration
	nodeTimeout        time.Duration
	replLag            time.Duration
	promoteLimit       time.Duration
	downFor            time.Duration
	idleConns          int
	disconnects        int
	wsSlack            time.Duration
	floodRate          int
	floodDur           time.Duration
	floodRatio         float64
	floodLogins        float64
	goroutineSlack     int
	rssSlackMiB        int
	keep               bool
}

func (o *options) users() []string {
	us := make([]string, o.nUsers)
	for i := range us {
		us[i] = fmt.Sprintf("user%02d", i)
	}
	return us
}

// cacheBound is how long a revoked session may still pass on a replica
// (sessions.cache.max_staleness when the cache is on, else nothing).
func (o *options) cacheBound() time.Duration {
	if o.cache {
		return o.staleness
	}
	return 0
}

func parseFlags() *options {
	o := &options{}
	flag.StringVar(&o.binary, "portcullis", "portcullis", "the portcullis binary to run")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios to run (default all but flood, the flood measurement alone)")
	flag.BoolVar(&o.short, "short", false, "CI form: short phases, the whole run in about 2 minutes")
	flag.IntVar(&o.nUsers, "users", 12, "users, one sequential client each")
	flag.IntVar(&o.maxPerUser, "max-per-user", 3, "sessions.max_per_user")
	flag.DurationVar(&o.touch, "touch", time.Second, "sessions.touch_interval (WebSocket re-check period)")
	flag.DurationVar(&o.grace, "grace", 2*time.Second, "sessions.refresh_grace")
	flag.BoolVar(&o.cache, "cache", false, "enable sessions.cache on both replicas")
	flag.DurationVar(&o.staleness, "staleness", 2*time.Second, "sessions.cache.max_staleness")
	flag.BoolVar(&o.ws, "ws", true, "include WebSocket sessions")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "traffic before the first fault")
	flag.DurationVar(&o.gap, "gap", 4*time.Second, "normal traffic before each fault")
	flag.DurationVar(&o.tail, "tail", 5*time.Second, "traffic after the last fault")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "at most this long for the gateways' goroutines to come back to the baseline")
	flag.DurationVar(&o.freezeLong, "freeze-long", 5*time.Second, "SIGSTOP longer than -grace")
	flag.DurationVar(&o.freezeShort, "freeze-short", 1500*time.Millisecond, "SIGSTOP shorter than failure detection")
	flag.DurationVar(&o.stall, "stall", 1500*time.Millisecond, "DEBUG SLEEP (0.5–3 s: longer than the client's read timeout)")
	flag.DurationVar(&o.downAfter, "down-after", 2*time.Second, "sentinel down-after-milliseconds")
	flag.DurationVar(&o.nodeTimeout, "node-timeout", 2*time.Second, "cluster-node-timeout")
	flag.DurationVar(&o.replLag, "repl-lag", time.Second, "writes this recent before a master kill may be lost (async replication)")
	flag.DurationVar(&o.promoteLimit, "promote-limit", 2*time.Second, "after a promotion, requests must be served again within this")
	flag.DurationVar(&o.downFor, "down-for", 8*time.Second, "a killed Cluster master stays down this long after the promotion")
	flag.DurationVar(&o.wsSlack, "ws-slack", 2*time.Second, "a revoked WebSocket must close within 2 × touch + this (one pass may just have missed it)")
	flag.IntVar(&o.idleConns, "idle-conns", 2000, "idle connections opened to the replicas (standalone scenario)")
	flag.IntVar(&o.disconnects, "disconnects", 200, "requests abandoned while the upstream is slow (standalone scenario)")
	flag.IntVar(&o.floodRate, "flood-rate", 50, "wrong-password logins per second in the flood (0: no flood)")
	flag.DurationVar(&o.floodDur, "flood", 5*time.Second, "flood duration (and the quiet measurement before it)")
	flag.Float64Var(&o.floodRatio, "flood-ratio", 0.7, "authenticated req/s during the flood must stay at least this × quiet (0: report only)")
	flag.Float64Var(&o.floodLogins, "flood-logins", 0.5, "share of returning users' correct logins (device cookie) in within 2 s during the flood (0: report only; new devices are reported, never enforced)")
	flag.IntVar(&o.goroutineSlack, "goroutine-slack", 10, "goroutines allowed above the idle baseline at the end")
	flag.IntVar(&o.rssSlackMiB, "rss-slack", 64, "MiB of RSS allowed at the end above the idle baseline (or the level right after the flood)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.Parse()
	if o.short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		shorten(o, set)
	}
	return o
}

// shorten applies the CI durations to every flag not given explicitly.
func shorten(o *options, set map[string]bool) {
	d := func(name string, p *time.Duration, v time.Duration) {
		if !set[name] {
			*p = v
		}
	}
	d("warmup", &o.warmup, 2*time.Second)
	d("gap", &o.gap, 1500*time.Millisecond)
	d("tail", &o.tail, 2*time.Second)
	d("settle", &o.settle, 5*time.Second)
	d("freeze-long", &o.freezeLong, 3500*time.Millisecond)
	d("flood", &o.floodDur, 2500*time.Millisecond)
	d("down-for", &o.downFor, 4*time.Second)
	if !set["idle-conns"] {
		o.idleConns = 200
	}
	if !set["disconnects"] {
		o.disconnects = 50
	}
	if !set["users"] {
		o.nUsers = 10
	}
}

func main() {
	o := parseFlags()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "chaos: %v: stopping everything started\n", s)
		children.stopAll()
		os.Exit(130)
	}()
	root, err := os.MkdirTemp("", "portcullis-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	var results []result
	for _, sc := range scenarios() {
		if (o.only != "" || sc.asked) && !contains(strings.Split(o.only, ","), sc.name) {
			continue
		}
		start := time.Now()
		fmt.Fprintf(os.Stderr, "chaos: scenario %s\n", sc.name)
		r := runScenario(o, sc, root)
		fmt.Fprintf(os.Stderr, "chaos: scenario %s done in %v\n", sc.name, time.Since(start).Round(time.Second))
		results = append(results, r)
	}
	bad := report(os.Stdout, o, results)
	if o.keep || bad {
		fmt.Fprintf(os.Stderr, "chaos: configs and logs kept in %s\n", root)
	} else {
		os.RemoveAll(root)
	}
	if bad {
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}
