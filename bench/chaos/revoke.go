package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryRevocation sends build() until it is answered; ok receives the
// answer the client finally got (or nothing when the run ended first) and
// whether an earlier attempt went unanswered (it may have taken effect).
func (w *worker) retryRevocation(kind, sid string, build func() *http.Request, ok func(a answer, at time.Time, retried bool)) {
	for attempt := 0; w.live() && attempt < 30; attempt++ {
		a := w.e.do(kind, w.user, sid, build())
		if unanswered(a) {
			backoff(a)
			continue
		}
		ok(a, time.Now(), attempt > 0)
		return
	}
}

func (w *worker) logout(s *sess) {
	w.retryRevocation("logout", s.id, func() *http.Request {
		return bearer(jsonReq("POST", w.e.gw().base+"/auth/logout", map[string]string{"refresh_token": s.refresh}), s.access)
	}, func(a answer, at time.Time, retried bool) {
		if a.status == http.StatusNoContent {
			w.revoked(s, at)
			return
		}
		w.e.l.violation("unexpected-status", "%s logout → %d", w.user, a.status)
	})
}

// revokedAll records that every session the client held is revoked; a
// session it does not know of (a login it saw fail) is no longer its concern.
func (w *worker) revokedAll(at time.Time) {
	for _, s := range append([]*sess(nil), w.held...) {
		w.revoked(s, at)
	}
	w.replays, w.budget = nil, 0
}

func (w *worker) logoutAll(s *sess) {
	w.retryRevocation("logout-all", s.id, func() *http.Request {
		return bearer(jsonReq("POST", w.e.gw().base+"/auth/logout-all", nil), s.access)
	}, func(a answer, at time.Time, retried bool) {
		switch a.status {
		case http.StatusNoContent:
			w.revokedAll(at)
		case http.StatusUnauthorized:
			if retried { // an attempt answered 503 did sign everything out
				w.revokedAll(at)
				return
			}
			w.gone(s, "logout-all answered 401", false)
		default:
			w.e.l.violation("unexpected-status", "%s logout-all → %d", w.user, a.status)
		}
	})
}

func (w *worker) adminReq(path string) *http.Request {
	return bearer(jsonReq("DELETE", w.e.gw().admin+"/admin/users/"+w.user+"/sessions"+path, nil), w.e.sec.admin)
}

func (w *worker) adminRevoke(s *sess) {
	w.retryRevocation("admin", s.id, func() *http.Request { return w.adminReq("/" + s.id) }, func(a answer, at time.Time, retried bool) {
		switch a.status {
		case http.StatusNoContent:
			w.revoked(s, at)
		case http.StatusNotFound:
			if retried {
				// An earlier attempt, answered 503, revoked it after all: the
				// effect the admin asked for, now acknowledged.
				w.e.l.note("%s: admin revoke retried after 503 found the session already revoked", w.user)
				w.revoked(s, at)
				return
			}
			w.gone(s, "admin revoke answered 404", false)
		default:
			w.e.l.violation("unexpected-status", "%s admin revoke → %d", w.user, a.status)
		}
	})
}

func (w *worker) adminRevokeAll() {
	w.retryRevocation("admin", "", func() *http.Request { return w.adminReq("") }, func(a answer, at time.Time, retried bool) {
		if a.status == http.StatusNoContent {
			w.revokedAll(at)
			return
		}
		w.e.l.violation("unexpected-status", "%s admin revoke-all → %d", w.user, a.status)
	})
}

// websocket opens an upgraded connection with s, checks the echo, revokes s
// through the other path (logout on a random replica) and expects the
// gateway to cut the connection within touch_interval (plus slack).
func (w *worker) websocket(s *sess) {
	g := w.e.gw()
	id := w.e.l.nextID.Add(1)
	r := rec{id: id, kind: "ws", user: w.user, sid: s.id, sent: time.Now()}
	conn, status, err := dialWS(g.base[len("http://"):], s.access, id)
	r.got, r.status = time.Now(), status
	w.e.l.add(r)
	if err != nil {
		if status == http.StatusUnauthorized {
			w.gone(s, "WebSocket upgrade answered 401", false)
		}
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write([]byte("ping\n"))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "ping\n" {
		w.e.l.note("%s: WebSocket echo failed: %v", w.user, err)
	}
	var ackAt time.Time
	w.logoutAt(s, &ackAt)
	if ackAt.IsZero() {
		return
	}
	bound := 2*w.e.o.touch + w.e.o.wsSlack
	conn.SetDeadline(ackAt.Add(bound))
	buf := make([]byte, 64)
	_, err = conn.Read(buf)
	closedAt := time.Now()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		if !w.e.l.faultActive(ackAt, closedAt, w.e.o.touch) {
			w.e.l.violation("ws-open-after-revoke", "%s: WebSocket still open %v after revocation", w.user, bound)
		}
		return
	}
	w.e.l.mu.Lock()
	w.e.l.wsClosed = append(w.e.l.wsClosed, closedAt.Sub(ackAt))
	w.e.l.mu.Unlock()
}

// logoutAt is logout recording when the revocation was acknowledged.
func (w *worker) logoutAt(s *sess, at *time.Time) {
	w.retryRevocation("logout", s.id, func() *http.Request {
		return bearer(jsonReq("POST", w.e.gw().base+"/auth/logout", map[string]string{"refresh_token": s.refresh}), s.access)
	}, func(a answer, t time.Time, _ bool) {
		if a.status == http.StatusNoContent {
			w.revoked(s, t)
			*at = t
		}
	})
}

// dialWS performs a WebSocket handshake by hand (the module has no WebSocket
// library; after the 101 the gateway only copies bytes).
func dialWS(hostport, token string, id uint64) (net.Conn, int, error) {
	conn, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err != nil {
		return nil, 0, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /app/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nAuthorization: Bearer %s\r\n%s: %d\r\n\r\n",
		hostport, base64.StdEncoding.EncodeToString(key), token, reqIDHeader, id)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, 0, err
	}
	fields := strings.Fields(line)
	status := 0
	if len(fields) >= 2 {
		status, _ = strconv.Atoi(fields[1])
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil || h == "\r\n" {
			break
		}
	}
	if status != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, status, fmt.Errorf("upgrade answered %d", status)
	}
	return conn, status, nil
}
