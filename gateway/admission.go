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

// passwordAdmission bounds the cores password verifications use at once
// (SPEC §8). An argon2id check is memory-hard and keeps p cores busy (its
// parallelism) for tens of milliseconds: unbounded, a flood of wrong
// passwords takes every core and starves proxying (issue: 50 bad logins/s
// cut authenticated throughput 36×). A check takes min(p, size) slots, so
// the bound holds for hashes with p > 1 too. Waiters are served in order.
type passwordAdmission struct {
	wait time.Duration

	mu         sync.Mutex
	size       int // slots: cores checks may use at once
	maxWaiting int
	free       int
	queue      []*admWaiter // FIFO

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
	return &passwordAdmission{size: slots, free: slots, maxWaiting: slots * waitersPerSlot, wait: passwordWait}
}

func newDefaultPasswordAdmission() *passwordAdmission {
	return newPasswordAdmission(passwordSlotsFor(goruntime.GOMAXPROCS(0)))
}

// run runs check, which keeps lanes cores busy, once its slots are free: at
// once, or after waiting up to a.wait when fewer than maxWaiting already
// wait, else errPasswordBusy without waiting (and without running check).
func (a *passwordAdmission) run(ctx context.Context, lanes int, check func()) error {
	n, err := a.acquire(ctx, lanes)
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

// acquire takes the slots of a check with lanes lanes, n = min(lanes,
// a.size) (at least 1); release(n) must follow a nil error.
func (a *passwordAdmission) acquire(ctx context.Context, lanes int) (n int, err error) {
	a.mu.Lock()
	n = min(max(lanes, 1), a.size)
	if len(a.queue) == 0 && a.free >= n {
		a.free -= n
		a.mu.Unlock()
		return n, nil
	}
	// Shed at once beyond the queue bound: waiting would only hold the
	// connection, and nobody behind a full queue gets a slot within a.wait.
	if len(a.queue) >= a.maxWaiting {
		a.mu.Unlock()
		return 0, errPasswordBusy
	}
	w := &admWaiter{n: n, ready: make(chan struct{})}
	a.queue = append(a.queue, w)
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
		for i, q := range a.queue {
			if q == w {
				a.queue = append(a.queue[:i], a.queue[i+1:]...)
				break
			}
		}
	}
	a.grant()
	return 0, errPasswordBusy
}

// release gives n slots back and wakes the waiters they suffice for.
func (a *passwordAdmission) release(n int) {
	a.mu.Lock()
	a.free += n
	a.grant()
	a.mu.Unlock()
}

// grant hands free slots to waiters in order; a.mu is held.
func (a *passwordAdmission) grant() {
	for len(a.queue) > 0 && a.free >= a.queue[0].n {
		w := a.queue[0]
		a.free -= w.n
		close(w.ready)
		a.queue[0] = nil
		a.queue = a.queue[1:]
	}
}

// waiting is the number of logins waiting for slots.
func (a *passwordAdmission) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// resize sets the number of slots; only while none is taken (tests).
func (a *passwordAdmission) resize(slots int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.size, a.free, a.maxWaiting = slots, slots, slots*waitersPerSlot
}

// inUse is the number of slots taken.
func (a *passwordAdmission) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size - a.free
}
