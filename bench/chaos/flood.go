package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// floodResult is the login-flood measurement of one scenario.
type floodResult struct {
	quietRPS, floodRPS float64
	sent, dropped      int64
	// Correct logins during the flood, and those that got in within 2 s:
	// returning users (a browser that signed in before, with its device
	// cookie: 303 with the session cookies) and new devices (JSON, no
	// cookie: 200). The -flood-logins limit applies to returning users.
	returning, returningFast int
	fresh, freshFast         int
}

// returningUsers sign in through the login form before the flood and keep
// their cookie jar: during it they are returning users, one client each.
var returningUsers = []string{"returning0", "returning1"}

// Cookie names of the harness's gateways (cookies.secure: false).
const (
	accessCookie = "portcullis_at"
	deviceCookie = "portcullis_dev"
)

// flood sends wrong-password logins for unknown users (each costs the
// gateway a full default-cost argon2id check) from random addresses behind
// the trusted proxy (X-Forwarded-For), at rate per second for d, while
// measuring authenticated throughput and correct logins. The quiet
// throughput is measured without the flood for d/2 just before and d/2 just
// after it: the machine is shared, and a quiet figure taken at one moment
// only would compare the flood with whatever else ran then.
func (e *env) flood(rate int, d time.Duration) (floodResult, error) {
	var fr floodResult
	tok, err := e.benchLogin("bench")
	if err != nil {
		return fr, err
	}
	devices := make([]*http.Cookie, len(returningUsers))
	for i, u := range returningUsers {
		if devices[i], err = e.deviceCookie(u); err != nil {
			return fr, err
		}
	}
	before := e.closedLoop(tok, d/2)
	end := e.l.begin(event{name: fmt.Sprintf("login flood %d/s", rate)})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() { fr.sent, fr.dropped = e.floodLogins(ctx, rate) })
	wg.Go(func() { fr.fresh, fr.freshFast = e.probeLogins(ctx) })
	for i, u := range returningUsers {
		wg.Go(func() {
			n, fast := e.probeReturning(ctx, u, devices[i])
			mu.Lock()
			fr.returning, fr.returningFast = fr.returning+n, fr.returningFast+fast
			mu.Unlock()
		})
	}
	fr.floodRPS = e.closedLoop(tok, d)
	wg.Wait()
	end()
	fr.quietRPS = (before + e.closedLoop(tok, d/2)) / 2
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

// probeLogins signs in as "probe" every 250 ms during the flood, as a new
// device (JSON, no cookie), and counts how many got a 200 within 2 s (each
// session is logged out again).
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

// formLogin signs user in through the login form, presenting the device
// cookie dev when not nil.
func (e *env) formLogin(user string, dev *http.Cookie) answer {
	body := url.Values{"username": {user}, "password": {password(user)}, "rd": {"/"}}.Encode()
	req, _ := http.NewRequest("POST", e.gw().base+"/auth/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if dev != nil {
		req.AddCookie(dev)
	}
	return e.doWith(e.form, "bench", user, "", req)
}

// formLogout ends the session a form login's access cookie names.
func (e *env) formLogout(user string, login answer) {
	if at := cookieNamed(login.cookies, accessCookie); at != nil {
		req := jsonReq("POST", e.gw().base+"/auth/logout", nil)
		req.AddCookie(at)
		e.do("bench", user, "", req)
	}
}

// deviceCookie signs user in through the form (before the flood) and
// returns the device cookie the browser keeps.
func (e *env) deviceCookie(user string) (*http.Cookie, error) {
	for range 20 {
		a := e.formLogin(user, nil)
		e.formLogout(user, a)
		if c := cookieNamed(a.cookies, deviceCookie); a.status == http.StatusSeeOther && c != nil {
			return c, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return nil, fmt.Errorf("form login for %s: no device cookie", user)
}

// probeReturning signs user in through the form every 250 ms during the
// flood, with the device cookie its browser kept, and counts how many got
// in (303 with the session cookies) within 2 s.
func (e *env) probeReturning(ctx context.Context, user string, dev *http.Cookie) (n, fast int) {
	for ctx.Err() == nil {
		start := time.Now()
		a := e.formLogin(user, dev)
		n++
		if a.status == http.StatusSeeOther && cookieNamed(a.cookies, accessCookie) != nil && time.Since(start) <= 2*time.Second {
			fast++
		}
		if c := cookieNamed(a.cookies, deviceCookie); c != nil {
			dev = c
		}
		e.formLogout(user, a)
		time.Sleep(250 * time.Millisecond)
	}
	return n, fast
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	return nil
}
