package gateway

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

func TestNewServer(t *testing.T) {
	t.Parallel()
	s := NewServer(config.Server{Listen: ":1", ReadHeaderTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second, MaxHeaderBytes: 1000}, http.NotFoundHandler())
	if s.Addr != ":1" || s.ReadHeaderTimeout != 3*time.Second || s.IdleTimeout != 4*time.Second || s.MaxHeaderBytes != 1000 {
		t.Errorf("NewServer = %+v", s)
	}
	if s.WriteTimeout != 0 || s.ReadTimeout != 0 {
		t.Errorf("NewServer WriteTimeout = %v, ReadTimeout = %v; want none (they cut streams)", s.WriteTimeout, s.ReadTimeout)
	}
	d := NewServer(config.Server{}, http.NotFoundHandler())
	if d.ReadHeaderTimeout != 10*time.Second || d.IdleTimeout != 120*time.Second || d.MaxHeaderBytes != 65536 {
		t.Errorf("NewServer(zero) = %v %v %v, want the SPEC defaults", d.ReadHeaderTimeout, d.IdleTimeout, d.MaxHeaderBytes)
	}
}

func TestOversizedHeaderIs431(t *testing.T) {
	t.Parallel()
	env := newEnv(t, envOptions{cfg: testConfig(testRoute("echo", "/", config.EchoUpstream, config.AuthPublic))})
	cfg := config.Default().Server
	cfg.MaxHeaderBytes = 1024
	srv := NewServer(cfg, env.g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// net/http allows MaxHeaderBytes plus 4096 bytes of slack.
	big := "X-Big: " + strings.Repeat("a", 8192) + "\r\n"
	res := rawRequest(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: gw.test\r\n"+big+"\r\n")
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized header: status = %d, want 431", res.StatusCode)
	}
	res = rawRequest(t, ln.Addr().String(), "GET / HTTP/1.1\r\nHost: gw.test\r\nX-Small: a\r\n\r\n")
	if res.StatusCode != http.StatusOK {
		t.Errorf("small header: status = %d, want 200", res.StatusCode)
	}
}
