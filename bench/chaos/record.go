package main

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// rec is one request the harness sent and what it got back.
type rec struct {
	id        uint64
	kind      string // login, proxy, probe, refresh, replay, logout, logout-all, admin, ws, flood, bench
	user, sid string
	sent, got time.Time
	status    int // 0: no answer (transport error or client timeout)
}

// event is one injected fault. Sessions last written before start may be
// lost by it when lossWindow is negative (everything) or when they were
// written less than lossWindow before start (asynchronous replication).
type event struct {
	name       string
	start, end time.Time // end: resume, restart or promotion
	lossWindow time.Duration
	failover   bool            // end is a promotion: the recovery after it is checked
	users      map[string]bool // users whose keys the fault hit (nil: all)
}

// ledger collects everything the checks need; safe for concurrent use.
type ledger struct {
	mu       sync.Mutex
	recs     []rec
	revoked  map[string]time.Time // session id → when its revocation was acknowledged
	events   []event
	viol     map[string][]string
	lost     int // sessions that vanished with no answer explaining them
	nExcused int // ... explained by a data-losing fault (kill without persistence, failover lag)
	evicted  int // sessions gone through max_per_user, as expected
	notes    []string
	nextID   atomic.Uint64
	wsClosed []time.Duration // revocation → WebSocket closed
	t0       time.Time       // scenario start, for the times in messages
}

func newLedger() *ledger {
	return &ledger{revoked: map[string]time.Time{}, viol: map[string][]string{}, t0: time.Now()}
}

func (l *ledger) add(r rec) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

// violation records one broken invariant (details kept for the first few).
func (l *ledger) violation(kind, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.viol[kind] = append(l.viol[kind], fmt.Sprintf("t+%.1fs ", time.Since(l.t0).Seconds())+fmt.Sprintf(format, args...))
}

func (l *ledger) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, fmt.Sprintf("t+%.1fs ", time.Since(l.t0).Seconds())+fmt.Sprintf(format, args...))
}

// revoke records that the revocation of sid was acknowledged at t.
func (l *ledger) revoke(sid string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.revoked[sid]; !ok || t.Before(old) {
		l.revoked[sid] = t
	}
}

// begin records that a fault starts now (so checks running during it see
// it); the returned function records its end (resume, restart, promotion).
func (l *ledger) begin(e event) (end func()) {
	l.mu.Lock()
	e.start = time.Now()
	l.events = append(l.events, e)
	i := len(l.events) - 1
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.events[i].end = time.Now()
		l.mu.Unlock()
	}
}

// excused reports whether a session last written at lastWrite and found
// gone at at was lost to a data-losing fault in between.
func (l *ledger) excused(user string, lastWrite, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.lossWindow == 0 || !e.start.After(lastWrite) || e.start.After(at) {
			continue
		}
		if e.users != nil && !e.users[user] {
			continue
		}
		if e.lossWindow < 0 || e.start.Sub(lastWrite) <= e.lossWindow {
			return true
		}
	}
	return false
}

// faultActive reports whether a fault overlapped [from, to] (plus settle).
func (l *ledger) faultActive(from, to time.Time, settle time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if !e.start.After(to) && (e.end.IsZero() || !e.end.Add(settle).Before(from)) {
			return true
		}
	}
	return false
}

// checkResponse applies the per-response invariant: a 503 carries Retry-After.
func (l *ledger) checkResponse(kind string, resp *http.Response) {
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		l.violation("503-without-retry-after", "%s %s", kind, resp.Request.URL.Path)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		l.violation("unexpected-5xx", "%s %s → %d", kind, resp.Request.URL.Path, resp.StatusCode)
	}
}

// window is the 503 figure of one event: from its start to the last 503
// answered to a harness client (flood and bench traffic excluded) before the
// next event; recovery is that last 503 minus the event's end, counting only
// requests sent after the end (one sent before may wait out its timeout).
type window struct {
	ev        event
	total     time.Duration
	recovery  time.Duration
	recovered bool
}

func (l *ledger) windows(stop time.Time) []window {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := append([]event(nil), l.events...)
	sort.Slice(evs, func(i, j int) bool { return evs[i].start.Before(evs[j].start) })
	var out []window
	for i, e := range evs {
		limit := stop
		if i+1 < len(evs) {
			limit = evs[i+1].start
		}
		w := window{ev: e, recovered: true}
		var last, lastAfter time.Time
		for _, r := range l.recs {
			if r.kind == "flood" || r.kind == "bench" || r.got.Before(e.start) || !r.got.Before(limit) {
				continue
			}
			if r.status != http.StatusServiceUnavailable && r.status != 0 {
				continue
			}
			if r.got.After(last) {
				last = r.got
			}
			if !r.sent.Before(e.end) && r.got.After(lastAfter) {
				lastAfter = r.got
			}
		}
		if !last.IsZero() {
			w.total = last.Sub(e.start)
		}
		if !lastAfter.IsZero() {
			w.recovery = lastAfter.Sub(e.end)
			// Still failing when the next event (or the end) came: not recovered.
			w.recovered = lastAfter.Before(limit.Add(-time.Second))
		}
		out = append(out, w)
	}
	return out
}
