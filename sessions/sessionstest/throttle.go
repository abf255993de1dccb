package sessionstest

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// attempt is a login attempt of user from ip against generous limits.
func attempt(user, ip string) sessions.LoginAttempt {
	return sessions.LoginAttempt{User: user, IP: ip, PerUser: 100, PerIP: 100, Window: time.Minute}
}

// reserve calls ReserveLogin and checks whether it held a place.
func (e *env) reserve(a sessions.LoginAttempt, wantHeld bool) sessions.Reservation {
	e.t.Helper()
	r, err := e.store.ReserveLogin(e.ctx, a)
	if err != nil {
		e.t.Fatalf("ReserveLogin(%.20q, %.20q) error = %v", a.User, a.IP, err)
	}
	if r.Held() != wantHeld || r.Refused == wantHeld {
		e.t.Fatalf("ReserveLogin(%.20q, %.20q) = held %t refused %t, want held %t", a.User, a.IP, r.Held(), r.Refused, wantHeld)
	}
	return r
}

func (e *env) release(r sessions.Reservation) {
	e.t.Helper()
	if err := e.store.ReleaseLogin(e.ctx, r); err != nil {
		e.t.Fatalf("ReleaseLogin() error = %v", err)
	}
}

// testThrottleWindow: a sliding window per counter; a full counter refuses
// with the time until its oldest attempt leaves; a release gives exactly
// one place back, once.
func testThrottleWindow(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	a := sessions.LoginAttempt{User: "alice", PerUser: 3, Window: time.Minute}
	e.reserve(a, true)
	e.clock.Advance(10 * time.Second)
	e.reserve(a, true)
	e.clock.Advance(10 * time.Second)
	r3 := e.reserve(a, true)
	if r := e.reserve(a, false); r.RetryAfter != 40*time.Second { // the first leaves at +60s
		t.Fatalf("RetryAfter = %v, want 40s", r.RetryAfter)
	}
	e.release(r3) // a success gives its place back
	r4 := e.reserve(a, true)
	e.reserve(a, false)
	e.clock.Advance(40 * time.Second) // the first is exactly one window old: out
	e.reserve(a, true)                // now +10s, +20s (r4) and +60s
	if r := e.reserve(a, false); r.RetryAfter != 10*time.Second {
		t.Fatalf("RetryAfter = %v, want 10s", r.RetryAfter)
	}
	e.release(r4)
	e.release(r4) // a repeated release gives back nothing more
	e.reserve(a, true)
	e.reserve(a, false)
	e.clock.Advance(time.Minute)
	e.reserve(a, true)
	other := sessions.LoginAttempt{User: "bob", PerUser: 1, Window: time.Minute}
	e.reserve(other, true)
	e.reserve(other, false)

	// Nothing to count: no place, no refusal.
	for _, off := range []sessions.LoginAttempt{
		{User: "alice", PerUser: 3},                           // no window
		{User: "alice", IP: "192.0.2.1", Window: time.Minute}, // no limits
		{User: "alice", PerIP: 1, Window: time.Minute},        // no address
	} {
		if r, err := e.store.ReserveLogin(e.ctx, off); err != nil || r.Held() || r.Refused {
			t.Fatalf("ReserveLogin(%+v) = %+v, %v, want nothing held", off, r, err)
		}
	}
	e.release(sessions.Reservation{}) // releasing nothing is fine
}

// testThrottleUserThenIP: an attempt needs room in both counters; one the
// address's counter refuses gives its place in the user's back.
func testThrottleUserThenIP(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	at := func(user, ip string) sessions.LoginAttempt {
		return sessions.LoginAttempt{User: user, IP: ip, PerUser: 2, PerIP: 3, Window: time.Minute}
	}
	first := e.reserve(at("alice", "192.0.2.1"), true)
	e.reserve(at("alice", "192.0.2.1"), true)
	e.reserve(at("alice", "192.0.2.1"), false) // the user's counter is full…
	e.reserve(at("bob", "192.0.2.1"), true)    // …and took no place in the address's
	e.reserve(at("carol", "192.0.2.1"), false) // the address's is full now
	e.reserve(at("carol", "198.51.100.1"), true)
	e.reserve(at("carol", "198.51.100.1"), true) // carol's refused attempt holds nothing
	e.reserve(at("carol", "198.51.100.1"), false)
	e.release(first) // back in both counters
	e.reserve(at("alice", "203.0.113.9"), true)
	e.reserve(at("dave", "192.0.2.1"), true)
	e.reserve(at("erin", "192.0.2.1"), false)
}

// testThrottleHostile: user names and addresses are client-controlled; odd
// ones get counters of their own, separate from each other and from the plain ones.
func testThrottleHostile(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	users := []string{"{alice}", strings.Repeat("a", 100000), "\x00\r\n", "ǎlice", "alice ", "", "login:ip:192.0.2.1"}
	for i, u := range users {
		a := sessions.LoginAttempt{User: u, PerUser: i + 1, Window: time.Minute}
		for range i + 1 {
			e.reserve(a, true)
		}
		e.reserve(a, false)
	}
	ips := []string{"fe80::1%eth0", "::ffff:192.0.2.1", "192.0.2.1 ", strings.Repeat("1", 5000), "{x}", "192.0.2.1"}
	for i, ip := range ips {
		a := sessions.LoginAttempt{User: "u" + strconv.Itoa(i), IP: ip, PerIP: i + 1, Window: time.Minute}
		for range i + 1 {
			e.reserve(a, true)
		}
		e.reserve(a, false)
	}
	e.reserve(sessions.LoginAttempt{User: "alice", PerUser: 1, Window: time.Minute}, true)
}

// testThrottleParallel: the budget holds under concurrency (SPEC §8): N
// simultaneous attempts against a limit of 5 hold exactly 5 places, and the
// refused ones hold none anywhere.
func testThrottleParallel(t *testing.T, newStore NewStoreFunc) {
	e := setup(t, newStore, nil)
	const n = 40
	run := func(a func(i int) sessions.LoginAttempt) (held []sessions.Reservation) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := e.store.ReserveLogin(e.ctx, a(i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("ReserveLogin() error = %v", err)
				} else if r.Held() {
					held = append(held, r)
				}
			})
		}
		close(start)
		wg.Wait()
		return held
	}
	// One user from n addresses.
	held := run(func(i int) sessions.LoginAttempt {
		return sessions.LoginAttempt{User: "alice", IP: "192.0.2." + strconv.Itoa(i), PerUser: 5, PerIP: 5, Window: time.Minute}
	})
	if len(held) != 5 {
		t.Fatalf("%d of %d parallel attempts held a place, want 5", len(held), n)
	}
	// n users from one address: the refused ones gave their users' places back.
	held2 := run(func(i int) sessions.LoginAttempt {
		return sessions.LoginAttempt{User: "u" + strconv.Itoa(i), IP: "198.51.100.1", PerUser: 1, PerIP: 7, Window: time.Minute}
	})
	if len(held2) != 7 {
		t.Fatalf("%d of %d parallel attempts from one address held a place, want 7", len(held2), n)
	}
	free := 0
	for i := range n {
		r, err := e.store.ReserveLogin(e.ctx, sessions.LoginAttempt{User: "u" + strconv.Itoa(i), PerUser: 1, Window: time.Minute})
		if err == nil && r.Held() {
			free++
		}
	}
	if free != n-7 {
		t.Fatalf("%d users had their place back, want %d", free, n-7)
	}
	// Parallel releases give every place back, once.
	var wg sync.WaitGroup
	for _, r := range append(held, held...) {
		wg.Go(func() { e.store.ReleaseLogin(e.ctx, r) })
	}
	wg.Wait()
	a := sessions.LoginAttempt{User: "alice", PerUser: 5, Window: time.Minute}
	for range 5 {
		e.reserve(a, true)
	}
	e.reserve(a, false)
}
