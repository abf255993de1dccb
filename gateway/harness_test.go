package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis-gw/portcullis/config"
)

// Test harness of the HTTP core: real sockets everywhere. Names carry a
// "core" prefix so they cannot collide with other test files of the package.

// coreConfig returns a config holding every default plus routes.
func coreConfig(routes ...config.Route) *config.Config {
	c := config.Default()
	c.Routes = routes
	return c
}

// coreRoute returns a route with the per-route defaults.
func coreRoute(name, prefix, upstream, auth string) config.Route {
	r := config.DefaultRoute()
	r.Name, r.PathPrefix, r.Upstream, r.Auth = name, prefix, upstream, auth
	return r
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// coreEnv is a gateway behind a real listener.
type coreEnv struct {
	g    *Gateway
	reg  *prometheus.Registry
	logs *syncBuffer
	srv  *httptest.Server
}

func newCoreEnv(t *testing.T, cfg *config.Config) *coreEnv {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	g, err := New(Options{
		Config:   cfg,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: reg,
		Build:    BuildInfo{Version: "v-test", Commit: "abc123"},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return &coreEnv{g: g, reg: reg, logs: logs, srv: srv}
}

// addr is the gateway's host:port.
func (e *coreEnv) addr() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// seenRequest is what a recording upstream received.
type seenRequest struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
}

// recorder is an upstream that records every request and answers 200 "ok".
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seenRequest
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rc := &recorder{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.got = append(rc.got, seenRequest{r.Method, r.RequestURI, r.Host, r.Header.Clone()})
		rc.mu.Unlock()
		w.Header().Set("X-Request-ID", "upstream-id")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *recorder) requests() []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seenRequest(nil), rc.got...)
}

// last returns the last request the upstream saw, failing if there was none.
func (rc *recorder) last(t *testing.T) seenRequest {
	t.Helper()
	got := rc.requests()
	if len(got) == 0 {
		t.Fatal("upstream saw no request")
	}
	return got[len(got)-1]
}

// rawResponse is a response read off a raw connection, body included.
type rawResponse struct {
	*http.Response
	body string
}

// rawRequest writes req verbatim to addr and reads one response.
func rawRequest(t *testing.T, addr, req string) rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", req, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return rawResponse{res, string(b)}
}

// get sends a GET with extra headers (set verbatim, any spelling) through a
// real client; the response body is returned whole.
func coreDo(t *testing.T, method, url string, header http.Header) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second, // a liveness bound: a hang fails here, not at the 10-minute test timeout
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{res, string(b)}
}

// decodeEcho parses an echo upstream answer.
func decodeEcho(t *testing.T, body string) echoReply {
	t.Helper()
	var e echoReply
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("echo body %q: %v", body, err)
	}
	return e
}

// decodeError parses a JSON error body.
func decodeError(t *testing.T, body string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

// newCoreEnvAs is newCoreEnv with the auth seam replaced by one that
// always returns id: the same chain as New builds, so every step but the
// seam itself (the core's hard rule included) is real.
func newCoreEnvAs(t *testing.T, cfg *config.Config, id Identity) *coreEnv {
	t.Helper()
	env := newCoreEnv(t, cfg)
	g := env.g
	as := g.authenticateStepWith(func(*http.Request, *route) (Identity, error) { return id, nil })
	h := chain(http.HandlerFunc(g.serveProxy), g.recover, g.requestID, g.observe, g.stripSpoofable, g.route, g.routeHygiene, as)
	env.srv.Close()
	env.srv = httptest.NewServer(h)
	t.Cleanup(env.srv.Close)
	return env
}

// metricValue returns the value of the counter or gauge series name{labels}
// gathered from reg (the count for a histogram), and whether it exists.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// newHTTPTestServer serves h on a real listener and returns its base URL.
func newHTTPTestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitFor polls cond until it holds (5s at most). The observe step logs and
// counts after the handler returns, which can be just after the client has
// read a complete response.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForRequests waits until n requests have been counted in reg.
func waitForRequests(t *testing.T, reg *prometheus.Registry, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d counted requests", n), func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			return false
		}
		total := 0.0
		for _, mf := range mfs {
			if mf.GetName() == metricRequests {
				for _, m := range mf.GetMetric() {
					total += m.GetCounter().GetValue()
				}
			}
		}
		return total >= float64(n)
	})
}
