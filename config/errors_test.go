package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
)

// lineDoc numbers its lines for TestConfigLine and TestLocate.
const lineDoc = `server:
  listen: ":8080"
tokens:
  keys:
    - id: a
      alg: HS256
      secret_file: hmac-secret
    - id: b
      alg: EdDSA
      private_key_file: key.pem
routes:
  - name: web
    upstream: http://127.0.0.1:9000
  - name: api
    path_prefix: /api
    upstream: https://api.internal
    tls:
      ca_file: key.pem
` + usersLine

func TestConfigLine(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, lineDoc, nil)
	tests := []struct {
		path string
		want int
	}{
		{"server", 1},
		{"server.listen", 2},
		{"tokens.keys[1]", 8},
		{"tokens.keys[1].alg", 9},
		{"tokens.keys[1].private_key_file", 10},
		{"routes[1].tls.ca_file", 18},
		{"users.file", 19},
		// Absent: the nearest ancestor in the file, else 0.
		{"tokens.keys[9]", 4},
		{"tokens.keys[1].public_key_file", 8},
		{"server.tls", 1},
		{"routes[1].tls.ca_file.x", 18},
		{"sessions.redis", 0},
		{"", 0},
		{"routes[", 11},
	}
	for _, tt := range tests {
		if got := c.Line(tt.path); got != tt.want {
			t.Errorf("Line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if got := (&Config{}).Line("server"); got != 0 {
		t.Errorf("Line on a Config not from Load = %d, want 0", got)
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, lineDoc, nil)
	key := &FieldError{Path: "tokens.keys[1].private_key_file", Msg: "no PEM key found"}
	ca := &FieldError{Path: "routes[1].tls.ca_file", Msg: "no PEM certificate found"}
	usersEntry := &FieldError{File: "users.yaml", Line: 3, Path: "users.bob.roles[0]", Msg: "invalid role"}
	err := fmt.Errorf("gateway: %w", errors.Join(
		fmt.Errorf("tokens: %w", key),
		errors.Join(ca, usersEntry),
		errors.New("metrics: boom"),
		&FieldError{Msg: "no path"},
	))
	f := c.Path
	want := []string{
		f + ":10: tokens.keys[1].private_key_file: no PEM key found",
		f + ":18: routes[1].tls.ca_file: no PEM certificate found",
		"users.yaml:3: users.bob.roles[0]: invalid role",
		f + ": metrics: boom",
		f + ": no path",
	}
	got := c.Locate(err)
	if len(got) != len(want) {
		t.Fatalf("Locate = %q, want %q", got, want)
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("Locate[%d] = %q, want %q", i, got[i].Error(), want[i])
		}
	}
	if key.File != "" || key.Line != 0 {
		t.Errorf("Locate modified the FieldError it was given: %+v", key)
	}
	if c.Locate(nil) != nil {
		t.Errorf("Locate(nil) is not empty")
	}
	// A plain error (no FieldError anywhere) keeps its whole text.
	if got := c.Locate(fmt.Errorf("gateway: %w", errors.New("x"))); len(got) != 1 || got[0].Error() != f+": gateway: x" {
		t.Errorf("Locate(plain) = %q", got)
	}
}

func TestYAMLError(t *testing.T) {
	t.Parallel()
	f := filepath.Join("d", "u.yaml")
	tests := []struct {
		doc, want string
	}{
		{"a: [x\n", f + ":1: did not find expected ',' or ']'"},
		{"a: *nope\n", f + ": unknown anchor 'nope' referenced"},
	}
	for _, tt := range tests {
		_, err := parseYAML(f, []byte(tt.doc))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Error() != tt.want {
			t.Errorf("parse %q = %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestFieldErrorUnwrap(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(absent) = %#v, want a FieldError wrapping fs.ErrNotExist", err)
	}
	if fe != nil && fe.Error() != fe.File+": no such file or directory" {
		t.Errorf("Error() = %q; the cause must not be printed twice", fe.Error())
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	fe := Errorf("routes[1].tls.ca_file", "%s: %w", "/ca.pem", fs.ErrNotExist)
	if fe.Error() != "routes[1].tls.ca_file: /ca.pem: file does not exist" || !errors.Is(fe, fs.ErrNotExist) {
		t.Errorf("Errorf = %q (Err %v), want the path, the message and ErrNotExist wrapped", fe, fe.Err)
	}
	if fe := Errorf("tokens.issuer", "required"); fe.Err != nil || fe.Error() != "tokens.issuer: required" {
		t.Errorf("Errorf without %%w = %q, Err %v", fe, fe.Err)
	}
}
