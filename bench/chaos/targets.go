package main

import (
	"sync"
	"time"
)

// targets are two extra clients aimed at every freeze and stall, so each
// one certainly has a refresh and a login in flight (the random clients may
// or may not). Prepared while the store is healthy, fired once the fault has
// begun, and their retries after it end are what the checks look at:
//   - the refresh client retries with the token it holds; a rotation that ran
//     late must not turn that into invalid_grant;
//   - the login client holds max_per_user sessions, so its login evicts exactly
//     one of them; a copy that ran late or twice evicts more.
type targets struct {
	refresh, login *worker
	wg             sync.WaitGroup
}

var targetUsers = []string{"target-refresh", "target-login"}

func newTargets(e *env) *targets {
	return &targets{refresh: &worker{e: e, user: targetUsers[0]}, login: &worker{e: e, user: targetUsers[1]}}
}

// arm prepares both clients (one session to refresh; max_per_user sessions)
// and returns the function that fires their requests.
func (t *targets) arm() (fire func()) {
	if len(t.refresh.held) == 0 {
		t.refresh.login()
	}
	for i := 0; len(t.login.held) < t.login.e.o.maxPerUser && i < 2*t.login.e.o.maxPerUser; i++ {
		t.login.login()
	}
	return func() {
		t.wg.Add(2)
		go func() {
			defer t.wg.Done()
			if len(t.refresh.held) > 0 {
				t.refresh.refresh(t.refresh.held[0])
			}
		}()
		go func() { defer t.wg.Done(); t.login.login() }()
	}
}

// wait lets the fired requests finish their retries.
func (t *targets) wait() { t.wg.Wait() }

// sweep checks the targets' sessions at the end, like the other clients.
func (t *targets) sweep() {
	t.refresh.sweep()
	t.login.sweep()
}

// firedAfter runs fire once delay has passed (a DEBUG SLEEP blocks the
// caller, so the requests are sent from another goroutine).
func firedAfter(fire func(), delay time.Duration) {
	go func() {
		time.Sleep(delay)
		fire()
	}()
}
