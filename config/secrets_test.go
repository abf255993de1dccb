package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSecretFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		check func(*Config) bool
		want  []string
	}{
		{
			name:  "trailing newline trimmed",
			doc:   "admin:\n  token_file: admin-token\n",
			check: func(c *Config) bool { return c.Admin.Token.Reveal() == strings.Repeat("a", 40) },
		},
		{
			name:  "trailing CRLF trimmed",
			doc:   "tokens:\n  keys:\n    - {id: k, alg: HS256, secret_file: crlf-secret}\n",
			check: func(c *Config) bool { return c.Tokens.Keys[0].Secret.Reveal() == strings.Repeat("c", 32) },
		},
		{
			name: "redis passwords",
			doc: hsKeys + "sessions:\n  store: redis\n  redis:\n    mode: sentinel\n    master_name: m\n    addrs: [\"s:26379\"]\n" +
				"    password_file: admin-token\n    sentinel_password_file: hmac-secret\n",
			check: func(c *Config) bool {
				r := c.Sessions.Redis
				return r.Password.Reveal() == strings.Repeat("a", 40) && r.SentinelPassword.Reveal() == strings.Repeat("s", 32)
			},
		},
		{
			name: "admin token and token_file",
			doc:  "admin:\n  token: " + strings.Repeat("x", 32) + "\n  token_file: admin-token\n",
			want: []string{"gateway.yaml:3: admin.token_file: set only one of token and token_file"},
		},
		{
			name: "redis password and password_file",
			doc:  "sessions:\n  redis:\n    password: pw\n    password_file: admin-token\n    sentinel_password: pw\n    sentinel_password_file: admin-token\n",
			want: []string{
				"gateway.yaml:4: sessions.redis.password_file: set only one of password and password_file",
				"gateway.yaml:6: sessions.redis.sentinel_password_file: set only one of sentinel_password and sentinel_password_file",
			},
		},
		{
			name: "key secret and secret_file",
			doc:  "tokens:\n  keys:\n    - id: k\n      alg: HS256\n      secret: " + strings.Repeat("x", 32) + "\n      secret_file: hmac-secret\n",
			want: []string{"gateway.yaml:6: tokens.keys[0].secret_file: set only one of secret and secret_file"},
		},
		{
			name: "missing file",
			doc:  "admin:\n  token_file: missing-token\n",
			want: []string{"gateway.yaml:2: admin.token_file: missing-token: no such file or directory"},
		},
		{
			name: "missing key secret file in the second key",
			doc:  "tokens:\n  keys:\n    - {id: a, alg: HS256, secret_file: hmac-secret}\n    - id: b\n      alg: HS256\n      secret_file: nope\n",
			want: []string{"gateway.yaml:6: tokens.keys[1].secret_file: nope: no such file or directory"},
		},
		{
			name: "empty file",
			doc:  "admin:\n  token_file: empty\n",
			want: []string{"gateway.yaml:2: admin.token_file: empty is empty"},
		},
		{
			name: "directory",
			doc:  "admin:\n  token_file: .\n",
			want: []string{"gateway.yaml:2: admin.token_file: "},
		},
		{
			name: "device is refused rather than read",
			doc:  "admin:\n  token_file: /dev/zero\n",
			want: []string{"gateway.yaml:2: admin.token_file: /dev/zero is not a regular file"},
		},
		{
			name: "missing key and TLS files are named with their line",
			doc: "server:\n  tls:\n    cert_file: nope.crt\n    key_file: key.pem\n" +
				"routes:\n  - name: r\n    upstream: https://b\n    tls:\n      ca_file: nope-ca.pem\n",
			want: []string{
				"gateway.yaml:3: server.tls.cert_file: nope.crt: no such file or directory",
				"gateway.yaml:9: routes[0].tls.ca_file: nope-ca.pem: no such file or directory",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, got := loadDoc(t, tt.doc+usersLine, nil)
			checkProblems(t, got, tt.want)
			if tt.check != nil && (c == nil || !tt.check(c)) {
				t.Errorf("secrets not read as expected")
			}
		})
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	sub := filepath.Join(dir, "conf")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "key.pem")
	doc := "users:\n  file: ../users.yaml\n" +
		"admin:\n  token_file: ../admin-token\n" +
		"tokens:\n  keys:\n    - {id: k, alg: EdDSA, private_key_file: " + abs + "}\n"
	file := filepath.Join(sub, "gateway.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if want := filepath.Join(dir, "users.yaml"); c.Users.File != want {
		t.Errorf("users.file = %q, want %q", c.Users.File, want)
	}
	if c.Tokens.Keys[0].PrivateKeyFile != abs {
		t.Errorf("private_key_file = %q, want the absolute path %q unchanged", c.Tokens.Keys[0].PrivateKeyFile, abs)
	}
	if c.Path != file {
		t.Errorf("Path = %q, want %q", c.Path, file)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "admin:\n  token_file: admin-token\ntokens:\n  keys:\n    - {id: k, alg: HS256, secret_file: hmac-secret}\n"+usersLine, nil)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s %#v", c, c, c, c.Admin.Token, c.Admin.Token) + string(js)
	for _, secret := range []string{strings.Repeat("a", 40), strings.Repeat("s", 32)} {
		if strings.Contains(out, secret) {
			t.Errorf("formatted config reveals a secret")
		}
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "token", c.Admin.Token, "key", c.Tokens.Keys[0].Secret)
	if strings.Contains(b.String(), strings.Repeat("a", 40)) || !strings.Contains(b.String(), "[redacted]") {
		t.Errorf("slog output %q is not redacted", b.String())
	}
}
