package gateway

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portcullis-gw/portcullis/config"
)

// observe records every request: metrics always, the access log when
// log.access_log is on. It runs after the request id is known and before
// anything can answer, so every response is counted, panics included.
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		rec.sw = statusWriter{ResponseWriter: w, rec: rec, g: g}
		sw := &rec.sw
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler && !rec.wroteHeader { //nolint:errorlint // sentinel panic value
				rec.status = http.StatusInternalServerError // what recover will answer
			}
			g.finish(r, rec)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// noteIdentity puts the user and session of a request's caller into the
// access log record: gateway endpoints call it once the caller is known
// (proxied requests get theirs from authenticateStep).
func noteIdentity(r *http.Request, user, sid string) {
	if rec := recordFrom(r.Context()); rec != nil {
		rec.identity = Identity{User: user, SessionID: sid}
	}
}

// forwardedLog is what the access log shows of the original request a
// forward-auth call asked about.
type forwardedLog struct {
	method, host, path string
}

// noteForwarded puts the original request of an /auth/verify call into the
// access log record: method, host and normalised path. Never the query: it
// carries tokens and codes (SPEC §6).
func noteForwarded(r, orig *http.Request) {
	if rec := recordFrom(r.Context()); rec != nil {
		rec.forwarded = &forwardedLog{method: logMethod(orig.Method), host: orig.Host, path: orig.URL.Path}
	}
}

// maxLogMethod bounds a logged forwarded method (the longest registered
// method is 17 bytes).
const maxLogMethod = 32

// logMethod is a forwarded method as logged: an HTTP token of at most
// maxLogMethod bytes, else "invalid". It comes from a header, so it is
// bounded and kept to the token alphabet before it reaches a log line.
func logMethod(m string) string {
	if m == "" || len(m) > maxLogMethod {
		return "invalid"
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return "invalid"
		}
	}
	return m
}

// logFailedLogin logs a failed login at info, for fail2ban-style tooling:
// the attempted username, the reason (the public error code) and the client
// IP. Never the password; the username only when it obeys the username
// grammar, since people type passwords into the username field.
func (g *Gateway) logFailedLogin(r *http.Request, username string, err error) {
	if !g.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	if !config.ValidUsername(username) {
		username = "invalid"
	}
	requestID := ""
	if rec := recordFrom(r.Context()); rec != nil {
		requestID = rec.id
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "login failed",
		slog.String("username", username),
		slog.String("reason", publicError(err).code),
		slog.String("client_ip", clientIPOf(r)),
		slog.String("request_id", requestID),
	)
}

// finish emits the metrics and the access log line of one request.
func (g *Gateway) finish(r *http.Request, rec *record) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	d := g.now().Sub(rec.start)
	g.metrics.observeRequest(rec.routeLabel, r.Method, status, d)
	if !rec.snap.accessLog {
		return
	}
	path := rec.path
	if path == "" {
		path = rec.rawPath
	}
	upstream := ""
	if rec.route != nil && rec.proxied { // only when the request was forwarded
		upstream = rec.route.upstreamLabel
	}
	// Never the query, Authorization, Cookie or Set-Cookie: they carry secrets.
	// The duration is a Go duration string ("3.5ms") in text and JSON alike;
	// slog's JSON handler would print a Duration as integer nanoseconds.
	attrs := [...]slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.String("route", rec.routeLabel),
		slog.Int("status", status),
		slog.String("duration", d.String()),
		slog.Int64("bytes", rec.bytes),
		slog.String("client_ip", addrString(rec.client)),
		slog.String("request_id", rec.id),
		slog.String("user", rec.identity.User),
		slog.String("session_id", rec.identity.SessionID),
		slog.String("upstream", upstream),
		{}, {}, {}, // the forwarded request of /auth/verify
	}
	n := len(attrs) - 3
	if f := rec.forwarded; f != nil {
		attrs[n] = slog.String("forwarded_method", f.method)
		attrs[n+1] = slog.String("forwarded_host", f.host)
		attrs[n+2] = slog.String("forwarded_path", f.path)
		n += 3
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs[:n]...)
}

// statusWriter records the status and size of a response. It keeps Flush
// (SSE), Hijack (WebSocket: the connection is tracked for CloseUpgraded) and
// Unwrap (http.ResponseController) working.
type statusWriter struct {
	http.ResponseWriter
	rec *record
	g   *Gateway
}

// WriteHeader records the first final status; 1xx informational responses pass.
func (w *statusWriter) WriteHeader(code int) {
	if !w.rec.wroteHeader && code >= 200 {
		w.rec.status, w.rec.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.rec.wroteHeader {
		w.rec.status, w.rec.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.rec.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker; ReverseProxy hijacks only after an
// upstream's 101 Switching Protocols.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if !w.rec.wroteHeader {
		w.rec.status, w.rec.wroteHeader = http.StatusSwitchingProtocols, true
	}
	routeName := ""
	if w.rec.route != nil {
		routeName = w.rec.route.name
	}
	return w.g.upgrades.track(conn, w.rec.identity, routeName), brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
