// Command sessload measures Redis at scale (issue 10): for each count N it
// starts a throwaway redis-server (free port, no persistence), creates N sessions of N users (one each: the worst case, one index key
// per session) with a 120-byte browser user agent through the store's own
// Create, many calls in flight at once (the client's pool pipelines them
// over its connections), and reports
//
//   - Redis memory per session: INFO used_memory delta ÷ N, and MEMORY USAGE
//     of one session's two keys,
//
//   - Validate latency (p50/p99/mean) of -validations calls on random
//     sessions, -vconc at a time, the counts taking turns over -rounds
//     rounds (medians), so the ratio between them is side by side.
//
//     go run ./bench/sessload -n 1000,1000000
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
	vconc := flag.Int("vconc", 16, "Validate calls in flight while measuring")
	validations := flag.Int("validations", 20000, "Validate calls per round and count")
	rounds := flag.Int("rounds", 5, "measuring rounds; the counts take turns within each")
	flag.Parse()
	if len(userAgent) != 120 {
		log.Fatalf("user agent is %d bytes", len(userAgent))
	}
	ctx := context.Background()
	fmt.Printf("# sessload %s, user agent %d B, %d CPUs, load average %s\n", time.Now().UTC().Format(time.RFC3339), len(userAgent), nproc(), loadavg())
	var runs []*run
	for _, s := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatal(err)
		}
		r := newRun(n, *conc)
		defer r.stop()
		before := usedMemory(ctx, r.raw)
		start := time.Now()
		r.ids = load(ctx, r.store, n, *conc)
		per := float64(usedMemory(ctx, r.raw)-before) / float64(n)
		fmt.Printf("n=%d load=%.1fs used_memory/session=%.0fB memory_usage(2 keys)=%dB encoding=%s\n",
			n, time.Since(start).Seconds(), per, keyUsage(ctx, r.raw, r.prefix, r.ids[0]), encoding(ctx, r.raw, r.prefix, r.ids[0]))
		runs = append(runs, r)
	}
	// Side by side: the counts take turns, so machine load hits them alike.
	for round := 1; round <= *rounds; round++ {
		for _, r := range runs {
			p50, p99, mean := validate(ctx, r.store, r.ids, *validations, *vconc)
			r.p50, r.p99, r.mean = append(r.p50, p50), append(r.p99, p99), append(r.mean, mean)
		}
	}
	for _, r := range runs {
		fmt.Printf("n=%d validate (median of %d rounds of %d calls, %d in flight) p50=%.0fµs p99=%.0fµs mean=%.0fµs; ratio to n=%d: mean %.2f p50 %.2f\n",
			len(r.ids), *rounds, *validations, *vconc, median(r.p50), median(r.p99), median(r.mean),
			len(runs[0].ids), median(r.mean)/median(runs[0].mean), median(r.p50)/median(runs[0].p50))
	}
}

// run is one redis-server with its store and sessions.
type run struct {
	raw            *redis.Client
	store          *sessions.RedisStore
	prefix         string
	ids            []sess
	stop           func()
	p50, p99, mean []float64
}

func newRun(n, conc int) *run {
	addr, stop := startRedis()
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
	return &run{raw: redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 30 * time.Second}), prefix: cfg.Redis.KeyPrefix, stop: stop,
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
				user := fmt.Sprintf("user%07d@example.com", i)
				c, err := store.Create(ctx, sessions.NewSession{User: user, IP: "203.0.113.42",
					UserAgent: userAgent, PasswordFingerprint: "9f86d081884c7d659a2feaa0c55ad015"})
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
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return us(lat[count/2]), us(lat[count*99/100]), us(sum / time.Duration(count))
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

func startRedis() (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "sessload")
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
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
	return addr, func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) }
}

func nproc() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
