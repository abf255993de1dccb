package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// deviceCookieOf logs user in through the form and returns the device
// cookie the browser got.
func deviceCookieOf(t *testing.T, e *env, user, password string) *http.Cookie {
	t.Helper()
	res := e.loginForm(&browser{}, user, password, "/")
	wantStatus(t, "form login of "+user, res, http.StatusSeeOther)
	c := res.cookie(snapshotOf(e.g).cookies.deviceName)
	if c == nil {
		t.Fatalf("form login of %s set no device cookie: %q", user, res.Header.Values("Set-Cookie"))
	}
	return c
}

// TestDeviceCookieIssued: a successful form login sets the device cookie
// (host-only, the login path only, HttpOnly, Secure, SameSite=Strict, 30
// days); a failed one, a JSON login and logout set or clear nothing of it.
func TestDeviceCookieIssued(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run("secure="+strconv.FormatBool(secure), func(t *testing.T) {
			e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
				c.Cookies.Secure = secure
				c.Cookies.Domain = "example.com"
			}})
			want := map[bool]string{true: "__Secure-portcullis_dev", false: "portcullis_dev"}[secure]
			if name := snapshotOf(e.g).cookies.deviceName; name != want {
				t.Fatalf("device cookie name %q, want %q", name, want)
			}
			c := deviceCookieOf(t, e, "alice", "alice-password")
			if c.Path != "/auth/login" || c.Domain != "" || !c.HttpOnly || c.Secure != secure ||
				c.SameSite != http.SameSiteStrictMode || c.MaxAge != int(deviceCookieTTL/time.Second) || len(c.Value) > maxDeviceCookie {
				t.Errorf("device cookie attributes: %q", c.Raw)
			}
			res := e.loginForm(&browser{}, "alice", "wrong", "/")
			wantStatus(t, "wrong password", res, http.StatusUnauthorized)
			if len(res.Cookies()) != 0 {
				t.Errorf("failed form login set cookies: %q", res.Header.Values("Set-Cookie"))
			}
			body := loginBody("alice", "alice-password")
			res = e.do("POST", "/auth/login", body, "Content-Type", "application/json")
			wantStatus(t, "JSON login", res, http.StatusOK)
			if len(res.Cookies()) != 0 {
				t.Errorf("JSON login set cookies: %q", res.Header.Values("Set-Cookie"))
			}
			b := &browser{}
			e.loginForm(b, "alice", "alice-password", "/")
			res = e.do("POST", "/auth/logout", "", "Cookie", e.cookieHeader(b))
			if res.cookie(c.Name) != nil {
				t.Errorf("logout touched the device cookie: %q", res.Header.Values("Set-Cookie"))
			}
		})
	}
}

// TestDeviceCookieLane: only a valid device cookie for the submitted
// username puts a login in admission's priority lane; every hostile or
// foreign cookie is the ordinary path, and either way the answer is the
// same (here 200: the password is right). Every slot is held while the
// login waits, so which lane it waits in is observed, not timed.
func TestDeviceCookieLane(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: noThrottle})
		snap := snapshotOf(e.g)
		name := snap.cookies.deviceName
		bob := deviceCookieOf(t, e, "bob", "bob-password").Value
		alice := deviceCookieOf(t, e, "alice", "alice-password").Value
		bobUser, _ := e.g.lookupUser("bob")
		now := e.clock.Now()
		exp, rest, _ := strings.Cut(bob, ".")
		nonce, mac, _ := strings.Cut(rest, ".")
		otherKey, err := tokens.New(config.Tokens{Issuer: "portcullis", Audience: "portcullis", AccessTTL: time.Minute,
			Keys: []config.Key{{ID: "k2", Alg: "HS256", Secret: config.Secret(strings.Repeat("o", 32))}}})
		if err != nil {
			t.Fatal(err)
		}
		flip := func(s string) string { // change the last character, keep the alphabet
			last := s[len(s)-1]
			return s[:len(s)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
		}
		cases := []struct {
			name    string
			cookie  string // the Cookie header
			trusted bool
		}{
			{"valid", name + "=" + bob, true},
			{"valid among other cookies", "a=1; " + name + "=" + bob + "; b=2", true},
			{"none", "", false},
			{"another user's", name + "=" + alice, false},
			{"forged mac", name + "=" + exp + "." + nonce + "." + flip(mac), false},
			{"forged expiry", name + "=" + strconv.FormatInt(now.Add(365*24*time.Hour).Unix(), 10) + "." + nonce + "." + mac, false},
			{"forged nonce", name + "=" + exp + "." + flip(nonce) + "." + mac, false},
			{"expired", name + "=" + newDeviceCookie(snap, "bob", bobUser.Fingerprint, now.Add(-deviceCookieTTL-time.Second)), false},
			{"another signing key", name + "=" + newDeviceCookie(&snapshot{keys: otherKey}, "bob", bobUser.Fingerprint, now), false},
			{"older password", name + "=" + newDeviceCookie(snap, "bob", "0123456789abcdef0123456789abcdef", now), false},
			{"duplicate", name + "=" + bob + "; " + name + "=" + bob, false},
			{"oversized", name + "=" + bob + strings.Repeat("A", maxDeviceCookie), false},
			{"garbled", name + "=not-a-device-cookie", false},
			{"too many parts", name + "=" + bob + ".x", false},
			{"signed expiry", name + "=+" + bob, false},
			{"padded mac", name + "=" + bob + "=", false},
			{"empty", name + "=", false},
			{"other name", "portcullis_device=" + bob, false},
		}
		adm := admissionOf(e.g)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := adm.acquire(context.Background(), adm.size); err != nil {
					t.Fatal(err)
				}
				hdr := []string{"Content-Type", "application/json"}
				if tc.cookie != "" {
					hdr = append(hdr, "Cookie", tc.cookie)
				}
				done := make(chan response)
				go func() { done <- e.do("POST", "/auth/login", loginBody("bob", "bob-password"), hdr...) }()
				for adm.waiting() != 1 {
					time.Sleep(time.Millisecond)
				}
				trusted := adm.waitingTrusted() == 1
				adm.release(adm.size)
				res := <-done
				if trusted != tc.trusted {
					t.Errorf("priority lane = %t, want %t", trusted, tc.trusted)
				}
				wantStatus(t, "login", res, http.StatusOK)
				if len(res.Cookies()) != 0 {
					t.Errorf("JSON login set cookies: %q", res.Header.Values("Set-Cookie"))
				}
			})
		}
		// An unknown user: a cookie "for" them never verifies (none was
		// ever issued), and the answer is the ordinary 401.
		if e.g.trustedDevice(cookieRequest(name, newDeviceCookie(snap, "nobody", "", now)), snap, "nobody") {
			t.Errorf("a device cookie for an unknown user is trusted")
		}
	})
}

func cookieRequest(name, value string) *http.Request {
	r, _ := http.NewRequest("POST", "/auth/login", nil)
	r.Header.Set("Cookie", name+"="+value)
	return r
}

// TestDeviceCookieThrottle: a valid device cookie skips the address
// counter (a returning user behind an address that is being flooded still
// gets in), but its failures count against the username like any other: a
// stolen cookie gives no more guesses than per_user, and once that budget is
// used even the cookie's holder gets 429. Without a per-user limit the
// cookie skips nothing.
func TestDeviceCookieThrottle(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 5, PerIP: 3, Window: 5 * time.Minute}
		}})
		name := snapshotOf(e.g).cookies.deviceName
		dev := []string{"Content-Type", "application/json", "Cookie", name + "=" + deviceCookieOf(t, e, "bob", "bob-password").Value}
		json := []string{"Content-Type", "application/json"}
		for i := range 3 { // the address's budget, spent on other names
			wantStatus(t, "spraying "+strconv.Itoa(i), e.do("POST", "/auth/login", loginBody("user"+strconv.Itoa(i), "wrong"), json...), 401)
		}
		wantStatus(t, "bob without a device cookie", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), json...), 429)
		wantStatus(t, "bob with his device cookie", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), dev...), 200)

		// Without the cookie the address is spent: nothing is verified.
		before := admissionOf(e.g).checks.Load()
		if got := countStatus(flood(t, e, 20, func(int) string { return loginBody("bob", "wrong") })); got[429] != 20 || admissionOf(e.g).checks.Load() != before {
			t.Fatalf("guesses without the cookie: %v, want 20×429 and no check", got)
		}
		// A stolen cookie: concurrent guesses verify at most per_user.
		answers := floodWith(t, e, 20, loginBody("bob", "wrong"), dev...)
		c := countStatus(answers)
		if c[401] > 5 || c[401]+c[429]+c[503] != 20 || admissionOf(e.g).checks.Load()-before != int64(c[401]) {
			t.Fatalf("guesses with a stolen device cookie: %v, %d checks; want at most 5×401 (per_user), one check each", c, admissionOf(e.g).checks.Load()-before)
		}
		for i := c[401]; i < 5; i++ {
			wantStatus(t, "guess", e.do("POST", "/auth/login", loginBody("bob", "wrong"), dev...), 401)
		}
		wantStatus(t, "right password with the cookie after per_user failures", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), dev...), 429)
	})
	// Without a per-user limit, the address's is the only bound: a device
	// cookie does not lift it.
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		c.Login.RateLimit = config.RateLimit{PerUser: 0, PerIP: 3, Window: 5 * time.Minute}
	}})
	dev := []string{"Content-Type", "application/json", "Cookie", snapshotOf(e.g).cookies.deviceName + "=" + deviceCookieOf(t, e, "bob", "bob-password").Value}
	for i := range 3 {
		wantStatus(t, "guess "+strconv.Itoa(i)+" with the cookie, per_user 0", e.do("POST", "/auth/login", loginBody("bob", "wrong"), dev...), 401)
	}
	wantStatus(t, "fourth guess with the cookie, per_user 0", e.do("POST", "/auth/login", loginBody("bob", "wrong"), dev...), 429)
}

// floodWith sends n simultaneous logins with body and the headers hdr.
func floodWith(t *testing.T, e *env, n int, body string, hdr ...string) []floodAnswer {
	t.Helper()
	out := make([]floodAnswer, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			res := e.do("POST", "/auth/login", body, hdr...)
			out[i] = floodAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return out
}
