package main

// The server's side of a measuring window (why 1 M is not 1 k, bench/README.md
// "Latency at scale"): what redis-server spent per call of each command
// (INFO commandstats deltas) and its CPU per Validate (/proc/<pid>/stat), set
// beside the client-side latency with 16 and with 1 call in flight, and a
// probe of the bare key lookup (EXISTS, HMGET on random keys).

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux architecture Go runs on; getconf CLK_TCK).
const clockTick = 10 * time.Millisecond

// thpEnv is the environment of a redis-server started with -thp: the
// system's jemalloc (Debian links libjemalloc, unprefixed) then backs its
// arenas with transparent huge pages, where the kernel allows them
// (/sys/kernel/mm/transparent_hugepage/enabled: always or madvise).
var thpEnv = []string{"MALLOC_CONF=thp:always"}

// runSpec is one redis-server to start: a count, with or without huge pages.
type runSpec struct {
	n   int
	thp bool
}

// runSpecs parses -n; with -thp every count runs twice, without and with
// huge pages.
func runSpecs(counts string, thp bool) []runSpec {
	var out []runSpec
	for _, s := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("-n %q: want a list of counts ≥ 1", counts)
		}
		out = append(out, runSpec{n, false})
		if thp {
			out = append(out, runSpec{n, true})
		}
	}
	return out
}

// serverStats is a snapshot of one redis-server's counters.
type serverStats struct {
	cmds map[string]cmdStat // by command name: evalsha, hmget, …
	cpu  time.Duration      // utime + stime of the whole process
	// expire is INFO stats' expire_cycle_cpu_milliseconds: the active
	// expire cycle's time, outside any command.
	expire time.Duration
}

type cmdStat struct{ calls, usec int64 }

// window is what a server did between two snapshots.
type window struct {
	cmds   map[string]cmdStat // commands called in the window (INFO excluded)
	cpu    time.Duration
	expire time.Duration
}

func snapshot(ctx context.Context, c *redis.Client, pid int) serverStats {
	s := serverStats{cpu: processCPU(pid), cmds: map[string]cmdStat{}}
	info, err := c.Info(ctx, "commandstats", "stats").Result()
	if err != nil {
		log.Fatal(err)
	}
	// cmdstat_hmget:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "expire_cycle_cpu_milliseconds:"); ok {
			ms, _ := strconv.ParseInt(v, 10, 64)
			s.expire = time.Duration(ms) * time.Millisecond
		}
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		var st cmdStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				st.calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				st.usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		s.cmds[name] = st
	}
	return s
}

func (s serverStats) since(before serverStats) window {
	w := window{cmds: map[string]cmdStat{}, cpu: s.cpu - before.cpu, expire: s.expire - before.expire}
	for name, st := range s.cmds {
		d := cmdStat{st.calls - before.cmds[name].calls, st.usec - before.cmds[name].usec}
		if d.calls > 0 && name != "info" { // INFO is the snapshot's own
			w.cmds[name] = d
		}
	}
	return w
}

// usecPerCall is the server's time per call of cmd in the window.
func (w window) usecPerCall(cmd string) float64 {
	st := w.cmds[cmd]
	if st.calls == 0 {
		return 0
	}
	return float64(st.usec) / float64(st.calls)
}

// processCPU is utime + stime of pid, all threads, from /proc/<pid>/stat.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count from after ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		log.Fatalf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * clockTick
}

// hugePages is AnonHugePages of pid (/proc/<pid>/smaps_rollup), the
// memory backed by transparent huge pages, e.g. "0 kB".
func hugePages(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// label names a run in the output: its count, and "thp" when its
// redis-server runs with huge pages.
func (r *run) label() string {
	if r.thp {
		return fmt.Sprintf("n=%d thp", len(r.ids))
	}
	return fmt.Sprintf("n=%d", len(r.ids))
}

// describe prints what the comparison rests on: the server's pid, its huge
// pages and resident keys.
func (r *run) describe(ctx context.Context) {
	fmt.Printf("%s redis-server pid=%d dbsize=%d AnonHugePages=%s\n",
		r.label(), r.pid, r.raw.DBSize(ctx).Val(), hugePages(r.pid))
}

// series holds one run's figures at one concurrency, a value per round.
type series struct {
	p50, p99, mean, cpu []float64 // µs; cpu is the server's per Validate
	expire              []float64 // µs of active expire cycle per Validate
	usec, calls         map[string][]float64
}

func (r *run) series(conc int) *series {
	if r.byConc == nil {
		r.byConc = map[int]*series{}
	}
	s := r.byConc[conc]
	if s == nil {
		s = &series{usec: map[string][]float64{}, calls: map[string][]float64{}}
		r.byConc[conc] = s
	}
	return s
}

// measure runs one round of validations calls, conc in flight, on r and
// prints the client's latency beside the server's time per command and its
// CPU per Validate.
func (r *run) measure(ctx context.Context, round, validations, conc int) {
	before := snapshot(ctx, r.raw, r.pid)
	p50, p99, mean := validate(ctx, r.store, r.ids, validations, conc)
	w := snapshot(ctx, r.raw, r.pid).since(before)
	s := r.series(conc)
	cpu := float64(w.cpu.Microseconds()) / float64(validations)
	expire := float64(w.expire.Microseconds()) / float64(validations)
	s.p50, s.p99, s.mean, s.cpu = append(s.p50, p50), append(s.p99, p99), append(s.mean, mean), append(s.cpu, cpu)
	s.expire = append(s.expire, expire)
	var cmds []string
	for _, name := range sortedNames(w.cmds) {
		per := float64(w.cmds[name].calls) / float64(validations)
		if per < 0.01 {
			// Less than once per 100 calls: a connection's set-up (HELLO,
			// CLIENT SETNAME) or the EVAL that loaded the script.
			continue
		}
		s.usec[name] = append(s.usec[name], w.usecPerCall(name))
		s.calls[name] = append(s.calls[name], per)
		cmds = append(cmds, fmt.Sprintf("%s %.2f µs × %.2f", name, w.usecPerCall(name), per))
	}
	fmt.Printf("round %d %-11s vconc=%-2d client p50=%.0fµs mean=%.0fµs p99=%.0fµs | server per call: %s | redis-server CPU %.1f µs/Validate, of which active expire %.2f\n",
		round, r.label(), conc, p50, mean, p99, strings.Join(cmds, ", "), cpu, expire)
}

func sortedNames[V any](m map[string]V) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// baseline is the run r is compared with: the first count's run with the
// same huge-page setting.
func baseline(runs []*run, r *run) *run {
	for _, b := range runs {
		if b.thp == r.thp {
			return b
		}
	}
	return r
}

// twin is the run of r's count with the other huge-page setting, or nil.
func twin(runs []*run, r *run) *run {
	for _, t := range runs {
		if t != r && len(t.ids) == len(r.ids) && t.thp != r.thp {
			return t
		}
	}
	return nil
}

// report prints, per concurrency, the medians over rounds of every run and
// the medians of its per-round ratios (and differences) to the baseline run
// measured in the same round, 1 M : 1 k.
func report(runs []*run, vconcs []int, rounds, validations int) {
	fmt.Printf("# Validate, medians of %d rounds of %d calls; ratio/Δ = median over rounds of this run ÷ (−) %s in the same round (same huge-page setting)\n", rounds, validations, runs[0].label())
	fmt.Printf("# server per call: commandstats µs per call × calls per Validate (evalsha's time includes the commands its script ran)\n")
	for _, conc := range vconcs {
		for _, r := range runs {
			base := baseline(runs, r)
			s, b := r.series(conc), base.series(conc)
			var cmds []string
			for _, name := range sortedNames(s.usec) {
				cmds = append(cmds, fmt.Sprintf("%s %.2f µs × %.2f (ratio %.2f)", name, median(s.usec[name]), median(s.calls[name]),
					ratio(s.usec[name], b.usec[name])))
			}
			fmt.Printf("%-11s vconc=%-2d p50=%.0fµs mean=%.0fµs p99=%.0fµs  ratio p50 %.2f mean %.2f p99 %.2f | server per call: %s | redis-server CPU %.1f µs/Validate (ratio %.2f), of which active expire %.2f\n",
				r.label(), conc, median(s.p50), median(s.mean), median(s.p99),
				ratio(s.p50, b.p50), ratio(s.mean, b.mean), ratio(s.p99, b.p99),
				strings.Join(cmds, ", "), median(s.cpu), ratio(s.cpu, b.cpu), median(s.expire))
			if base != r {
				// A closed loop of conc callers on one single-threaded
				// server: each call waits behind the others in flight, so
				// a server cost δ per call shows as up to conc × δ.
				dcpu := diff(s.cpu, b.cpu)
				fmt.Printf("%-11s vconc=%-2d over %s: Δp50 %+.0f µs, Δmean %+.0f µs; Δ redis-server CPU %+.1f µs/Validate × %d in flight = %+.0f µs\n",
					r.label(), conc, base.label(), diff(s.p50, b.p50), diff(s.mean, b.mean), dcpu, conc, float64(conc)*dcpu)
			}
			if t := twin(runs, r); t != nil && r.thp {
				ts := t.series(conc)
				fmt.Printf("%-11s vconc=%-2d huge pages ÷ without: p50 %.2f mean %.2f, redis-server CPU %.2f, evalsha %.2f, hmget %.2f\n", r.label(), conc,
					ratio(s.p50, ts.p50), ratio(s.mean, ts.mean), ratio(s.cpu, ts.cpu), ratio(s.usec["evalsha"], ts.usec["evalsha"]), ratio(s.usec["hmget"], ts.usec["hmget"]))
			}
		}
	}
}

// ratio is the median over rounds of a[i] ÷ b[i]: each round's figures
// were measured side by side, under the same machine load.
func ratio(a, b []float64) float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		r = append(r, a[i]/b[i])
	}
	return median(r)
}

// diff is the median over rounds of a[i] − b[i].
func diff(a, b []float64) float64 {
	var d []float64
	for i := range min(len(a), len(b)) {
		d = append(d, a[i]-b[i])
	}
	return median(d)
}

// A probe op is one raw command on a key of the run's sessions, timed alone.
type probeOp struct {
	name, cmd string // cmd is its commandstats name
	do        func(ctx context.Context, c *redis.Client, key string, s sess) error
	sameKey   bool // always the first session's key (stays in cache) instead of a random one
}

// validateFields are the fields of session id that Validate's one HMGET
// reads (sessions/layout.go validateFields): the record M, the first six
// info pieces a..f and the provider record O, each named by the 16 raw
// bytes of the id's random part and a suffix (sessions/lua/layout.lua).
func validateFields(id string) []any {
	raw, err := hex.DecodeString(id[8:])
	if err != nil {
		log.Fatalf("session id %q: %v", id, err)
	}
	var out []any
	for _, suffix := range "MabcdefO" {
		out = append(out, string(raw)+string(suffix))
	}
	return out
}

var probeOps = []probeOp{
	{name: "EXISTS random", cmd: "exists", do: func(ctx context.Context, c *redis.Client, k string, _ sess) error {
		n, err := c.Exists(ctx, k).Result()
		if err == nil && n != 1 {
			err = fmt.Errorf("EXISTS %s = %d, want 1", k, n)
		}
		return err
	}},
	{name: "HMGET random", cmd: "hmget", do: func(ctx context.Context, c *redis.Client, k string, s sess) error {
		v, err := c.Do(ctx, append([]any{"HMGET", k}, validateFields(s.id)...)...).Slice()
		if err == nil && v[0] == nil {
			err = fmt.Errorf("HMGET %s: no record of session %s", k, s.id)
		}
		return err
	}},
	{name: "EXISTS same key", cmd: "exists", sameKey: true, do: func(ctx context.Context, c *redis.Client, k string, _ sess) error {
		return c.Exists(ctx, k).Err()
	}},
}

// probe times each probe op calls times, one in flight with the raw client,
// on every run, the runs taking turns over rounds, and prints the server's
// time per call (commandstats) beside the client's round trip.
func probe(ctx context.Context, runs []*run, calls, rounds int) {
	type figures struct{ usec, p50, mean []float64 }
	got := map[*run][]figures{}
	for _, r := range runs {
		got[r] = make([]figures, len(probeOps))
	}
	for round := 1; round <= rounds; round++ {
		fmt.Printf("# probe round %d, load average %s\n", round, loadavg())
		for i, op := range probeOps {
			for _, r := range runs {
				keys, picked := make([]string, calls), make([]sess, calls)
				for j := range keys {
					s := r.ids[0]
					if !op.sameKey {
						s = r.ids[rand.IntN(len(r.ids))]
					}
					keys[j], picked[j] = sessionKeys(ctx, r.raw, r.prefix, s)[0], s
				}
				lat := make([]time.Duration, calls)
				before := snapshot(ctx, r.raw, r.pid)
				for j, k := range keys {
					t := time.Now()
					if err := op.do(ctx, r.raw, k, picked[j]); err != nil {
						log.Fatal(err)
					}
					lat[j] = time.Since(t)
				}
				w := snapshot(ctx, r.raw, r.pid).since(before)
				p50, _, mean := summarize(lat)
				f := &got[r][i]
				f.usec, f.p50, f.mean = append(f.usec, w.usecPerCall(op.cmd)), append(f.p50, p50), append(f.mean, mean)
				fmt.Printf("probe round %d %-11s %-15s server %.2f µs/call, client p50=%.1fµs mean=%.1fµs\n",
					round, r.label(), op.name, w.usecPerCall(op.cmd), p50, mean)
			}
		}
	}
	fmt.Printf("# probe, %d calls per op, 1 in flight, medians of %d rounds; ratio/Δ = median over rounds of this run ÷ (−) the first count's in the same round (same huge-page setting)\n", calls, rounds)
	for i, op := range probeOps {
		for _, r := range runs {
			f, b := got[r][i], got[baseline(runs, r)][i]
			fmt.Printf("probe %-11s %-15s server %.2f µs/call (ratio %.2f, Δ %+.2f µs)  client p50=%.1fµs (ratio %.2f) mean=%.1fµs (ratio %.2f)\n",
				r.label(), op.name, median(f.usec), ratio(f.usec, b.usec), diff(f.usec, b.usec),
				median(f.p50), ratio(f.p50, b.p50), median(f.mean), ratio(f.mean, b.mean))
			if t := twin(runs, r); t != nil && r.thp {
				tf := got[t][i]
				fmt.Printf("probe %-11s %-15s huge pages ÷ without: server %.2f, client p50 %.2f\n", r.label(), op.name,
					ratio(f.usec, tf.usec), ratio(f.p50, tf.p50))
			}
		}
	}
}

// summarize sorts lat and returns its p50, p99 and mean in µs.
func summarize(lat []time.Duration) (p50, p99, mean float64) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return us(lat[len(lat)/2]), us(lat[len(lat)*99/100]), us(sum / time.Duration(len(lat)))
}

// concurrencies parses -vconc: a comma-separated list of calls in flight.
func concurrencies(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-vconc %q: want a list of counts ≥ 1", s)
		}
		out = append(out, n)
	}
	return out
}
