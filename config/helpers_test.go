package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usersLine ends most test documents so that the lines above it keep their numbers.
const usersLine = "users: {file: users.yaml}\n"

// fixtures are the files test configs refer to, relative to the config file.
var fixtures = map[string]string{
	"users.yaml":  "users: {}\n",
	"admin-token": strings.Repeat("a", 40) + "\n",
	"short-token": "short\n",
	"hmac-secret": strings.Repeat("s", 32) + "\n",
	"crlf-secret": strings.Repeat("c", 32) + "\r\n",
	"empty":       "",
	"key.pem":     "config only checks that key files exist\n",
}

func fixtureDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fixtures {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// loadDoc loads doc as <tmp>/gateway.yaml next to the fixtures, with env as
// the whole environment. It returns the problems with the directory removed,
// so they read "gateway.yaml:3: path: message".
func loadDoc(t *testing.T, doc string, env map[string]string) (*Config, []string) {
	t.Helper()
	dir := fixtureDir(t)
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse(file, []byte(doc), mapLookup(env))
	if err == nil {
		if c == nil {
			t.Fatal("parse returned neither a config nor an error")
		}
		return c, nil
	}
	if c != nil {
		t.Errorf("parse returned a config together with an error")
	}
	var lines []string
	for _, fe := range FieldErrors(err) {
		if fe.File != file {
			t.Errorf("problem %q has File %q, want %q", fe.Error(), fe.File, file)
		}
		lines = append(lines, strings.ReplaceAll(fe.Error(), dir+string(filepath.Separator), ""))
	}
	return nil, lines
}

// mustLoad loads doc and fails the test on any problem.
func mustLoad(t *testing.T, doc string, env map[string]string) *Config {
	t.Helper()
	c, probs := loadDoc(t, doc, env)
	if probs != nil {
		t.Fatalf("Load:\n%s\nwant no error", strings.Join(probs, "\n"))
	}
	return c
}

// checkProblems asserts one problem per want, in order, each starting with its want.
func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("problems:\n  %s\nwant (prefixes):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestFieldErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fe   FieldError
		want string
	}{
		{FieldError{File: "g.yaml", Line: 3, Path: "a.b", Msg: "bad"}, "g.yaml:3: a.b: bad"},
		{FieldError{File: "g.yaml", Path: "users.file", Msg: "required"}, "g.yaml: users.file: required"},
		{FieldError{File: "g.yaml", Line: 2, Msg: "syntax"}, "g.yaml:2: syntax"},
		{FieldError{Path: "a", Msg: "bad"}, "a: bad"},
		{FieldError{Line: 7, Path: "a", Msg: "bad"}, "a: bad"},
	}
	for _, tt := range tests {
		if got := tt.fe.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	file := filepath.Join(dir, "gateway.yaml")
	doc := "server:\n  listen: nope\nlog:\n  level: loud\n" + usersLine
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if c != nil || err == nil {
		t.Fatalf("Load = %v, %v; want nil and an error", c, err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FieldError) = false", err)
	}
	if fe.File != file || fe.Line != 2 || fe.Path != "server.listen" {
		t.Errorf("first FieldError = %+v, want %s line 2 server.listen", fe, file)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 2 {
		t.Errorf("joined errors = %d, want 2", n)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load(missing) = %v, want a FieldError naming the missing file", err)
	}
}

func TestLoadOversizedFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "big.yaml")
	big := "# " + strings.Repeat("x", maxConfigBytes) + "\n"
	if err := os.WriteFile(file, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(oversized) = %v, want a size error", err)
	}
}

func TestLoadDirectoryAsConfig(t *testing.T) {
	t.Parallel()
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(dir) = %v, want a not-a-regular-file error", err)
	}
}
