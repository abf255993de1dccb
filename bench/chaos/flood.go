package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// floodResult is the login-flood measurement of one scenario.
type floodResult struct {
	quietRPS, floodRPS float64
	sent, dropped      int64
	logins, loginsFast int // correct logins during the flood, and those answered 200 within 2 s
}

// flood sends wrong-password logins for unknown users (each costs the
// gateway a full default-cost argon2id check) from random addresses behind
// the trusted proxy (X-Forwarded-For), at rate per second for d, while
// measuring authenticated throughput and correct logins. The same
// throughput is measured for d just before, without the flood.
func (e *env) flood(rate int, d time.Duration) (floodResult, error) {
	var fr floodResult
	tok, err := e.benchLogin("bench")
	if err != nil {
		return fr, err
	}
	fr.quietRPS = e.closedLoop(tok, d)
	end := e.l.begin(event{name: fmt.Sprintf("login flood %d/s", rate)})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fr.sent, fr.dropped = e.floodLogins(ctx, rate) }()
	go func() { defer wg.Done(); fr.logins, fr.loginsFast = e.probeLogins(ctx) }()
	fr.floodRPS = e.closedLoop(tok, d)
	wg.Wait()
	end()
	return fr, nil
}

func (e *env) benchLogin(user string) (string, error) {
	for range 20 {
		a := e.do("bench", user, "", jsonReq("POST", e.gws[0].base+"/auth/login", map[string]string{"username": user, "password": password(user)}))
		if t, ok := parseTokens(a.body); ok && a.status == http.StatusOK {
			return t.Access, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return "", fmt.Errorf("bench login for %s failed", user)
}

// closedLoop runs 4 clients back to back on the protected route for d and
// returns the 200s per second.
func (e *env) closedLoop(tok string, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := e.gws[i%len(e.gws)]
			for time.Now().Before(deadline) {
				if a := e.do("bench", "bench", "", bearer(jsonReq("GET", g.base+"/app/bench", nil), tok)); a.status == http.StatusOK {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// floodLogins paces wrong-password logins at rate/s with at most 64 in flight.
func (e *env) floodLogins(ctx context.Context, rate int) (sent, dropped int64) {
	sem := make(chan struct{}, 64)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return sent, dropped
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			dropped++
			continue
		}
		sent++
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req := jsonReq("POST", e.gws[i%len(e.gws)].base+"/auth/login",
				map[string]string{"username": fmt.Sprintf("flood-%d", rand.Int64()), "password": "wrong"})
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254)))
			e.do("flood", "", "", req)
		}()
	}
}

// probeLogins signs in as "probe" every 250 ms during the flood and counts
// how many got through within 2 s (each session is logged out again).
func (e *env) probeLogins(ctx context.Context) (n, fast int) {
	for ctx.Err() == nil {
		start := time.Now()
		a := e.do("bench", "probe", "", jsonReq("POST", e.gw().base+"/auth/login", map[string]string{"username": "probe", "password": password("probe")}))
		n++
		if a.status == http.StatusOK && time.Since(start) <= 2*time.Second {
			fast++
		}
		if t, ok := parseTokens(a.body); ok {
			e.do("bench", "probe", t.SessionID, bearer(jsonReq("POST", e.gw().base+"/auth/logout", nil), t.Access))
		}
		time.Sleep(250 * time.Millisecond)
	}
	return n, fast
}
