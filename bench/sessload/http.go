package main

// -http: the same counts measured where a user sees them, as HTTP requests
// through a real portcullis process (bench/README.md "Latency at scale
// through the gateway"). Each count's redis-server gets its own gateway
// (Redis store, no cache, touch_interval 1h as in the Validate rounds), in
// front of one upstream served from this process; every request carries
// the access token of a random live session, and the gateway verifies it,
// validates the session in Redis and checks its user before proxying.
//
// Kept equal between the counts, so that only the number of sessions
// stored in Redis differs:
//   - the users table: -live users at every count, the users of the first
//     -live sessions (all of a smaller count's). A users file is at most
//     16 MiB, about 110 000 of these entries, so at 1 M stored sessions the
//     requests spread over the -live sessions of those users, which the
//     random session ids put at random places of Redis' keyspace;
//   - the token pool: -tokens distinct tokens whatever the count (several
//     per session when the count is small), so the gateway's verified-token
//     cache (16 Ki entries) misses alike; requests pick a token at random.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// benchHash is every benchmark user's password hash (the demo users file's
// "wonderland"; nobody logs in, the gateway only compares its fingerprint
// with the session's).
const benchHash = "$argon2id$v=19$m=65536,t=3,p=2$A4N/UTQ024I0nNBytzKwnw$tw2EZtVsbmTKtkteW2ZsXeXUpfGd8EdBkoHk7M//sxw"

// benchFingerprint is the password fingerprint the sessions are created
// with, the one the gateway derives from benchHash.
var benchFingerprint = users.Fingerprint(benchHash)

// httpOpts are the -http flags.
type httpOpts struct {
	live, tokens, requests int
	conc                   []int
	dir                    string // build and config files
	bin                    string // the portcullis binary
	upstream               string // URL of the upstream this process serves
}

// gatewayProc is one portcullis process in front of one run's redis-server.
type gatewayProc struct {
	url    string
	pid    int
	tokens []string
	stop   func()
	byConc map[int]*httpSeries
}

// httpSeries holds one gateway's figures at one concurrency, per round.
type httpSeries struct {
	p50, p99, mean, rps, cpu, redisCPU []float64 // µs; cpu per request
}

func (g *gatewayProc) series(conc int) *httpSeries {
	if g.byConc == nil {
		g.byConc = map[int]*httpSeries{}
	}
	if g.byConc[conc] == nil {
		g.byConc[conc] = &httpSeries{}
	}
	return g.byConc[conc]
}

// setupHTTP builds portcullis and starts the upstream; the caller starts
// one gateway per run.
func setupHTTP(o *httpOpts) {
	dir, err := os.MkdirTemp("", "sessload-http")
	if err != nil {
		log.Fatal(err)
	}
	o.dir, o.bin = dir, filepath.Join(dir, "portcullis")
	build := exec.Command("go", "build", "-o", o.bin, "./cmd/portcullis")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("building portcullis (run sessload from the repository root): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	body := strings.Repeat("x", 100) // as bench/upstream -size 100
	go func() {
		log.Fatal(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, body)
		})))
	}()
	o.upstream = "http://" + l.Addr().String()
}

// startGateway writes r's users file and config, starts portcullis on them
// and mints the token pool.
func (r *run) startGateway(o *httpOpts, redisAddr string) *gatewayProc {
	live := r.ids[:min(len(r.ids), o.live)]
	name := fmt.Sprintf("n%d", len(r.ids))
	if r.thp {
		name += "-thp"
	}
	usersFile := filepath.Join(o.dir, name+"-users.yaml")
	// The same users at every count (load names user i of session i), so
	// that the gateways differ only in the sessions Redis stores, not in
	// the size of their users table and heap.
	var b strings.Builder
	b.WriteString("users:\n")
	for i := range o.live {
		fmt.Fprintf(&b, "  %s: {password_hash: %q}\n", userName(i), benchHash)
	}
	if err := os.WriteFile(usersFile, []byte(b.String()), 0o600); err != nil {
		log.Fatal(err)
	}
	set, err := users.Load(usersFile, config.Argon2Limit{})
	if err != nil {
		log.Fatalf("users file of %d users: %v (-live too large for the 16 MiB limit?)", len(live), err)
	}
	if _, ok := set.Lookup(live[len(live)-1].user); !ok {
		log.Fatalf("users file lacks %s, the user of a live session", live[len(live)-1].user)
	}

	secret := make([]byte, 32)
	rand.Read(secret)
	key := config.Key{ID: "hs", Alg: "HS256", Secret: config.Secret("base64:" + base64.StdEncoding.EncodeToString(secret))}
	port, metricsPort := mustPort(), mustPort()
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
  shutdown_delay: 0s
metrics:
  listen: "127.0.0.1:%d"
tokens:
  access_ttl: 1h
  keys: [{id: %s, alg: %s, secret: %q}]
sessions:
  store: redis
  touch_interval: 1h
  redis:
    addrs: [%q]
users:
  file: %s
cookies:
  secure: false
log:
  level: warn
  access_log: false
routes:
  - name: private
    path_prefix: /
    upstream: %q
    auth: required
`, port, metricsPort, key.ID, key.Alg, string(key.Secret), redisAddr, usersFile, o.upstream)
	cfgFile := filepath.Join(o.dir, name+".yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(o.bin, "serve", "-config", cfgFile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	g := &gatewayProc{url: fmt.Sprintf("http://127.0.0.1:%d/x", port), pid: cmd.Process.Pid,
		stop: func() { cmd.Process.Kill(); cmd.Wait() }}
	waitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", metricsPort))

	tcfg := config.Default().Tokens
	tcfg.AccessTTL, tcfg.Keys = time.Hour, []config.Key{key}
	ks, err := tokens.New(tcfg)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	g.tokens = make([]string, o.tokens)
	for i := range g.tokens {
		s := live[i%len(live)]
		if g.tokens[i], _, err = ks.Issue(s.user, s.id, now); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%s gateway pid=%d users=%d live sessions=%d tokens=%d (%.1f per live session)\n",
		r.label(), g.pid, set.Len(), len(live), len(g.tokens), float64(len(g.tokens))/float64(len(live)))
	return g
}

// mustPort is a free loopback port, never one this process handed out before.
func mustPort() int {
	port, err := sessionstest.NewPort()
	if err != nil {
		log.Fatal(err)
	}
	return port
}

func waitReady(url string) {
	for i := 0; i < 300; i++ {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("gateway not ready: %s", url)
}

// measureHTTP sends o.requests requests through r's gateway, conc at a
// time over keep-alive connections, and records latency, rate and the
// gateway's and redis-server's CPU per request.
func (r *run) measureHTTP(ctx context.Context, o *httpOpts, round, conc int) {
	g := r.gateway
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: conc, MaxIdleConnsPerHost: conc, DisableCompression: true}}
	defer client.CloseIdleConnections()
	lat := make([]time.Duration, o.requests)
	var next atomic.Int64
	var wg sync.WaitGroup
	g0, r0, t0 := processCPU(g.pid), processCPU(r.pid), time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < o.requests; i = int(next.Add(1)) - 1 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
				req.Header.Set("Authorization", "Bearer "+g.tokens[mrand.IntN(len(g.tokens))])
				t := time.Now()
				res, err := client.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				lat[i] = time.Since(t)
				if res.StatusCode != http.StatusOK {
					log.Fatalf("%s: %s %s", r.label(), res.Status, body)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	gcpu, rcpu := processCPU(g.pid)-g0, processCPU(r.pid)-r0
	p50, p99, mean := summarize(lat)
	s := g.series(conc)
	rps := float64(o.requests) / elapsed.Seconds()
	perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(o.requests) }
	s.p50, s.p99, s.mean, s.rps = append(s.p50, p50), append(s.p99, p99), append(s.mean, mean), append(s.rps, rps)
	s.cpu, s.redisCPU = append(s.cpu, perReq(gcpu)), append(s.redisCPU, perReq(rcpu))
	fmt.Printf("round %d %-11s http conc=%-2d p50=%.0fµs mean=%.0fµs p99=%.0fµs %.0f req/s | CPU µs/request: gateway %.1f, redis-server %.1f\n",
		round, r.label(), conc, p50, mean, p99, rps, perReq(gcpu), perReq(rcpu))
}

// reportHTTP prints the medians and the per-round ratios to the first count.
func reportHTTP(runs []*run, o *httpOpts, rounds int) {
	fmt.Printf("# HTTP through the gateway, medians of %d rounds of %d requests; ratio = median over rounds of this count ÷ %s in the same round\n",
		rounds, o.requests, runs[0].label())
	for _, conc := range o.conc {
		for _, r := range runs {
			s, b := r.gateway.series(conc), baseline(runs, r).gateway.series(conc)
			fmt.Printf("%-11s http conc=%-2d p50=%.0fµs mean=%.0fµs p99=%.0fµs %.0f req/s  ratio p50 %.2f mean %.2f p99 %.2f req/s %.2f | CPU µs/request gateway %.1f (ratio %.2f), redis-server %.1f\n",
				r.label(), conc, median(s.p50), median(s.mean), median(s.p99), median(s.rps),
				ratio(s.p50, b.p50), ratio(s.mean, b.mean), ratio(s.p99, b.p99), ratio(s.rps, b.rps),
				median(s.cpu), ratio(s.cpu, b.cpu), median(s.redisCPU))
		}
	}
}

// concs is the list of concurrencies to measure, none without -http.
func (o *httpOpts) concs() []int {
	if o == nil {
		return nil
	}
	return o.conc
}
