package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

func loginBody(user, pw string) string {
	return `{"username":"` + user + `","password":"` + pw + `"}`
}

// TestLoginThrottlePerUser: failures only, sliding window, 429 + Retry-After.
func TestLoginThrottlePerUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 3, PerIP: 0, Window: 5 * time.Minute}
		}})
		js := []string{"Content-Type", "application/json"}
		login := func(pw string) response { return e.do("POST", "/auth/login", loginBody("bob", pw), js...) }

		wantStatus(t, "failure 1", login("x"), 401)
		wantStatus(t, "failure 2", login("x"), 401)
		for i := range 4 { // successes do not count
			wantStatus(t, "success "+strconv.Itoa(i), login("bob-password"), 200)
		}
		e.clock.Advance(time.Minute)
		wantStatus(t, "failure 3", login("x"), 401)
		res := login("bob-password")
		wantStatus(t, "throttled even with the right password", res, 429)
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 240 {
			t.Errorf("Retry-After = %q, want 1..240 s (oldest failure leaves the window in 4 min)", res.Header.Get("Retry-After"))
		}
		if c := res.errCode(t); c != "too_many_requests" {
			t.Errorf("error = %q", c)
		}
		wantStatus(t, "other user not throttled", e.do("POST", "/auth/login", loginBody("alice", "alice-password"), js...), 200)
		// Form logins see the throttle too, as HTML with Retry-After.
		form := url.Values{"username": {"bob"}, "password": {"bob-password"}}.Encode()
		res = e.do("POST", "/auth/login", form, "Content-Type", "application/x-www-form-urlencoded")
		wantStatus(t, "throttled form", res, 429)
		if res.Header.Get("Retry-After") == "" || len(res.Cookies()) != 0 {
			t.Errorf("throttled form: Retry-After %q cookies %v", res.Header.Get("Retry-After"), res.Cookies())
		}
		// The window slides: the two oldest failures leave after 5 minutes.
		e.clock.Advance(4*time.Minute + time.Second)
		wantStatus(t, "after the window", login("bob-password"), 200)
		if got := testutil.ToFloat64(metricsOf(e.g).logins.WithLabelValues(loginRateLimited)); got != 2 {
			t.Errorf("logins_total{rate_limited} = %v, want 2", got)
		}
	})
}

// TestLoginThrottlePerIP: the client IP (X-Forwarded-For from a trusted
// proxy) is limited across usernames.
func TestLoginThrottlePerIP(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
			trustLoopback(c)
			c.Login.RateLimit = config.RateLimit{PerUser: 0, PerIP: 3, Window: time.Minute}
		}})
		from := func(ip, user, pw string) response {
			return e.do("POST", "/auth/login", loginBody(user, pw), "Content-Type", "application/json", "X-Forwarded-For", ip)
		}
		wantStatus(t, "1", from("203.0.113.7", "alice", "x"), 401)
		wantStatus(t, "2", from("203.0.113.7", "bob", "x"), 401)
		wantStatus(t, "3", from("203.0.113.7", "dave", "x"), 401)
		wantStatus(t, "same IP throttled", from("203.0.113.7", "alice", "alice-password"), 429)
		wantStatus(t, "other IP", from("198.51.100.1", "alice", "alice-password"), 200)
	})
}

// TestLoginBusy: with every password slot taken, a login waits, then 503
// with Retry-After; once a slot frees, logins work again.
func TestLoginBusy(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	adm := admissionOf(e.g)
	if _, err := adm.acquire(context.Background(), adm.size); err != nil {
		t.Fatal(err)
	}
	res := e.do("POST", "/auth/login", loginBody("bob", "bob-password"), "Content-Type", "application/json")
	wantStatus(t, "login with no free slot", res, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" || res.errCode(t) != "temporarily_unavailable" {
		t.Errorf("busy answer: Retry-After %q body %s", res.Header.Get("Retry-After"), res.body)
	}
	adm.release(adm.size)
	wantStatus(t, "login after release", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), "Content-Type", "application/json"), 200)
}

// TestLoginThrottleSpoofedAddress: from a peer outside trusted_proxies,
// X-Forwarded-For is not the client address, so rotating it does not spread
// attempts over fresh per-IP counters; a hostile user name (key syntax,
// braces, control bytes) is just another user's counter.
func TestLoginThrottleSpoofedAddress(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 0, PerIP: 3, Window: time.Minute}
		}})
		for i, user := range []string{"alice", "login:ip:127.0.0.1", `{bob}\u0000\r\n`} {
			res := e.do("POST", "/auth/login", loginBody(user, "x"), "Content-Type", "application/json", "X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
			wantStatus(t, "attempt "+strconv.Itoa(i+1), res, 401)
		}
		res := e.do("POST", "/auth/login", loginBody("alice", "alice-password"), "Content-Type", "application/json", "X-Forwarded-For", "203.0.113.99")
		wantStatus(t, "fourth attempt with yet another spoofed address", res, 429)
	})
}
