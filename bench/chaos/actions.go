package main

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// login signs in; a success at max_per_user tells the client that the
// oldest sessions were evicted, which it then verifies: exactly that many of
// its sessions must be gone, no more.
func (w *worker) login() {
	body := map[string]string{"username": w.user, "password": password(w.user)}
	for attempt := 0; w.live(); attempt++ {
		a := w.e.do("login", w.user, "", jsonReq("POST", w.e.gw().base+"/auth/login", body))
		if unanswered(a) {
			if attempt >= 5 {
				return
			}
			backoff(a)
			continue
		}
		if a.status != http.StatusOK {
			w.e.l.violation("login-refused", "%s: login answered %d", w.user, a.status)
			return
		}
		t, ok := parseTokens(a.body)
		if !ok {
			w.e.l.violation("login-refused", "%s: unreadable login answer", w.user)
			return
		}
		expect := len(w.held) + 1 - w.e.o.maxPerUser
		w.held = append(w.held, &sess{id: t.SessionID, access: t.Access, refresh: t.Refresh, lastWrite: time.Now()})
		if expect > 0 {
			w.budget += expect
			w.verifyEvictions()
		}
		return
	}
}

// verifyEvictions probes every held session (the new one last) so that the
// evictions the last login announced are matched against what vanished.
func (w *worker) verifyEvictions() {
	hs := append([]*sess(nil), w.held...)
	for _, s := range hs {
		w.proxied(s)
	}
}

// refresh exchanges the refresh token, retrying with the same token after an
// answer the client did not get (503, timeout), as a real client would.
func (w *worker) refresh(s *sess) {
	tok := s.refresh
	unanswer := false
	for attempt := 0; w.live() && attempt < 30; attempt++ {
		sent := time.Now()
		a := w.e.do("refresh", w.user, s.id, jsonReq("POST", w.e.gw().base+"/auth/refresh", map[string]string{"refresh_token": tok}))
		switch {
		case unanswered(a):
			unanswer = true
			backoff(a)
			continue
		case a.status == http.StatusUnauthorized:
			w.gone(s, "refresh answered 401 invalid_grant", unanswer)
			return
		case a.status != http.StatusOK:
			w.e.l.violation("unexpected-status", "%s refresh → %d", w.user, a.status)
			return
		}
		t, ok := parseTokens(a.body)
		if !ok {
			w.e.l.violation("unexpected-status", "%s refresh: unreadable answer", w.user)
			return
		}
		s.access, s.refresh, s.lastWrite = t.Access, t.Refresh, time.Now()
		w.afterRotation(s, tok, sent)
		return
	}
}

// afterRotation sometimes replays the previous token at once (inside the
// grace window: must return the same rotated token) and sometimes keeps it
// for a replay after the window (must revoke the session).
func (w *worker) afterRotation(s *sess, prev string, sent time.Time) {
	switch n := rand.IntN(100); {
	case n < 30:
		w.replayInGrace(s, prev, sent)
	case n < 40:
		s.pinned = true
		w.replays = append(w.replays, replay{s: s, token: prev, due: time.Now().Add(w.e.o.grace + 500*time.Millisecond)})
	}
}

func (w *worker) replayInGrace(s *sess, prev string, rotationSent time.Time) {
	a := w.e.do("replay", w.user, s.id, jsonReq("POST", w.e.gw().base+"/auth/refresh", map[string]string{"refresh_token": prev}))
	inGrace := time.Now().Before(rotationSent.Add(w.e.o.grace))
	switch {
	case unanswered(a):
	case a.status == http.StatusOK:
		t, _ := parseTokens(a.body)
		if t.Refresh != s.refresh {
			w.e.l.violation("grace-replay", "%s: replay inside grace returned a different refresh token", w.user)
		}
		s.access = t.Access
	case a.status == http.StatusUnauthorized && inGrace:
		w.e.l.violation("grace-replay", "%s: replay inside grace answered 401", w.user)
		w.revoked(s, time.Now())
	case a.status == http.StatusUnauthorized:
		w.revoked(s, time.Now()) // too slow a machine: the replay was after grace, a reuse
	default:
		w.e.l.violation("unexpected-status", "%s replay → %d", w.user, a.status)
	}
}

// replayAfterGrace presents the previous token after the grace window: the
// session must be revoked as reused (the acknowledged 401 is a revocation).
func (w *worker) replayAfterGrace(r replay) {
	if !w.holds(r.s) {
		return
	}
	a := w.e.do("replay", w.user, r.s.id, jsonReq("POST", w.e.gw().base+"/auth/refresh", map[string]string{"refresh_token": r.token}))
	switch {
	case unanswered(a):
		if w.live() {
			r.due = time.Now().Add(300 * time.Millisecond)
			w.replays = append(w.replays, r)
		}
	case a.status == http.StatusUnauthorized:
		w.revoked(r.s, time.Now())
	case a.status == http.StatusOK && w.e.l.excused(w.user, r.s.lastWrite, time.Now()):
		r.s.pinned = false // the rotation itself was lost with the data
	case a.status == http.StatusOK:
		w.e.l.violation("reuse-undetected", "%s: previous token after grace answered 200", w.user)
		r.s.pinned = false
	default:
		w.e.l.violation("unexpected-status", "%s post-grace replay → %d", w.user, a.status)
	}
}

func (w *worker) holds(s *sess) bool {
	for _, h := range w.held {
		if h == s {
			return true
		}
	}
	return false
}
