package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// usersFile is a users file with one user per name, each with password
// name+"-pw" and cheap argon2id parameters (tests only).
func usersFile(t *testing.T, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for _, n := range names {
		h, err := users.HashArgon2id(n+"-pw", 64, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  " + n + ":\n    password_hash: \"" + h + "\"\n    roles: [staff]\n")
	}
	return b.String()
}

// login posts a JSON login and returns the status.
func (g *gatewayProc) login(user, password string) int {
	code, _ := doRequest(http.MethodPost, g.proxy+"/auth/login",
		http.Header{"Content-Type": {"application/json"}},
		`{"username":"`+user+`","password":"`+password+`"}`)
	return code
}

func TestUsersFileReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	usersPath := writeFile(t, dir, "users.yaml", usersFile(t, "carol"))
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	body := strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute), demoUsers(t), usersPath, 1)
	cfg := writeFile(t, dir, "gateway.yaml", body)
	g := startGateway(t, cfg, proxyAddr, metricsAddr)

	if code := g.login("carol", "carol-pw"); code != http.StatusOK {
		t.Fatalf("login carol = %d, want 200", code)
	}
	if strings.Contains(g.log.String(), "DEMO USERS") {
		t.Errorf("demo warning for a non-demo users file")
	}

	// Sub-tests share one process and run in order.
	t.Run("SIGHUP re-reads the users file", func(t *testing.T) {
		writeFile(t, dir, "users.yaml", usersFile(t, "carol", "dave"))
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "reload success", func() bool {
			return g.metric(`portcullis_config_reloads_total{result="success"}`) == "1"
		})
		if code := g.login("dave", "dave-pw"); code != http.StatusOK {
			t.Errorf("after SIGHUP login dave = %d, want 200", code)
		}
	})
	t.Run("invalid users file refuses the reload", func(t *testing.T) {
		writeFile(t, dir, "users.yaml", "users: [not, a, mapping]\n")
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "reload failure", func() bool {
			return g.metric(`portcullis_config_reloads_total{result="failure"}`) == "1"
		})
		if code := g.login("dave", "dave-pw"); code != http.StatusOK {
			t.Errorf("after a refused users reload login dave = %d, want 200 (old users)", code)
		}
	})
	t.Run("the watcher picks up an edit without a signal", func(t *testing.T) {
		writeFile(t, dir, "users.yaml", usersFile(t, "erin"))
		// Wait for the watcher's log line rather than polling logins, which
		// would run into the login throttle.
		g.waitFor(15*time.Second, "the watcher's reload", func() bool {
			return strings.Contains(g.log.String(), "users file reloaded")
		})
		if code := g.login("erin", "erin-pw"); code != http.StatusOK {
			t.Errorf("after the watcher's reload login erin = %d, want 200", code)
		}
		if code := g.login("carol", "carol-pw"); code != http.StatusUnauthorized {
			t.Errorf("removed user carol login = %d, want 401", code)
		}
	})
}
