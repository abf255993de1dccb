package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// The configs shipped in the repository must keep passing check as the
// schema evolves.
func TestShippedConfigsCheck(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("root gateway.yaml", func(t *testing.T) {
		t.Parallel()
		if code, out, errOut := runBin(t, nil, "check", "-config", filepath.Join(root, "gateway.yaml")); code != 0 {
			t.Errorf("check gateway.yaml = %d %q %q, want 0", code, out, errOut)
		}
	})

	t.Run("deploy/gateway.yaml", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile(filepath.Join(root, "deploy", "gateway.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// Recreate the container layout (secrets, users) in a temp dir.
		dir := t.TempDir()
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "ed25519.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
		writeFile(t, dir, "admin-token", strings.Repeat("a", 40)+"\n")
		writeFile(t, dir, "redis-password", "pw\n")
		body := strings.ReplaceAll(string(data), "/run/secrets/portcullis/", dir+"/")
		body = strings.ReplaceAll(body, "/etc/portcullis/users/users.yaml", demoUsers(t))
		cfg := writeFile(t, dir, "gateway.yaml", body)
		if code, out, errOut := runBin(t, nil, "check", "-config", cfg); code != 0 {
			t.Errorf("check deploy/gateway.yaml = %d %q %q, want 0", code, out, errOut)
		}
	})
}

// TestRootConfigListenFromEnv: the root gateway.yaml takes both listen
// addresses from PORTCULLIS_LISTEN and PORTCULLIS_METRICS_LISTEN (defaults
// 127.0.0.1:8080 and :9464), so a busy port is an environment variable away;
// a malformed value fails check at the line of the key.
func TestRootConfigListenFromEnv(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", "..", "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("serve on the given addresses", func(t *testing.T) {
		t.Parallel()
		proxyAddr, metricsAddr := sessionstest.FreeAddr(t), sessionstest.FreeAddr(t)
		g := startGatewayEnv(t, []string{"PORTCULLIS_LISTEN=" + proxyAddr, "PORTCULLIS_METRICS_LISTEN=" + metricsAddr},
			root, proxyAddr, metricsAddr)
		if code, body := g.get(g.proxy + "/public/hello"); code != http.StatusOK {
			t.Errorf("GET /public/hello on PORTCULLIS_LISTEN = %d %q, want 200", code, body)
		}
	})
	tests := []struct {
		name string
		env  []string
		want string // stderr; "" = check passes
	}{
		{"empty falls back to the default", []string{"PORTCULLIS_LISTEN=", "PORTCULLIS_METRICS_LISTEN="}, ""},
		{"not host:port", []string{"PORTCULLIS_LISTEN=nonsense"}, `server.listen: want host:port`},
		{"YAML injection stays a value", []string{"PORTCULLIS_LISTEN=127.0.0.1:1\"\nusers: {}"}, `server.listen: want host:port`},
		{"bad metrics port", []string{"PORTCULLIS_METRICS_LISTEN=127.0.0.1:99999"}, `metrics.listen: invalid port "99999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runBin(t, tt.env, "check", "-config", root)
			if tt.want == "" && (code != 0 || errOut != "") || tt.want != "" && (code != 1 || !strings.Contains(errOut, tt.want)) {
				t.Errorf("check with %q = %d %q, want %q", tt.env, code, errOut, tt.want)
			}
		})
	}
}
