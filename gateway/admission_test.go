package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/users"
)

// TestPasswordAdmission: a free slot runs the check at once; beyond the
// slots, up to waitersPerSlot per slot wait (then 503 with Retry-After);
// beyond those, 503 at once without running the check. No timing: waiters
// leave by their context or by a release.
func TestPasswordAdmission(t *testing.T) {
	if got := []int{passwordSlotsFor(1), passwordSlotsFor(2), passwordSlotsFor(8)}; got[0] != 1 || got[1] != 1 || got[2] != 7 {
		t.Fatalf("slots for 1, 2, 8 procs = %v, want 1 1 7 (one core left for proxying)", got)
	}
	a := newPasswordAdmission(1)
	a.wait = time.Hour
	ran := 0
	if err := a.run(context.Background(), 1, false, func() { ran++ }); err != nil || ran != 1 {
		t.Fatalf("run with a free slot = %v, ran %d", err, ran)
	}
	if _, err := a.acquire(context.Background(), 1); err != nil { // the only slot
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, waitersPerSlot)
	for range waitersPerSlot {
		wg.Go(func() { errs <- a.run(ctx, 1, false, func() { t.Error("a waiter ran while the slot was held") }) })
	}
	for a.waiting() != waitersPerSlot {
		time.Sleep(time.Millisecond)
	}
	// The queue is full: the next is shed without waiting (a.wait is an hour).
	err := a.run(context.Background(), 1, false, func() { t.Error("a shed attempt ran") })
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
	a.release(1)
	if a.waiting() != 0 || a.inUse() != 0 || a.checks.Load() != 1 {
		t.Fatalf("after: %d waiting, %d slots taken, %d checks; want 0 0 1", a.waiting(), a.inUse(), a.checks.Load())
	}
	// A waiter gets the slot once it frees.
	if _, err := a.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.run(context.Background(), 1, false, func() { ran++ }) }()
	for a.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	a.release(1)
	if err := <-done; err != nil || ran != 2 {
		t.Fatalf("waiter after release = %v, ran %d", err, ran)
	}
}

// TestPasswordAdmissionLanes: a check keeps its hash's parallelism in cores
// busy, so it takes that many slots (at most all of them), and waiters are
// served in order: a wide check is not starved by narrow ones behind it.
func TestPasswordAdmissionLanes(t *testing.T) {
	a := newPasswordAdmission(3)
	a.wait = time.Hour
	if _, err := a.acquire(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	wide := make(chan error)
	go func() {
		wide <- a.run(context.Background(), 8, false, func() { // p=8 takes all 3 slots
			if a.inUse() != 3 {
				t.Errorf("a p=8 check runs with %d slots taken, want 3", a.inUse())
			}
		})
	}()
	for a.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	narrow := make(chan error)
	go func() { narrow <- a.run(context.Background(), 1, false, func() {}) }()
	for a.waiting() != 2 {
		time.Sleep(time.Millisecond) // one slot is free, but the wide check is first in line
	}
	a.release(2)
	if err := <-wide; err != nil {
		t.Fatal(err)
	}
	if err := <-narrow; err != nil {
		t.Fatal(err)
	}
	if a.peak.Load() != 3 || a.inUse() != 0 || a.checks.Load() != 2 {
		t.Fatalf("peak %d, in use %d, checks %d; want 3 0 2", a.peak.Load(), a.inUse(), a.checks.Load())
	}
}

// floodAnswer is one answer of a concurrent login.
type floodAnswer struct {
	status     int
	retryAfter string
	code       string
}

// flood sends n simultaneous JSON logins with body(i) and returns the answers.
func flood(t *testing.T, e *env, n int, body func(i int) string) []floodAnswer {
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
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
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
		if checks := admissionOf(e.g).checks.Load(); checks != 5 {
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
		e := newEnv(t, envOptions{store: sk, edit: func(c *config.Config) {
			c.Login.RateLimit = config.RateLimit{PerUser: 5, PerIP: 1000, Window: 5 * time.Minute}
		}})
		adm := admissionOf(e.g)

		// Every slot busy (a long check elsewhere): the whole flood is shed,
		// nothing is verified, and nothing stays counted.
		if _, err := adm.acquire(context.Background(), adm.size); err != nil {
			t.Fatal(err)
		}
		const n = 40
		answers := flood(t, e, n, func(int) string { return loginBody("bob", "wrong") })
		adm.release(adm.size)
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
		if peak := adm.peak.Load(); peak < 1 || peak > int64(adm.size) {
			t.Fatalf("peak slots in use = %d, want 1..%d", peak, adm.size)
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

// TestLoginCheckLanes: a login's check takes as many slots as its hash has
// lanes (a p=2 hash keeps two cores busy), so the bound counts cores.
func TestLoginCheckLanes(t *testing.T) {
	p2, err := users.HashArgon2id("bob-password", 64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users.yaml")
	writeUsersFile(t, path, func(name string, u *userEntry) bool {
		if name == "bob" {
			u.hash = p2
		}
		return true
	})
	us, err := users.NewStore(path, config.Argon2Limit{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{store: memoryStore, users: us, usersAt: path})
	adm := admissionOf(e.g)
	adm.resize(3)
	wantStatus(t, "p=1 user", e.do("POST", "/auth/login", loginBody("alice", "alice-password"), "Content-Type", "application/json"), 200)
	if p := adm.peak.Load(); p != 1 {
		t.Fatalf("a p=1 check took %d slots, want 1", p)
	}
	wantStatus(t, "p=2 user", e.do("POST", "/auth/login", loginBody("bob", "wrong"), "Content-Type", "application/json"), 401)
	if p := adm.peak.Load(); p != 2 {
		t.Fatalf("a p=2 check took %d slots, want 2", p)
	}
}

// TestPasswordAdmissionPriorityLane: the priority lane (valid device
// cookies) is served before the ordinary one, at most trustedRun in a row
// while ordinary waiters wait; it holds trustedPerSlot per slot, and a trusted
// attempt beyond that waits in the ordinary lane (and is shed with it).
func TestPasswordAdmissionPriorityLane(t *testing.T) {
	a := newPasswordAdmission(1)
	a.wait = time.Hour
	if _, err := a.acquire(context.Background(), 1); err != nil { // the only slot
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	// enqueue starts a waiter named name and returns once it waits; its
	// check records the name and runs then (the slot is held meanwhile).
	enqueue := func(name string, trusted bool, then func()) {
		before := a.waiting()
		wg.Go(func() {
			err := a.run(context.Background(), 1, trusted, func() {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				if then != nil {
					then()
				}
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
		for a.waiting() != before+1 {
			time.Sleep(time.Millisecond)
		}
	}
	enqueue("o1", false, nil)
	enqueue("o2", false, nil)
	// t1 and t2 fill the priority lane; while each runs, another trusted
	// attempt arrives, so the lane never runs dry: after trustedRun in a
	// row, o1 goes first.
	enqueue("t1", true, func() { enqueue("t3", true, nil) })
	enqueue("t2", true, func() { enqueue("t4", true, nil) })
	if got := a.waitingTrusted(); got != trustedPerSlot {
		t.Fatalf("%d in the priority lane, want %d", got, trustedPerSlot)
	}
	// The lane is full: the next trusted attempt waits in the ordinary lane.
	enqueue("t-overflow", true, nil)
	if a.waitingTrusted() != trustedPerSlot || a.waiting() != 5 {
		t.Fatalf("priority %d, all %d; want %d and 5", a.waitingTrusted(), a.waiting(), trustedPerSlot)
	}
	a.release(1)
	wg.Wait()
	want := []string{"t1", "t2", "t3", "o1", "t4", "o2", "t-overflow"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("served %v, want %v", order, want)
	}

	// Both lanes full: a trusted attempt is shed at once, like an ordinary one.
	if _, err := a.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for i := range waitersPerSlot + trustedPerSlot {
		trusted := i < trustedPerSlot
		wg.Go(func() { a.run(ctx, 1, trusted, func() { t.Error("a waiter ran while the slot was held") }) })
	}
	for a.waiting() != waitersPerSlot+trustedPerSlot {
		time.Sleep(time.Millisecond)
	}
	if err := a.run(context.Background(), 1, true, func() { t.Error("a shed attempt ran") }); !errors.Is(err, errPasswordBusy) {
		t.Fatalf("trusted attempt with both lanes full = %v, want errPasswordBusy at once", err)
	}
	cancel()
	wg.Wait()
	a.release(1)
	if a.waiting() != 0 || a.inUse() != 0 {
		t.Fatalf("after: %d waiting, %d slots taken", a.waiting(), a.inUse())
	}
}
