package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// TestUpgradedConnectionRecheck: an upgraded connection is closed once its
// session is revoked or its user loses the route's roles; others stay open.
func TestUpgradedConnectionRecheck(t *testing.T) {
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(io.Discard, conn)
	}))
	t.Cleanup(ws.Close)
	e := newEnv(t, envOptions{store: memoryStore, edit: func(c *config.Config) {
		r := config.DefaultRoute()
		r.Name, r.PathPrefix, r.Upstream, r.Roles = "ws", "/ws", ws.URL, []string{"staff"}
		r.Upgrades = []string{"test"} // the protocol the upstream above speaks
		c.Routes = append([]config.Route{r}, c.Routes...)
	}})
	dial := func(token string) net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", res, err)
		}
		return conn
	}
	closed := func(conn net.Conn) bool {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := conn.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	alice := e.loginJSON("alice", "alice-password")
	bob := e.loginJSON("bob", "bob-password")
	a, b := dial(alice.AccessToken), dial(bob.AccessToken)
	recheckUpgraded(e.g)
	if closed(a) || closed(b) {
		t.Fatalf("a valid connection was closed")
	}
	wantStatus(t, "logout alice", e.do("POST", "/auth/logout", "", bearer(alice.AccessToken)...), 204)
	recheckUpgraded(e.g)
	if !closed(a) {
		t.Errorf("connection of a revoked session still open")
	}
	if closed(b) {
		t.Errorf("bob's connection closed")
	}
	writeUsersFile(t, e.usersPath, func(name string, u *userEntry) bool {
		if name == "bob" {
			u.roles = nil
		}
		return true
	})
	if err := e.users.Reload(); err != nil {
		t.Fatal(err)
	}
	recheckUpgraded(e.g)
	if !closed(b) {
		t.Errorf("connection of a user who lost the role still open")
	}
}
