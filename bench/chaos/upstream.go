package main

import (
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// seen is what the upstream recorded for one proxied request.
type seen struct {
	at      time.Time
	user    string
	session string
}

// upstream is the recording backend: it answers every request with 200,
// remembers the identity headers and the harness's request id of each, and
// turns an Upgrade request into a byte echo (a WebSocket after the 101; the
// gateway only copies bytes, so no framing is needed to see it cut).
type upstream struct {
	srv  *http.Server
	port int

	mu   sync.Mutex
	reqs map[uint64]seen
	ws   map[net.Conn]struct{}
}

const reqIDHeader = "X-Chaos-Req"

func startUpstream() (*upstream, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{port: l.Addr().(*net.TCPAddr).Port, reqs: map[uint64]seen{}, ws: map[net.Conn]struct{}{}}
	u.srv = &http.Server{Handler: u, ReadHeaderTimeout: 5 * time.Second}
	go u.srv.Serve(l)
	return u, nil
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, err := strconv.ParseUint(r.Header.Get(reqIDHeader), 10, 64); err == nil {
		u.mu.Lock()
		u.reqs[id] = seen{at: time.Now(), user: r.Header.Get("X-Auth-User"), session: r.Header.Get("X-Auth-Session")}
		u.mu.Unlock()
	}
	if slow(w, r) {
		return
	}
	if r.Header.Get("Upgrade") != "" {
		u.echo(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

func (u *upstream) echo(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	brw.Flush()
	u.mu.Lock()
	u.ws[conn] = struct{}{}
	u.mu.Unlock()
	go func() {
		defer func() {
			conn.Close()
			u.mu.Lock()
			delete(u.ws, conn)
			u.mu.Unlock()
		}()
		io.Copy(conn, brw.Reader) // brw.Reader holds what was buffered, then reads conn
	}()
}

// reached reports whether the request with this id reached the upstream.
func (u *upstream) reached(id uint64) (seen, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.reqs[id]
	return s, ok
}

// close stops the server and every echo connection.
func (u *upstream) close() {
	u.srv.Close()
	u.mu.Lock()
	for c := range u.ws {
		c.Close()
	}
	u.mu.Unlock()
}
