package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// loginToken logs in and returns the access token.
func (g *gatewayProc) loginToken(t *testing.T, user, password string) string {
	t.Helper()
	code, body := doRequest(http.MethodPost, g.proxy+"/auth/login",
		http.Header{"Content-Type": {"application/json"}},
		`{"username":"`+user+`","password":"`+password+`"}`)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.AccessToken == "" {
		t.Fatalf("login %s = %d %s, want 200 with a token", user, code, body)
	}
	return out.AccessToken
}

// bearerStatus is the status of GET path with the token.
func (g *gatewayProc) bearerStatus(path, token string) int {
	code, _ := doRequest(http.MethodGet, g.proxy+path, http.Header{"Authorization": {"Bearer " + token}}, "")
	return code
}

func hsKey(id, fill string) string {
	return "    - id: " + id + "\n      alg: HS256\n      secret: \"" + strings.Repeat(fill, 32) + "\"\n"
}

func TestKeyRotationBySIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	usersPath := writeFile(t, dir, "users.yaml", usersFile(t, "carol"))
	proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
	base := strings.Replace(testConfig(t, proxyAddr, metricsAddr, publicRoute), demoUsers(t), usersPath, 1)
	write := func(keys ...string) {
		writeFile(t, dir, "gateway.yaml", base+"tokens:\n  keys:\n"+strings.Join(keys, ""))
	}
	write(hsKey("k1", "a"))
	g := startGateway(t, dir+"/gateway.yaml", proxyAddr, metricsAddr)
	old := g.loginToken(t, "carol", "carol-pw")
	hup := func(result string) {
		t.Helper()
		before := g.metric(`portcullis_config_reloads_total{result="` + result + `"}`)
		g.signal(syscall.SIGHUP)
		g.waitFor(5*time.Second, "reload "+result, func() bool {
			return g.metric(`portcullis_config_reloads_total{result="`+result+`"}`) != before
		})
	}

	// Sub-tests share one process and run in order.
	t.Run("new key first: it signs, the old one still verifies", func(t *testing.T) {
		write(hsKey("k2", "b"), hsKey("k1", "a"))
		hup("success")
		if code := g.bearerStatus("/x", old); code != http.StatusOK {
			t.Errorf("token signed by k1 after adding k2 = %d, want 200", code)
		}
		fresh := g.loginToken(t, "carol", "carol-pw")
		if code := g.bearerStatus("/x", fresh); code != http.StatusOK {
			t.Errorf("token signed by k2 = %d, want 200", code)
		}
	})
	t.Run("an invalid key refuses the reload", func(t *testing.T) {
		write(hsKey("k3", "c"), "    - id: k9\n      alg: HS256\n      secret: \"short\"\n")
		hup("failure")
		if code := g.bearerStatus("/x", old); code != http.StatusOK {
			t.Errorf("k1 token after a refused reload = %d, want 200", code)
		}
	})
	t.Run("old key removed: its tokens are refused", func(t *testing.T) {
		write(hsKey("k2", "b"))
		hup("success")
		if code := g.bearerStatus("/x", old); code != http.StatusUnauthorized {
			t.Errorf("token signed by the removed k1 = %d, want 401", code)
		}
	})
}
