package gateway

import (
	"context"
	"net/http"
	goruntime "runtime"
	"sync/atomic"
	"time"
)

// errPasswordBusy: no password-check slot came free in time, or too many
// logins already wait for one. A 503 with Retry-After, so clients back off
// instead of piling on.
var errPasswordBusy = (&apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
	description: "the server is busy, retry later"}).withRetryAfter(1)

// passwordWait is how long a login waits for a password-check slot.
const passwordWait = time.Second

// waitersPerSlot bounds the logins waiting for a slot: 8 per slot. With the
// default hash (about 30 ms of one core here, README "Authentication cost")
// 8 waiters per slot drain in about 0.25 s, well inside passwordWait, so a
// login that gets in line is rarely timed out; beyond that a flood is shed at
// once instead of holding connections for a second.
const waitersPerSlot = 8

// passwordAdmission bounds concurrent password verifications (SPEC §8). An
// argon2id check is memory-hard and takes a whole core for tens of
// milliseconds: unbounded, a flood of wrong passwords takes every core and
// starves proxying (issue: 50 bad logins/s cut authenticated throughput 36×).
type passwordAdmission struct {
	slots      chan struct{} // one token per running check
	waiting    atomic.Int64  // logins waiting for a slot
	maxWaiting int64
	wait       time.Duration

	running, peak, checks atomic.Int64 // checks in flight, their most, and all so far
}

// passwordSlotsFor returns the concurrent checks allowed with procs
// GOMAXPROCS: one core is always left for proxying (max(1, procs-1), within
// SPEC §8's "at most GOMAXPROCS"); with a single core, one check at a time.
func passwordSlotsFor(procs int) int { return max(1, procs-1) }

func newPasswordAdmission(slots int) *passwordAdmission {
	return &passwordAdmission{
		slots:      make(chan struct{}, slots),
		maxWaiting: int64(slots * waitersPerSlot),
		wait:       passwordWait,
	}
}

func newDefaultPasswordAdmission() *passwordAdmission {
	return newPasswordAdmission(passwordSlotsFor(goruntime.GOMAXPROCS(0)))
}

// run runs check in a slot: at once when one is free, after waiting up to
// a.wait when fewer than maxWaiting already wait, else errPasswordBusy
// without waiting (and without running check).
func (a *passwordAdmission) run(ctx context.Context, check func()) error {
	if err := a.acquire(ctx); err != nil {
		return err
	}
	defer a.release()
	a.checks.Add(1)
	n := a.running.Add(1)
	for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
	}
	defer a.running.Add(-1)
	check()
	return nil
}

// acquire takes a slot (see run); release must follow a nil return.
func (a *passwordAdmission) acquire(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		return nil
	default:
	}
	// Shed at once beyond the queue bound: waiting would only hold the
	// connection, and nobody behind a full queue gets a slot within a.wait.
	if a.waiting.Add(1) > a.maxWaiting {
		a.waiting.Add(-1)
		return errPasswordBusy
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errPasswordBusy
	case <-ctx.Done():
		return errPasswordBusy
	}
}

func (a *passwordAdmission) release() { <-a.slots }
