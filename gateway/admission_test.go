package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// TestPasswordAdmission: a free slot runs the check at once; beyond the
// slots, up to waitersPerSlot per slot wait (then 503 with Retry-After);
// beyond those, 503 at once without running the check.
func TestPasswordAdmission(t *testing.T) {
	if got := []int{passwordSlotsFor(1), passwordSlotsFor(2), passwordSlotsFor(8)}; got[0] != 1 || got[1] != 1 || got[2] != 7 {
		t.Fatalf("slots for 1, 2, 8 procs = %v, want 1 1 7 (one core left for proxying)", got)
	}
	a := newPasswordAdmission(1)
	a.wait = time.Hour // waiters leave by their context only: no timing in this test
	ran := 0
	if err := a.run(context.Background(), func() { ran++ }); err != nil || ran != 1 {
		t.Fatalf("run with a free slot = %v, ran %d", err, ran)
	}
	if err := a.acquire(context.Background()); err != nil { // the only slot
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, waitersPerSlot)
	for range waitersPerSlot {
		wg.Go(func() { errs <- a.run(ctx, func() { t.Error("a waiter ran while the slot was held") }) })
	}
	for a.waiting.Load() != waitersPerSlot {
		time.Sleep(time.Millisecond)
	}
	// The queue is full: the next is shed without waiting (a.wait is an hour).
	err := a.run(context.Background(), func() { t.Error("a shed attempt ran") })
	if ae := publicError(err); !errors.Is(err, errPasswordBusy) || ae.status != http.StatusServiceUnavailable || ae.retryAfter < 1 {
		t.Fatalf("run beyond the queue = %v, want 503 with Retry-After", err)
	}
	cancel() // the waiters give up: busy too
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, errPasswordBusy) {
			t.Errorf("waiter = %v, want errPasswordBusy", err)
		}
	}
	a.release()
	if a.waiting.Load() != 0 || len(a.slots) != 0 || a.checks.Load() != 1 {
		t.Fatalf("after: %d waiting, %d slots taken, %d checks; want 0 0 1", a.waiting.Load(), len(a.slots), a.checks.Load())
	}
	// A waiter gets the slot once it frees.
	if err := a.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.run(context.Background(), func() { ran++ }) }()
	for a.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	a.release()
	if err := <-done; err != nil || ran != 2 {
		t.Fatalf("waiter after release = %v, ran %d", err, ran)
	}
}

// floodAnswer is one answer of a concurrent login.
type floodAnswer struct {
	status     int
	retryAfter string
	code       string
}

// flood sends n simultaneous JSON logins with body(i) and returns the answers.
func flood(t *testing.T, e *authEnv, n int, body func(i int) string) []floodAnswer {
	t.Helper()
	out := make([]floodAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := http.Post(e.srv.URL+"/auth/login", "application/json", strings.NewReader(body(i)))
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			defer res.Body.Close()
			var b struct {
				Error string `json:"error"`
			}
			json.NewDecoder(res.Body).Decode(&b)
			out[i] = floodAnswer{res.StatusCode, res.Header.Get("Retry-After"), b.Error}
		})
	}
	close(start)
	wg.Wait()
	return out
}

func countStatus(as []floodAnswer) map[int]int {
	m := map[int]int{}
	for _, a := range as {
		m[a.status]++
	}
	return m
}

// TestLoginThrottleConcurrent: the throttle holds under concurrency (SPEC
// §8, issue 7): n simultaneous wrong passwords against per_user 5 verify at
// most 5, on both stores, and the right password afterwards gets 429. Old
// code read the count, verified, then recorded: all n were verified.
func TestLoginThrottleConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newAuthEnv(t, sk, aeOptions{edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 5, PerIP: 0, Window: 5 * time.Minute}
		}})
		const n = 30
		got := countStatus(flood(t, e, n, func(int) string { return loginBody("bob", "wrong") }))
		// 503s (shed by admission on a loaded machine) gave their place back;
		// wrong passwords after the flood fill the budget to exactly 5.
		if got[401] > 5 || got[401]+got[429]+got[503] != n {
			t.Fatalf("answers %v: want at most 5×401, the rest 429 (or 503)", got)
		}
		failures := got[401]
		for failures < 6 {
			res := e.do("POST", "/auth/login", loginBody("bob", "wrong"), "Content-Type", "application/json")
			if res.StatusCode == 429 {
				break
			}
			wantStatus(t, "wrong password after the flood", res, 401)
			failures++
		}
		if failures != 5 {
			t.Fatalf("%d wrong passwords verified in all, want exactly per_user = 5", failures)
		}
		if checks := e.g.auth.admission.checks.Load(); checks != 5 {
			t.Fatalf("%d password verifications, want 5", checks)
		}
		wantStatus(t, "right password after the budget", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), "Content-Type", "application/json"), 429)
	})
}

// TestLoginFloodAdmission: a flood of wrong-password logins never runs more
// checks at once than the admission bound; the excess gets 503 with
// Retry-After and does not count in the throttle (issue 8 D, SPEC §8).
func TestLoginFloodAdmission(t *testing.T) {
	forEachStore(t, func(t *testing.T, sk storeKind) {
		e := newAuthEnv(t, sk, aeOptions{edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 5, PerIP: 1000, Window: 5 * time.Minute}
		}})
		adm := e.g.auth.admission

		// Every slot busy (a long check elsewhere): the whole flood is shed,
		// nothing is verified, and nothing stays counted.
		for range cap(adm.slots) {
			if err := adm.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		const n = 40
		answers := flood(t, e, n, func(int) string { return loginBody("bob", "wrong") })
		for range cap(adm.slots) {
			adm.release()
		}
		for i, a := range answers {
			if (a.status != 503 || a.code != "temporarily_unavailable" || a.retryAfter == "") && a.status != 429 {
				t.Fatalf("flood answer %d = %+v, want 503 temporarily_unavailable with Retry-After (or 429)", i, a)
			}
		}
		if got := countStatus(answers); got[503] < 5 || adm.checks.Load() != 0 {
			t.Fatalf("answers %v, %d checks; want at least 5×503 and none verified", got, adm.checks.Load())
		}
		for i := range 5 { // the shed attempts gave their places back
			wantStatus(t, "wrong password "+strconv.Itoa(i+1)+" after the shed flood", e.do("POST", "/auth/login", loginBody("bob", "wrong"), "Content-Type", "application/json"), 401)
		}
		wantStatus(t, "sixth", e.do("POST", "/auth/login", loginBody("bob", "bob-password"), "Content-Type", "application/json"), 429)

		// A flood for many users: at most the bound verify at
		// once, each answer is 401 or 503 with Retry-After, and every 401 was
		// one verification.
		before := adm.checks.Load()
		answers = flood(t, e, n, func(i int) string { return loginBody("nobody"+strconv.Itoa(i), "wrong") })
		got := countStatus(answers)
		if peak := adm.peak.Load(); peak < 1 || peak > int64(cap(adm.slots)) {
			t.Fatalf("peak concurrent checks = %d, want 1..%d", peak, cap(adm.slots))
		}
		if got[401]+got[503] != n || int64(got[401]) != adm.checks.Load()-before {
			t.Fatalf("answers %v, %d checks: want 401 or 503 only, one check per 401", got, adm.checks.Load()-before)
		}
		for _, a := range answers {
			if a.status == 503 && a.retryAfter == "" {
				t.Fatalf("503 without Retry-After")
			}
		}
	})
}
