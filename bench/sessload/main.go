// Command sessload measures Redis at scale (issue 10): for each count N it
// starts a throwaway redis-server (free port, no persistence), creates N sessions of N users (one each: the worst case, one tag
// hash per session) with a 120-byte browser user agent through the store's own
// Create, many calls in flight at once (the client's pool pipelines them
// over its connections), and reports
//
//   - Redis memory per session: INFO used_memory delta ÷ N, and MEMORY USAGE
//     of one session's key (its tag's hash),
//
//   - Validate latency (p50/p99/mean) of -validations calls on random
//     sessions, -vconc at a time, the counts taking turns over -rounds
//     rounds (medians), so the ratio between them is side by side;
//
//   - beside each latency, what redis-server did in that window (server.go):
//     its time per call of every command Validate ran (INFO commandstats
//     deltas: evalsha, hmget, …) and its CPU µs per Validate (utime+stime
//     from /proc/<pid>/stat).
//
// Flags beyond the counts:
//
//	-vconc 16,1      Validate calls in flight, a list: with 1 there is no
//	                 queueing, so the server's own cost per call shows alone
//	-probe           after the Validate rounds, time raw EXISTS and HMGET on
//	                 random existing keys (and EXISTS on one key), 1 in flight,
//	                 server- and client-side: the key lookup cost alone
//	-probecalls N    calls per probe op and round (20000)
//	-thp             start a second redis-server per count with
//	                 MALLOC_CONF=thp:always (jemalloc on transparent huge
//	                 pages), measured beside the first
//	-rounds, -validations, -conc   rounds, calls per round, calls in flight while loading
//	-http            also measure, each round, HTTP requests through a real
//	                 portcullis process per count (Redis store, no cache),
//	                 each with the access token of a random live session
//	                 (http.go); -live users in its users file (100000),
//	                 -tokens distinct tokens whatever the count (100000),
//	                 -hconc requests in flight (16), -hreq per round (20000)
//
//	go run ./bench/sessload -n 1000,1000000
//	go run ./bench/sessload -n 1000,1000000 -rounds 3 -vconc 16,1 -probe
//	go run ./bench/sessload -n 1000,1000000 -rounds 5 -http -hconc 16,64
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/sessions"
)

// A typical browser user agent: 120 bytes.
const userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131."

func main() {
	counts := flag.String("n", "1000,1000000", "comma-separated session counts, one redis-server each")
	conc := flag.Int("conc", 64, "calls in flight while loading")
	vconc := flag.String("vconc", "16", "comma-separated Validate calls in flight while measuring, e.g. 16,1")
	probeFlag := flag.Bool("probe", false, "after the rounds, time raw EXISTS and HMGET on random keys, 1 in flight")
	probeCalls := flag.Int("probecalls", 20000, "calls per probe op and round")
	thp := flag.Bool("thp", false, "also run each count on a redis-server with MALLOC_CONF=thp:always")
	validations := flag.Int("validations", 20000, "Validate calls per round and count")
	rounds := flag.Int("rounds", 5, "measuring rounds; the counts take turns within each")
	httpFlag := flag.Bool("http", false, "also measure HTTP requests through a portcullis process per count (http.go)")
	live := flag.Int("live", 100000, "with -http: users in the gateway's users file, the sessions requests go to")
	ntok := flag.Int("tokens", 100000, "with -http: distinct access tokens, whatever the count")
	hconc := flag.String("hconc", "16", "with -http: comma-separated requests in flight")
	hreq := flag.Int("hreq", 20000, "with -http: requests per round, count and concurrency")
	flag.Parse()
	if len(userAgent) != 120 {
		log.Fatalf("user agent is %d bytes", len(userAgent))
	}
	ctx := context.Background()
	fmt.Printf("# sessload %s, user agent %d B, %d CPUs, load average %s\n", time.Now().UTC().Format(time.RFC3339), len(userAgent), nproc(), loadavg())
	vconcs := concurrencies(*vconc)
	var ho *httpOpts
	if *httpFlag {
		ho = &httpOpts{live: *live, tokens: *ntok, requests: *hreq, conc: concurrencies(*hconc)}
		setupHTTP(ho)
		defer os.RemoveAll(ho.dir)
	}
	var runs []*run
	for _, spec := range runSpecs(*counts, *thp) {
		n := spec.n
		r := newRun(n, *conc, spec.thp)
		defer r.stop()
		before := usedMemory(ctx, r.raw)
		start := time.Now()
		r.ids = load(ctx, r.store, n, *conc)
		per := float64(usedMemory(ctx, r.raw)-before) / float64(n)
		fmt.Printf("n=%d load=%.1fs used_memory/session=%.0fB memory_usage(tag hash)=%dB encoding=%s\n",
			n, time.Since(start).Seconds(), per, keyUsage(ctx, r.raw, r.prefix, r.ids[0]), encoding(ctx, r.raw, r.prefix, r.ids[0]))
		r.describe(ctx)
		if ho != nil {
			r.gateway = r.startGateway(ho, r.addr)
			defer r.gateway.stop()
		}
		runs = append(runs, r)
	}
	// Side by side: the counts take turns, so machine load hits them alike.
	for round := 1; round <= *rounds; round++ {
		fmt.Printf("# round %d, load average %s\n", round, loadavg())
		// Each round starts with another count, so none is always measured
		// first (or last) in a pair.
		order := slices.Concat(runs[(round-1)%len(runs):], runs[:(round-1)%len(runs)])
		for _, c := range vconcs {
			for _, r := range order {
				r.measure(ctx, round, *validations, c)
			}
		}
		for _, c := range ho.concs() {
			for _, r := range order {
				r.measureHTTP(ctx, ho, round, c)
			}
		}
	}
	report(runs, vconcs, *rounds, *validations)
	if ho != nil {
		reportHTTP(runs, ho, *rounds)
	}
	if *probeFlag {
		probe(ctx, runs, *probeCalls, *rounds)
	}
	fmt.Printf("# done %s, load average %s\n", time.Now().UTC().Format(time.RFC3339), loadavg())
}

// run is one redis-server with its store and sessions.
type run struct {
	raw    *redis.Client
	addr   string // redis-server's
	store  *sessions.RedisStore
	prefix string
	ids    []sess
	stop   func()
	pid    int  // redis-server's
	thp    bool // redis-server on transparent huge pages
	byConc map[int]*series
	// gateway is the portcullis process in front of this server (-http).
	gateway *gatewayProc
}

func newRun(n, conc int, thp bool) *run {
	addr, pid, stop := startRedis(thp)
	cfg := config.Default().Sessions
	cfg.Redis.Addrs = []string{addr}
	cfg.Redis.PoolSize = conc + 8
	// No touch while measuring: with the default 1m, nearly every call on a
	// million sessions would be its session's first after the load and
	// write, while calls on a thousand would read; the comparison is of
	// lookups at scale, not of writes against reads.
	cfg.TouchInterval = time.Hour
	client, err := sessions.NewRedisClient(cfg.Redis)
	if err != nil {
		log.Fatal(err)
	}
	return &run{raw: redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 30 * time.Second}), addr: addr, prefix: cfg.Redis.KeyPrefix, stop: stop, pid: pid, thp: thp,
		store: sessions.NewRedisStore(client, cfg.Redis.KeyPrefix, sessions.OptionsFor(cfg, make([]byte, 32)))}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

type sess struct{ user, id string }

// userName is the user of the i-th session loaded.
func userName(i int) string { return fmt.Sprintf("user%07d@example.com", i) }

// load creates n sessions, conc calls at a time.
func load(ctx context.Context, store *sessions.RedisStore, n, conc int) []sess {
	ids := make([]sess, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				user := userName(i)
				c, err := store.Create(ctx, sessions.NewSession{User: user, IP: "203.0.113.42",
					UserAgent: userAgent, PasswordFingerprint: benchFingerprint})
				if err != nil {
					log.Fatal(err)
				}
				ids[i] = sess{user, c.Session.ID}
			}
		}()
	}
	wg.Wait()
	return ids
}

// validate times count Validate calls on random sessions, conc at a time.
func validate(ctx context.Context, store *sessions.RedisStore, ids []sess, count, conc int) (p50, p99, mean float64) {
	lat := make([]time.Duration, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < count; i = int(next.Add(1)) - 1 {
				s := ids[rand.IntN(len(ids))]
				t := time.Now()
				if _, err := store.Validate(ctx, s.user, s.id); err != nil {
					log.Fatal(err)
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	return summarize(lat)
}

func usedMemory(ctx context.Context, c *redis.Client) int64 {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	log.Fatal("no used_memory in INFO")
	return 0
}

// sessionKeys are the keys of s: the hash of its tag, which holds every
// session of the tag's users (the layout of sessions/doc.go; KEYS would
// scan all of a million keys). With one session per user it is s alone,
// but for the few users whose 32-bit tags collide.
func sessionKeys(_ context.Context, _ *redis.Client, prefix string, s sess) []string {
	return []string{prefix + "{" + s.id[:8] + "}:h"}
}

func keyUsage(ctx context.Context, c *redis.Client, prefix string, s sess) int64 {
	var total int64
	for _, k := range sessionKeys(ctx, c, prefix, s) {
		n, err := c.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			log.Fatal(err)
		}
		total += n
	}
	return total
}

func encoding(ctx context.Context, c *redis.Client, prefix string, s sess) string {
	var out []string
	for _, k := range sessionKeys(ctx, c, prefix, s) {
		out = append(out, c.ObjectEncoding(ctx, k).Val())
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

func startRedis(thp bool) (string, int, func()) {
	port := mustPort()
	dir, err := os.MkdirTemp("", "sessload")
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if thp {
		// disable-thp no: where THP is "always" system-wide, Redis would
		// otherwise switch it off for itself at start.
		cmd.Args = append(cmd.Args, "--disable-thp", "no")
		cmd.Env = append(os.Environ(), thpEnv...)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			log.Fatal("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, cmd.Process.Pid, func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) }
}

func nproc() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
