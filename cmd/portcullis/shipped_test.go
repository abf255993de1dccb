package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
