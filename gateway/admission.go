package gateway

import (
	"context"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// passwordWait is how long a login waits for a password-check slot.
const passwordWait = time.Second

// waitersPerSlot bounds the logins waiting for a slot: 8 per slot. With the
// default hash (about 30 ms of one core here, docs/authentication.md, "Authentication cost")
// 8 waiters per slot drain in about 0.25 s, well inside passwordWait, so a
// login that gets in line is rarely timed out; beyond that a flood is shed at
// once instead of holding connections for a second.
const waitersPerSlot = 8

// trustedPerSlot bounds the logins waiting in the priority lane: 2 per slot.
// Only attempts presenting a valid device cookie for their username get there
// (login_device.go), so the lane holds returning users, not a flood; beyond
// it, an attempt waits in the ordinary lane like any other.
const trustedPerSlot = 2

// trustedRun is how many priority-lane waiters are served in a row while
// ordinary ones wait: the ordinary lane keeps at least a quarter of the
// checks even if someone floods with stolen device cookies (they are also
// throttled per user, SPEC §8).
const trustedRun = 3

// passwordAdmission bounds the cores password verifications use at once
// (SPEC §8). An argon2id check is memory-hard and keeps p cores busy (its
// parallelism) for tens of milliseconds: unbounded, a flood of wrong
// passwords takes every core and starves proxying (issue: 50 bad logins/s
// cut authenticated throughput 36×). A check takes min(p, size) slots, so
// the bound holds for hashes with p > 1 too.
//
// Waiters queue in two lanes, each served in order: the priority lane
// (attempts with a valid device cookie for their username: clients that
// logged in as that user before) goes first, up to trustedRun in a row while
// the ordinary lane waits. A wrong-password flood from new clients therefore
// fills only the ordinary lane, and a returning user waits for one check at
// most per priority waiter ahead of it, not behind the flood.
type passwordAdmission struct {
	wait time.Duration

	mu         sync.Mutex
	size       int // slots: cores checks may use at once
	maxWaiting int // ordinary lane
	maxTrusted int // priority lane
	free       int
	queue      []*admWaiter // ordinary lane, FIFO
	trusted    []*admWaiter // priority lane, FIFO
	streak     int          // priority waiters served in a row while ordinary ones waited

	running, peak, checks atomic.Int64 // slots in use by checks, their most, and checks so far
}

type admWaiter struct {
	n     int
	ready chan struct{} // closed when its slots are granted
}

// passwordSlotsFor returns the slots with procs GOMAXPROCS: one core is
// always left for proxying (max(1, procs-1), within SPEC §8's "at most
// GOMAXPROCS"); with a single core, one check at a time.
func passwordSlotsFor(procs int) int { return max(1, procs-1) }

func newPasswordAdmission(slots int) *passwordAdmission {
	a := &passwordAdmission{wait: passwordWait}
	a.setSize(slots)
	return a
}

func (a *passwordAdmission) setSize(slots int) {
	a.size, a.free, a.maxWaiting, a.maxTrusted = slots, slots, slots*waitersPerSlot, slots*trustedPerSlot
}

func newDefaultPasswordAdmission() *passwordAdmission {
	return newPasswordAdmission(passwordSlotsFor(goruntime.GOMAXPROCS(0)))
}

// run runs check, which keeps lanes cores busy, once its slots are free: at
// once, or after waiting up to a.wait when its lane has room, else
// errPasswordBusy without waiting (and without running check). trusted puts
// it in the priority lane (a valid device cookie), or in the ordinary lane
// when that is full.
func (a *passwordAdmission) run(ctx context.Context, lanes int, trusted bool, check func()) error {
	n, err := a.acquireIn(ctx, lanes, trusted)
	if err != nil {
		return err
	}
	defer a.release(n)
	a.checks.Add(1)
	cur := a.running.Add(int64(n))
	for p := a.peak.Load(); cur > p && !a.peak.CompareAndSwap(p, cur); p = a.peak.Load() {
	}
	defer a.running.Add(-int64(n))
	check()
	return nil
}

// acquire takes the slots of a check with lanes lanes in the ordinary
// lane; see acquireIn.
func (a *passwordAdmission) acquire(ctx context.Context, lanes int) (n int, err error) {
	return a.acquireIn(ctx, lanes, false)
}

// acquireIn takes the slots of a check with lanes lanes, n = min(lanes,
// a.size) (at least 1), waiting in the priority lane when trusted;
// release(n) must follow a nil error.
func (a *passwordAdmission) acquireIn(ctx context.Context, lanes int, trusted bool) (n int, err error) {
	a.mu.Lock()
	n = min(max(lanes, 1), a.size)
	// Nobody ahead of it: at once. A trusted attempt only needs its own
	// lane empty; the ordinary lane's head may be a wide check waiting
	// for more slots than are free.
	ahead := len(a.trusted) + len(a.queue)
	if trusted {
		ahead = len(a.trusted)
	}
	if ahead == 0 && a.free >= n {
		a.free -= n
		a.mu.Unlock()
		return n, nil
	}
	w := &admWaiter{n: n, ready: make(chan struct{})}
	switch {
	case trusted && len(a.trusted) < a.maxTrusted:
		a.trusted = append(a.trusted, w)
	case len(a.queue) < a.maxWaiting:
		a.queue = append(a.queue, w)
	default:
		// Shed at once beyond the queue bound: waiting would only hold
		// the connection, and nobody behind a full queue gets a slot
		// within a.wait.
		a.mu.Unlock()
		return 0, errPasswordBusy
	}
	a.mu.Unlock()

	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return n, nil
	case <-t.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: hand the slots on
		a.free += n
	default:
		a.trusted = without(a.trusted, w)
		a.queue = without(a.queue, w)
	}
	a.grant()
	return 0, errPasswordBusy
}

// without removes w from q (if there).
func without(q []*admWaiter, w *admWaiter) []*admWaiter {
	for i, x := range q {
		if x == w {
			return append(q[:i], q[i+1:]...)
		}
	}
	return q
}

// release gives n slots back and wakes the waiters they suffice for.
func (a *passwordAdmission) release(n int) {
	a.mu.Lock()
	a.free += n
	a.grant()
	a.mu.Unlock()
}

// grant hands free slots to waiters in order: the priority lane's head
// first, unless it has been served trustedRun times in a row while the
// ordinary lane waited. A head that needs more slots than are free waits
// for them (nobody overtakes it). a.mu is held.
func (a *passwordAdmission) grant() {
	for {
		lane := &a.queue
		if len(a.trusted) > 0 && (len(a.queue) == 0 || a.streak < trustedRun) {
			lane = &a.trusted
		}
		q := *lane
		if len(q) == 0 || a.free < q[0].n {
			return
		}
		switch {
		case lane == &a.queue:
			a.streak = 0
		case len(a.queue) > 0:
			a.streak++
		}
		w := q[0]
		a.free -= w.n
		close(w.ready)
		q[0] = nil
		*lane = q[1:]
	}
}

// waiting is the number of logins waiting for slots, in both lanes.
func (a *passwordAdmission) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue) + len(a.trusted)
}

// waitingTrusted is the number of logins waiting in the priority lane.
func (a *passwordAdmission) waitingTrusted() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.trusted)
}

// resize sets the number of slots; only while none is taken (tests).
func (a *passwordAdmission) resize(slots int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setSize(slots)
}

// inUse is the number of slots taken.
func (a *passwordAdmission) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size - a.free
}
