package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// Issue 7 item 9: server.endpoint_body_timeout bounds the arrival of a
// gateway endpoint's request body; proxied bodies keep streaming.

// trickle sends head over a fresh connection, then body one byte every
// 20ms (or, with stall, the first byte and then nothing), and returns the
// response the gateway sends meanwhile. Nothing here measures time: the
// trickle outlasts any sensible configured timeout by far, and the test only
// asserts what the gateway answered.
func trickle(t *testing.T, addr, head, body string, stall bool) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // liveness only
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("write head: %v", err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; i < len(body); i++ {
			if stall && i > 0 {
				<-done
				return
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return // the gateway gave up on us: expected
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() { close(done); <-stopped }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestEndpointBodyTimeout: a body trickled (or stalled) on a gateway
// endpoint is cut with 408 request_timeout; the timeout follows a reload.
func TestEndpointBodyTimeout(t *testing.T) {
	upload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strings.ToUpper(string(b)))
	}))
	t.Cleanup(upload.Close)
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		r := config.DefaultRoute()
		r.Name, r.PathPrefix, r.Upstream, r.Auth = "upload", "/upload", upload.URL, config.AuthPublic
		c.Routes = append([]config.Route{r}, c.Routes...)
	}})
	if got := snapshotOf(e.g).cfg.Server.EndpointBodyTimeout; got != 10*time.Second {
		t.Fatalf("endpoint_body_timeout = %v, want the 10s default", got)
	}
	c := *e.cfg
	c.Server.EndpointBodyTimeout = 200 * time.Millisecond
	if err := e.g.Reload(&c); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	bob := e.loginJSON("bob", "bob-password")

	login := `{"username":"alice","password":"alice-password"}` + strings.Repeat(" ", 200)
	form := "username=alice&password=alice-password&rd=%2F" + strings.Repeat("&x=y", 50)
	tests := []struct {
		name, head, body string
		stall            bool
	}{
		{"login JSON", "POST /auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", login, false},
		{"login JSON stalled", "POST /auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", login, true},
		{"login form", "POST /auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", form, false},
		{"refresh", "POST /auth/refresh HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", `{"refresh_token":"` + strings.Repeat("a", 200) + `"}`, false},
		{"logout", "POST /auth/logout HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", strings.Repeat(" ", 200), false},
		{"sessions form", "POST /auth/sessions/" + bob.SessionID + "/revoke HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + bob.AccessToken +
			"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", strings.Repeat("x=y&", 50), false},
		{"chunked", "POST /auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%.0d", strings.Repeat("1\r\n \r\n", 50), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := trickle(t, addr, fmt.Sprintf(tc.head, len(tc.body)), tc.body, tc.stall)
			if res.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status = %d %s, want 408", res.StatusCode, body)
			}
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error != "request_timeout" {
				t.Errorf("body = %q, want error request_timeout", body)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("a cut request set cookies: %v", res.Header.Values("Set-Cookie"))
			}
		})
	}
	wantStatus(t, "the cut revoke form revoked nothing", e.do("GET", "/auth/me", "", bearer(bob.AccessToken)...), http.StatusOK)

	t.Run("a prompt body still works", func(t *testing.T) {
		wantStatus(t, "login", e.do("POST", "/auth/login", login, "Content-Type", "application/json"), http.StatusOK)
	})
	t.Run("proxied body keeps streaming", func(t *testing.T) {
		const body = "a slow upload that takes longer than the endpoint body timeout"
		res, got := trickle(t, addr, fmt.Sprintf("POST /upload/x HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", len(body)), body, false)
		if res.StatusCode != http.StatusOK || got != strings.ToUpper(body) {
			t.Errorf("slow proxied upload = %d %q, want 200 %q", res.StatusCode, got, strings.ToUpper(body))
		}
	})
}

// TestEndpointBodyTimeoutHTTP2: the same cut on an HTTP/2 stream (a TLS
// listener negotiates h2).
func TestEndpointBodyTimeoutHTTP2(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		c.Server.EndpointBodyTimeout = 200 * time.Millisecond
	}})
	srv := httptest.NewUnstartedServer(e.g)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer pw.Close()
		_, _ = io.WriteString(pw, `{"username":"alice",`)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := io.WriteString(pw, " "); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/auth/login", pr)
	req.Header.Set("Content-Type", "application/json")
	client := srv.Client()
	client.Timeout = 30 * time.Second // liveness only
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "request_timeout") {
		t.Errorf("HTTP/%d %d %s, want HTTP/2 408 request_timeout", res.ProtoMajor, res.StatusCode, b)
	}
}
