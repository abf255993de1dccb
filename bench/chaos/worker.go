package main

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// sess is a session as its client knows it.
type sess struct {
	id, access, refresh string
	lastWrite           time.Time // last login or rotation the client saw succeed
	pinned              bool      // waiting for a post-grace replay: not refreshed meanwhile
}

// replay is a previous refresh token kept for a post-grace replay.
type replay struct {
	s     *sess
	token string
	due   time.Time
}

// worker is one user's client. A user's requests are sequential, so the
// worker knows exactly which sessions it holds and which answers it saw;
// any session that vanishes otherwise was lost.
type worker struct {
	e       *env
	user    string
	held    []*sess
	replays []replay
	probes  []probe
	budget  int // evictions the client has been told of but not yet seen
}

// probe is a request with a revoked session's access token, sent once the
// revocation is at least the cache bound old.
type probe struct {
	sid, access string
	due         time.Time
}

func (w *worker) run() {
	for w.e.traffic.Err() == nil {
		w.step()
		time.Sleep(time.Duration(20+rand.IntN(40)) * time.Millisecond)
	}
	w.sweep()
}

// step performs one action, due probes and replays first.
func (w *worker) step() {
	now := time.Now()
	if len(w.probes) > 0 && !w.probes[0].due.After(now) {
		w.probe(w.probes[0])
		w.probes = w.probes[1:]
		return
	}
	for i, r := range w.replays {
		if !r.due.After(now) {
			w.replays = append(w.replays[:i], w.replays[i+1:]...)
			w.replayAfterGrace(r)
			return
		}
	}
	if len(w.held) == 0 {
		w.login()
		return
	}
	s := w.held[rand.IntN(len(w.held))]
	n := rand.IntN(100)
	if w.e.faulting.Load() > 0 && n < 50 {
		n += 50 // during a fault: mutations (refresh, login, revocations), no plain reads
	}
	switch {
	case n < 50:
		w.proxied(s)
	case n < 65:
		if !s.pinned {
			w.refresh(s)
		}
	case n < 77:
		w.login()
	case n < 83:
		w.logout(s)
	case n < 85:
		w.logoutAll(s)
	case n < 90:
		w.adminRevoke(s)
	case n < 91:
		w.adminRevokeAll()
	default:
		if w.e.o.ws {
			w.websocket(s)
		} else {
			w.proxied(s)
		}
	}
}

func (w *worker) drop(s *sess) {
	for i, h := range w.held {
		if h == s {
			w.held = append(w.held[:i], w.held[i+1:]...)
			return
		}
	}
}

// revoked records an acknowledged revocation and schedules a probe with the
// session's access token.
func (w *worker) revoked(s *sess, at time.Time) {
	w.drop(s)
	w.e.l.revoke(s.id, at)
	w.probes = append(w.probes, probe{sid: s.id, access: s.access, due: at.Add(w.e.o.cacheBound())})
}

// gone accounts for a held session the server no longer knows: an eviction
// the client was told of, a fault that lost data, or a lost session.
func (w *worker) gone(s *sess, how string, afterUnanswered bool) {
	w.drop(s)
	if w.budget > 0 {
		w.budget--
		w.e.l.mu.Lock()
		w.e.l.evicted++
		w.e.l.mu.Unlock()
		return
	}
	if w.e.l.excused(w.user, s.lastWrite, time.Now()) {
		w.e.l.mu.Lock()
		w.e.l.nExcused++
		w.e.l.mu.Unlock()
		return
	}
	w.e.l.mu.Lock()
	w.e.l.lost++
	w.e.l.mu.Unlock()
	kind := "lost-session"
	if afterUnanswered {
		kind = "logged-out-by-unreceived-answer"
	}
	w.e.l.violation(kind, "%s session %s…: %s", w.user, s.id[:12], how)
}

// proxied sends one request to the protected route; 401 means the session is gone.
func (w *worker) proxied(s *sess) int {
	a := w.e.do("proxy", w.user, s.id, bearer(jsonReq("GET", w.e.gw().base+"/app/x", nil), s.access))
	if a.status == http.StatusUnauthorized {
		w.gone(s, "proxied request answered 401", false)
	}
	return a.status
}

func (w *worker) probe(p probe) {
	w.e.do("probe", w.user, p.sid, bearer(jsonReq("GET", w.e.gw().base+"/app/probe", nil), p.access))
}

// sweep checks every held session once more after the traffic phase, when
// the store is healthy again, so that losses are counted.
func (w *worker) sweep() {
	for _, p := range w.probes {
		w.probe(p)
	}
	for _, s := range append([]*sess(nil), w.held...) {
		for range 10 {
			if st := w.proxied(s); st != http.StatusServiceUnavailable && st != 0 {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
}

// live reports whether retries may go on (a bounded tail after the traffic phase).
func (w *worker) live() bool { return time.Now().UnixNano() < w.e.hard.Load() }
