package gateway

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

// BenchmarkAuthenticatedDuringLoginFlood: authenticated proxied requests
// (built-in echo upstream, in process) while nobody logs in, and during a
// flood of 50 wrong-password logins/s for unknown users (default argon2id
// cost; per-address limit off, as for a flood from random addresses).
// Compare the req/s of the two: admission keeps a core for proxying (issue
// 8 D asks for ≥ 0.7× the quiet figure). Run:
//
//	go test -run '^$' -bench AuthenticatedDuringLoginFlood -benchtime 5s ./gateway/
func BenchmarkAuthenticatedDuringLoginFlood(b *testing.B) {
	g := benchGateway(b)
	tok := benchLogin(b, g, "alice", "alice-password")
	proxied := func() {
		r := httptest.NewRequest("GET", "/api/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			panic(fmt.Sprintf("proxied request: %d %s", w.Code, w.Body))
		}
	}
	for _, floodRate := range []int{0, 50} {
		b.Run(fmt.Sprintf("logins_per_s=%d", floodRate), func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var answers [600]atomic.Int64
			if floodRate > 0 {
				wg.Go(func() {
					tick := time.NewTicker(time.Second / time.Duration(floodRate))
					defer tick.Stop()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						wg.Go(func() {
							body := fmt.Sprintf(`{"username":"nobody%d","password":"wrong"}`, i)
							r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
							r.Header.Set("Content-Type", "application/json")
							w := httptest.NewRecorder()
							g.ServeHTTP(w, r)
							answers[w.Code].Add(1)
						})
					}
				})
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					proxied()
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			close(stop)
			wg.Wait()
			if floodRate > 0 {
				b.ReportMetric(float64(answers[401].Load()), "logins-401")
				b.ReportMetric(float64(answers[503].Load()), "logins-503")
			}
		})
	}
}

// benchGateway is a gateway with one user hashed at the default cost, the
// memory store and the echo upstream behind an authenticated route.
func benchGateway(b *testing.B) *Gateway {
	b.Helper()
	h, err := users.Hash("alice-password", false)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "users.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, "users:\n  alice:\n    password_hash: %q\n    roles: [staff]\n", h), 0o600); err != nil {
		b.Fatal(err)
	}
	us, err := users.NewStore(path, config.Argon2Limit{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := authConfig(config.EchoUpstream)
	cfg.Tokens.Keys = []config.Key{{ID: "k1", Alg: "HS256", Secret: config.Secret(strings.Repeat("s", 32))}}
	cfg.Login.RateLimit.PerIP = 0
	store := sessions.NewMemoryStore(sessions.Options{MaxPerUser: 5, IdleTimeout: time.Hour, AbsoluteLifetime: 24 * time.Hour})
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), Store: store, Users: us})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchLogin(b *testing.B, g *Gateway, user, password string) string {
	b.Helper()
	r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(loginBody(user, password)))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	var tr tokenResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tr) != nil {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return tr.AccessToken
}
