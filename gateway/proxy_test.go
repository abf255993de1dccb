package gateway

import (
	"bufio"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis-gw/portcullis/config"
)

// newUpgradeUpstream answers an Upgrade request with 101 and then echoes raw
// bytes until the connection closes. upstreamClosed receives once it has.
func newUpgradeUpstream(t *testing.T) (srv *httptest.Server, upstreamClosed chan struct{}) {
	t.Helper()
	upstreamClosed = make(chan struct{}, 1)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"X-Seen-User: " + r.Header.Get("X-Auth-User") + "\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw) // echo
		upstreamClosed <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv, upstreamClosed
}

func TestWebSocketUpgradeAndCloseUpgraded(t *testing.T) {
	t.Parallel()
	upSrv, upstreamClosed := newUpgradeUpstream(t)
	rc := testRoute("ws", "/ws", upSrv.URL, config.AuthRequired)
	rc.Timeout = 200 * time.Millisecond // must not cut the upgraded connection
	env, _, authz := newEnvAs(t, testConfig(rc), "alice")

	conn, err := net.Dial("tcp", env.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Auth-User: mallory\r\n"+authz+"\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read 101: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", res.StatusCode)
	}
	if got := res.Header.Get("X-Seen-User"); got != "alice" {
		t.Errorf("upstream saw X-Auth-User %q, want alice", got)
	}
	time.Sleep(300 * time.Millisecond) // longer than the route timeout
	for _, msg := range []string{"hello", "world"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo = %q, %v; want %q", buf, err, msg)
		}
	}
	if n := trackedUpgrades(env.g); n != 1 {
		t.Fatalf("tracked upgraded connections = %d, want 1", n)
	}

	env.g.CloseUpgraded()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection still open after CloseUpgraded")
	}
	select {
	case <-upstreamClosed:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream side not closed after CloseUpgraded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for trackedUpgrades(env.g) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := trackedUpgrades(env.g); n != 0 {
		t.Errorf("tracked upgraded connections after close = %d, want 0", n)
	}
}

// TestStreamingFlushesImmediately proves each streamed chunk reaches the
// client while the upstream is still writing: the first one is read before
// the upstream is allowed to finish.
func TestStreamingFlushesImmediately(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, contentType, first, second string }{
		{"SSE", "text/event-stream", "data: first\n", "data: second"},
		{"chunked body of unknown length", "application/x-ndjson", "{\"n\":1}\n", "{\"n\":2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = io.WriteString(w, tt.first)
				_ = http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, tt.second+"\n")
			}))
			t.Cleanup(up.Close)
			env := newEnv(t, envOptions{cfg: testConfig(testRoute("stream", "/", up.URL, config.AuthPublic))})
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the servers close

			type result struct {
				res  *http.Response
				br   *bufio.Reader
				line string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				res, err := http.Get(env.srv.URL + "/events")
				if err != nil {
					got <- result{err: err}
					return
				}
				br := bufio.NewReader(res.Body)
				line, err := br.ReadString('\n')
				got <- result{res, br, line, err}
			}()
			var br *bufio.Reader
			select {
			case r := <-got:
				if r.res != nil {
					defer r.res.Body.Close()
				}
				if r.err != nil || r.line != tt.first {
					t.Fatalf("first chunk = %q, %v; want %q", r.line, r.err, tt.first)
				}
				br = r.br
			case <-time.After(10 * time.Second):
				// The upstream is blocked until release: a proxy that buffers never delivers.
				t.Fatalf("first chunk not delivered while the upstream is still writing")
			}
			once.Do(func() { close(release) })
			rest, _ := io.ReadAll(br)
			if !strings.Contains(string(rest), tt.second) {
				t.Errorf("rest = %q, want %q", rest, tt.second)
			}
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Parallel()
	// A closed port: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	// A listener that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	// An upstream that sends headers at once, then a body slower than the timeout.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for i := range 5 {
			_, _ = io.WriteString(w, strings.Repeat(string(rune('a'+i)), 10))
			_ = http.NewResponseController(w).Flush()
			time.Sleep(80 * time.Millisecond)
		}
	}))
	t.Cleanup(slow.Close)

	refused := testRoute("refused", "/refused", "http://"+closedAddr, config.AuthPublic)
	hang := testRoute("hang", "/hang", "http://"+silent.Addr().String(), config.AuthPublic)
	hang.Timeout = 150 * time.Millisecond
	stream := testRoute("stream", "/stream", slow.URL, config.AuthPublic)
	stream.Timeout = 150 * time.Millisecond
	env := newEnv(t, envOptions{cfg: testConfig(refused, hang, stream)})

	tests := []struct {
		path, kind string
		status     int
		code       string
	}{
		{"/refused", upstreamRefused, http.StatusBadGateway, "bad_gateway"},
		{"/hang", upstreamTimeout, http.StatusGatewayTimeout, "gateway_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := do(t, "GET", env.srv.URL+tc.path, "")
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if e := decodeError(t, res.body); e.Error != tc.code {
				t.Errorf("error = %q, want %q", e.Error, tc.code)
			}
			route := strings.TrimPrefix(tc.path, "/")
			if got := testutil.ToFloat64(metricsOf(env.g).upstreamErrors.WithLabelValues(route, tc.kind)); got != 1 {
				t.Errorf("upstream_errors{%s,%s} = %v, want 1", route, tc.kind, got)
			}
		})
	}
	t.Run("slow body is not cut", func(t *testing.T) {
		res := do(t, "GET", env.srv.URL+"/stream", "")
		want := "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee"
		if res.StatusCode != http.StatusOK || res.body != want {
			t.Errorf("stream = %d %q, want 200 %q", res.StatusCode, res.body, want)
		}
	})
}

func TestPreserveHost(t *testing.T) {
	t.Parallel()
	up := newRecorder(t)
	keep := testRoute("keep", "/keep", up.srv.URL, config.AuthPublic)
	swap := testRoute("swap", "/swap", up.srv.URL, config.AuthPublic)
	swap.PreserveHost = false
	echoSwap := testRoute("echo", "/echo", config.EchoUpstream, config.AuthPublic)
	echoSwap.PreserveHost = false
	env := newEnv(t, envOptions{cfg: testConfig(keep, swap, echoSwap)})
	upHost := strings.TrimPrefix(up.srv.URL, "http://")

	rawRequest(t, env.addr(), "GET /keep HTTP/1.1\r\nHost: App.Example.com:8443\r\n\r\n")
	if got := up.last(t); got.Host != "App.Example.com:8443" || got.Header.Get("X-Forwarded-Host") != "App.Example.com:8443" {
		t.Errorf("preserve_host true: upstream Host = %q, X-Forwarded-Host = %q", got.Host, got.Header.Get("X-Forwarded-Host"))
	}
	rawRequest(t, env.addr(), "GET /swap HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
	if got := up.last(t); got.Host != upHost || got.Header.Get("X-Forwarded-Host") != "app.example.com" {
		t.Errorf("preserve_host false: upstream Host = %q (want %q), X-Forwarded-Host = %q", got.Host, upHost, got.Header.Get("X-Forwarded-Host"))
	}
	res := rawRequest(t, env.addr(), "GET /echo HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
	if e := decodeEcho(t, res.body); e.Host != echoHost {
		t.Errorf("echo with preserve_host false: host = %q, want %q", e.Host, echoHost)
	}
}

func TestUpstreamSetCookiePassesGatewayAddsNone(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "app", Value: "1"})
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("pub", "/", up.URL, config.AuthPublic))})
	if res := do(t, "GET", env.srv.URL+"/set", ""); strings.Join(res.Header.Values("Set-Cookie"), ";") != "app=1" {
		t.Errorf("Set-Cookie = %q, want the upstream's only", res.Header.Values("Set-Cookie"))
	}
	if res := do(t, "GET", env.srv.URL+"/none", "", "Cookie", "__Host-portcullis_at=x"); len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("Set-Cookie = %q, want none", res.Header.Values("Set-Cookie"))
	}
}

func TestClassifyUpstreamError(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}
	tests := []struct {
		name string
		err  error
		kind string
	}{
		{"dial", dial, upstreamRefused},
		{"dns", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, upstreamRefused},
		{"timeout sentinel", errUpstreamTimeout, upstreamTimeout},
		{"other", io.ErrUnexpectedEOF, upstreamOther},
	}
	for _, tc := range tests {
		kind, gone := classifyUpstreamError(t.Context(), tc.err)
		if kind != tc.kind || gone {
			t.Errorf("%s: classifyUpstreamError(%v) = %q, %v; want %q, false", tc.name, tc.err, kind, gone, tc.kind)
		}
	}
}

// BenchmarkServeHTTPEcho measures the whole in-process chain (no sockets) on
// a public route to the echo upstream.
func BenchmarkServeHTTPEcho(b *testing.B) {
	g, err := New(Options{Config: testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/items?x=1", nil)
		r.Header.Set("X-Auth-User", "spoof")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func TestRouteUpstreamTLS(t *testing.T) {
	t.Parallel()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls ok")
	}))
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing cases log handshake errors
	up.StartTLS()
	t.Cleanup(up.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	withCA := testRoute("ca", "/ca", up.URL, config.AuthPublic)
	withCA.TLS = config.UpstreamTLS{CAFile: caFile, ServerName: "example.com"}
	wrongName := testRoute("wrongname", "/wrongname", up.URL, config.AuthPublic)
	wrongName.TLS = config.UpstreamTLS{CAFile: caFile, ServerName: "not-in-the-cert.test"}
	insecure := testRoute("insecure", "/insecure", up.URL, config.AuthPublic)
	insecure.TLS = config.UpstreamTLS{InsecureSkipVerify: true}
	system := testRoute("system", "/system", up.URL, config.AuthPublic) // shared pool, system roots
	env := newEnv(t, envOptions{cfg: testConfig(withCA, wrongName, insecure, system)})

	tests := []struct {
		path   string
		status int
	}{
		{"/ca", http.StatusOK},
		{"/insecure", http.StatusOK},
		{"/wrongname", http.StatusBadGateway},
		{"/system", http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := do(t, "GET", env.srv.URL+tc.path, "")
			if res.StatusCode != tc.status {
				t.Errorf("GET %s = %d %q, want %d", tc.path, res.StatusCode, res.body, tc.status)
			}
		})
	}
	if v := testutil.ToFloat64(metricsOf(env.g).upstreamErrors.WithLabelValues("system", upstreamOther)); v != 1 {
		t.Errorf("upstream_errors{system,other} = %v, want 1", v)
	}
	// Routes with tls options get their own transport; the others share one.
	snap := snapshotOf(env.g)
	if len(snap.transports) != 3 {
		t.Errorf("per-route transports = %d, want 3", len(snap.transports))
	}
	for _, rt := range snap.routes.all() {
		if shared := rt.transport == sharedTransport(env.g); shared != (rt.name == "system") {
			t.Errorf("route %s uses the shared transport = %v", rt.name, shared)
		}
	}
}

// TestSlowUploadIsNotCut: the route timeout starts counting the wait for
// headers only once the request body is written.
func TestSlowUploadIsNotCut(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strings.ToUpper(string(b)))
	}))
	t.Cleanup(up.Close)
	rc := testRoute("upload", "/", up.URL, config.AuthPublic)
	rc.Timeout = 150 * time.Millisecond
	env := newEnv(t, envOptions{cfg: testConfig(rc)})

	pr, pw := io.Pipe()
	go func() {
		for _, chunk := range []string{"slow ", "upload ", "body"} {
			_, _ = io.WriteString(pw, chunk)
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", env.srv.URL+"/u", pr)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(b) != "SLOW UPLOAD BODY" {
		t.Errorf("slow upload = %d %q, want 200 %q", res.StatusCode, b, "SLOW UPLOAD BODY")
	}
}

func TestClientGoneIsNotAnUpstreamError(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers while the client waits
	}))
	t.Cleanup(up.Close)
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("hang", "/", up.URL, config.AuthPublic))})
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if res, err := client.Get(env.srv.URL + "/x"); err == nil {
		res.Body.Close()
		t.Fatal("request completed, want a client timeout")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(env.logs.String(), "status=499") {
		if time.Now().After(deadline) {
			t.Fatalf("no access log with status 499:\n%s", env.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, kind := range []string{upstreamRefused, upstreamTimeout, upstreamOther} {
		if v := testutil.ToFloat64(metricsOf(env.g).upstreamErrors.WithLabelValues("hang", kind)); v != 0 {
			t.Errorf("upstream_errors{hang,%s} = %v, want 0", kind, v)
		}
	}
}

// TestSharedTransport pins the upstream pool's tuning (STYLE: the default of
// 2 idle connections per host costs a proxy a third of its throughput).
func TestSharedTransport(t *testing.T) {
	t.Parallel()
	tr := newSharedTransport()
	if tr.MaxIdleConnsPerHost < 64 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("MaxIdleConnsPerHost = %d, MaxIdleConns = %d; want ≥ 64 and ≥ per host", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.Proxy != nil {
		t.Error("Proxy is set; upstreams are addressed directly, never through HTTP_PROXY")
	}
	if tr.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout = %v, want 0 (each route's timeout applies per request)", tr.ResponseHeaderTimeout)
	}
	if tr.TLSHandshakeTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Errorf("TLSHandshakeTimeout = %v, IdleConnTimeout = %v; want explicit timeouts", tr.TLSHandshakeTimeout, tr.IdleConnTimeout)
	}
}

// TestRouteTimeoutTransports: the route timeout is applied by a clone of the
// route's transport per timeout (response headers, dial and TLS handshake),
// shared by the routes with the same transport and timeout, and a reload
// drops the clones of the transports it replaced.
func TestRouteTimeoutTransports(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	fast1 := testRoute("fast1", "/fast1", up.URL, config.AuthPublic)
	fast1.Timeout = 150 * time.Millisecond
	fast2 := testRoute("fast2", "/fast2", up.URL, config.AuthPublic)
	fast2.Timeout = 150 * time.Millisecond
	slow := testRoute("slow", "/slow", up.URL, config.AuthPublic)
	slow.Timeout = 20 * time.Second
	own := testRoute("own", "/own", up.URL, config.AuthPublic)
	own.Timeout = 2 * time.Second
	own.TLS = config.UpstreamTLS{InsecureSkipVerify: true} // its own transport (plain http upstream: TLS unused)
	cfg := testConfig(fast1, fast2, slow, own)
	env := newEnv(t, envOptions{cfg: cfg})
	for _, p := range []string{"/fast1", "/fast2", "/slow", "/own"} {
		if res := do(t, "GET", env.srv.URL+p, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %q", p, res.StatusCode, res.body)
		}
	}
	clones := *env.g.timed.m.Load()
	shared := env.g.transport
	ownTr := snapshotOf(env.g).transports[0]
	want := map[timedKey]time.Duration{
		{shared, 150 * time.Millisecond}: 150 * time.Millisecond, // fast1 and fast2: one pool
		{shared, 20 * time.Second}:       20 * time.Second,
		{ownTr, 2 * time.Second}:         2 * time.Second,
	}
	if len(clones) != len(want) {
		t.Errorf("timed clones = %d, want %d", len(clones), len(want))
	}
	for k, d := range want {
		tr, ok := clones[k]
		if !ok {
			t.Errorf("no clone for timeout %v", k.timeout)
			continue
		}
		if tr.ResponseHeaderTimeout != d || tr.TLSHandshakeTimeout != min(d, shared.TLSHandshakeTimeout) {
			t.Errorf("clone for %v: ResponseHeaderTimeout %v, TLSHandshakeTimeout %v", d, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
		}
		if tr.MaxIdleConnsPerHost != shared.MaxIdleConnsPerHost || (k.base == ownTr) != (tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify) {
			t.Errorf("clone for %v does not keep its base's tuning and TLS settings", d)
		}
	}
	if shared.ResponseHeaderTimeout != 0 {
		t.Error("the shared transport itself got a timeout")
	}

	if err := env.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	for k := range *env.g.timed.m.Load() {
		if k.base == ownTr {
			t.Error("a reload kept the clone of the transport it replaced")
		}
	}
	if res := do(t, "GET", env.srv.URL+"/own", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /own after reload = %d %q", res.StatusCode, res.body)
	}
}
