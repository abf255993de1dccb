package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/users"
)

// pipeStdin returns the read end of a pipe that yields input, then EOF.
func pipeStdin(t *testing.T, input string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.WriteString(input)
		w.Close()
	}()
	t.Cleanup(func() { r.Close() })
	return r
}

// authenticates loads hash into a users file and checks password against it
// with the users package, as the gateway will.
func authenticates(t *testing.T, hash, password string) bool {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte("users:\n  u:\n    password_hash: '"+hash+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := users.Load(path, config.Argon2Limit{})
	if err != nil {
		t.Fatalf("users.Load(printed hash) = %v", err)
	}
	_, ok := set.Authenticate("u", password)
	return ok
}

func TestHashPasswordPrintsVerifiableHash(t *testing.T) {
	tests := []struct {
		name, input, password, prefix string
		args                          []string
	}{
		{"argon2id, LF", "correct horse\n", "correct horse", "$argon2id$v=19$m=19456,t=2,p=1$", nil},
		{"bcrypt, CRLF, only the first line", "tr0ub4dor&3\r\nignored\n", "tr0ub4dor&3", "$2a$12$", []string{"-bcrypt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runHashPassword(tt.args, pipeStdin(t, tt.input), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("runHashPassword = %d, stderr %q; want 0", code, stderr.String())
			}
			out := stdout.String()
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("stdout = %q, want one line", out)
			}
			hash := strings.TrimSuffix(out, "\n")
			if !strings.HasPrefix(hash, tt.prefix) {
				t.Errorf("hash = %q, want prefix %q", hash, tt.prefix)
			}
			if strings.Contains(stderr.String(), tt.password) {
				t.Errorf("stderr %q echoes the password", stderr.String())
			}
			if !authenticates(t, hash, tt.password) {
				t.Errorf("the printed hash does not verify %q", tt.password)
			}
		})
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		input string
		code  int
		want  string
	}{
		{"empty input", nil, "", 1, "empty password"},
		{"empty line", nil, "\n", 1, "empty password"},
		{"CRLF only", nil, "\r\n", 1, "empty password"},
		{"over 1024 bytes", nil, strings.Repeat("x", 1025) + "\n", 1, "longer than 1024"},
		{"1 MB without newline", nil, strings.Repeat("x", 1<<20), 1, "longer than 1024"},
		{"bcrypt over 72 bytes", []string{"-bcrypt"}, strings.Repeat("x", 73) + "\n", 1, "72 bytes"},
		{"positional argument", []string{"secret"}, "x\n", 2, "unexpected argument"},
		{"unknown flag", []string{"-cost", "4"}, "x\n", 2, "flag provided but not defined"},
		{"help", []string{"-h"}, "", 0, "Usage: portcullis hash-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := runHashPassword(tt.args, pipeStdin(t, tt.input), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("runHashPassword = %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	t.Parallel()
	max := strings.Repeat("m", users.MaxPasswordBytes)
	tests := []struct {
		name, input, want string
		err               bool
	}{
		{"LF", "pw\n", "pw", false},
		{"CRLF", "pw\r\n", "pw", false},
		{"no newline", "pw", "pw", false},
		{"inner spaces kept", "  p w  \n", "  p w  ", false},
		{"first line only", "a\nb\n", "a", false},
		{"1024 bytes with CRLF", max + "\r\n", max, false},
		{"1025 bytes", max + "x\n", "", true},
		{"empty", "\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readLine(strings.NewReader(tt.input))
			if (err != nil) != tt.err || (err == nil && string(got) != tt.want) {
				t.Errorf("readLine(%q) = %q, %v; want %q, error %v", tt.input, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestPromptTwice(t *testing.T) {
	t.Parallel()
	reader := func(answers ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(answers) == 0 {
				return nil, errors.New("EOF")
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}
	}
	tests := []struct {
		name    string
		answers []string
		want    string
		err     string
	}{
		{"match", []string{"pw", "pw"}, "pw", ""},
		{"mismatch", []string{"pw", "pW"}, "", "do not match"},
		{"empty", []string{""}, "", "empty password"},
		{"too long", []string{strings.Repeat("x", 1025)}, "", "longer than 1024"},
		{"no confirmation", []string{"pw"}, "", "read password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var prompt bytes.Buffer
			got, err := promptTwice(reader(tt.answers...), &prompt)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("promptTwice = %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("promptTwice = %q, %v; want %q", got, err, tt.want)
			}
			if p := prompt.String(); !strings.Contains(p, "Password: ") || !strings.Contains(p, "Confirm password: ") || strings.Contains(p, tt.want) {
				t.Errorf("prompt = %q, want both prompts and no password", p)
			}
		})
	}
}
