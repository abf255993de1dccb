package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/portcullis-gw/portcullis/config"
)

// Cheap fixtures: tiny argon2id parameters and bcrypt's minimum cost keep
// the suite fast; the default-parameter paths are tested separately.
var (
	fixturesOnce sync.Once
	fixtures     struct{ alice, bob, carol string }
)

func hashes(t testing.TB) (alice, bob, carol string) {
	t.Helper()
	fixturesOnce.Do(func() {
		var err error
		if fixtures.alice, err = HashArgon2id("alice-pw", 64, 1, 1); err != nil {
			panic(err)
		}
		b, err := bcrypt.GenerateFromPassword([]byte("bob-pw"), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		fixtures.bob = string(b)
		if fixtures.carol, err = HashArgon2id("carol-pw ✓ ü", 64, 1, 1); err != nil {
			panic(err)
		}
	})
	return fixtures.alice, fixtures.bob, fixtures.carol
}

func goodFile(t testing.TB) string {
	alice, bob, carol := hashes(t)
	return "# demo users\nusers:\n" +
		"  alice:\n    password_hash: \"" + alice + "\"\n    roles: [admin, staff]\n" +
		"  bob:\n    password_hash: '" + bob + "'\n    roles:\n      - staff\n      - \"team:ops\"\n    disabled: false\n" +
		"  carol@example.com:\n    password_hash: " + carol + "\n    disabled: true\n"
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t testing.TB, content string) *Set {
	t.Helper()
	s, err := Load(writeFile(t, t.TempDir(), "users.yaml", content), config.Argon2Limit{})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	return s
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, goodFile(t))
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	a, ok := s.Lookup("alice")
	if !ok || a.Name != "alice" || strings.Join(a.Roles, ",") != "admin,staff" || a.Disabled {
		t.Errorf("Lookup(alice) = %+v, %v", a, ok)
	}
	if len(a.Fingerprint) != 32 {
		t.Errorf("Fingerprint = %q, want 32 hex digits", a.Fingerprint)
	}
	b, _ := s.Lookup("bob")
	if strings.Join(b.Roles, ",") != "staff,team:ops" || b.Fingerprint == a.Fingerprint {
		t.Errorf("Lookup(bob) = %+v", b)
	}
	if c, _ := s.Lookup("carol@example.com"); !c.Disabled || c.Roles != nil {
		t.Errorf("Lookup(carol) = %+v, want disabled without roles", c)
	}
	// A disabled user fails Authenticate although the (non-ASCII) password matches.
	if !s.users["carol@example.com"].hash.verify([]byte("carol-pw ✓ ü")) {
		t.Error("carol's hash does not verify her password")
	}
	for _, name := range []string{"Alice", "alice ", "", "nobody"} {
		if u, ok := s.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, want not found (exact match only)", name, u)
		}
	}
	// Lookup returns a copy: callers cannot change the Set.
	a.Roles[0] = "root"
	if again, _ := s.Lookup("alice"); again.Roles[0] != "admin" {
		t.Errorf("mutating a returned User changed the Set: %v", again.Roles)
	}
	// The fingerprint is stable across loads and follows the hash.
	if a2, _ := mustLoad(t, goodFile(t)).Lookup("alice"); a2.Fingerprint != a.Fingerprint {
		t.Errorf("Fingerprint changed across loads: %q vs %q", a2.Fingerprint, a.Fingerprint)
	}
}

func TestLoadBcryptVariants(t *testing.T) {
	t.Parallel()
	_, bob, _ := hashes(t)
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			h := prefix + bob[4:]
			s := mustLoad(t, "users:\n  bob:\n    password_hash: '"+h+"'\n")
			if _, ok := s.Authenticate("bob", "bob-pw"); !ok {
				t.Errorf("Authenticate(%s hash) = false, want true", prefix)
			}
			if _, ok := s.Authenticate("bob", "bob-pw!"); ok {
				t.Errorf("Authenticate(%s hash, wrong) = true", prefix)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	alice, bob, _ := hashes(t)
	user := func(body string) string { return "users:\n  alice:\n" + body }
	withHash := func(h string) string { return user("    password_hash: '" + h + "'\n") }
	argon := func(params, salt, key string) string {
		return withHash("$argon2id$v=19$" + params + "$" + salt + "$" + key)
	}
	parts := strings.Split(alice, "$") // "", argon2id, v=19, params, salt, key
	salt, key := parts[4], parts[5]
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty file", "", "empty users file"},
		{"only comments", "# nothing\n", "empty users file"},
		{"users null", "users:\n", "no users defined"},
		{"users empty mapping", "users: {}\n", "no users defined"},
		{"users a list", "users: [alice]\n", "must be a mapping"},
		{"top level a list", "- alice\n", "must be a mapping"},
		{"unknown top-level key with line", "users:\n  alice:\n    password_hash: '" + alice + "'\ngroups: {}\n", "users.yaml:4: unknown key \"groups\""},
		{"unknown user key with line", user("    password_hash: '" + alice + "'\n    password: hunter2\n"), "users.yaml:4: users.alice: unknown key \"password\""},
		{"bad username space", "users:\n  \"al ice\":\n    password_hash: '" + alice + "'\n", "users.yaml:2: users.\"al ice\": invalid username"},
		{"bad username slash", "users:\n  a/b:\n    password_hash: '" + alice + "'\n", "invalid username"},
		{"username too long", "users:\n  " + strings.Repeat("a", 129) + ":\n    password_hash: '" + alice + "'\n", "invalid username"},
		{"bad role", user("    password_hash: '" + alice + "'\n    roles: [admin, \"sta ff\"]\n"), "users.yaml:4: users.alice.roles[1]: invalid role"},
		{"role with comma", user("    password_hash: '" + alice + "'\n    roles: [\"a,b\"]\n"), "invalid role"},
		{"role null", user("    password_hash: '" + alice + "'\n    roles: [~]\n"), "invalid role"},
		{"roles a string", user("    password_hash: '" + alice + "'\n    roles: admin\n"), "must be a list"},
		{"env not expanded", user("    password_hash: '" + alice + "'\n    roles: [\"${ROLE}\"]\n"), "invalid role"},
		{"missing hash", user("    roles: [admin]\n"), "users.alice.password_hash: required"},
		{"hash not a string", user("    password_hash: 12345\n"), "must be a string"},
		{"hash empty", withHash(""), "password_hash: empty"},
		{"hash plain text", withHash("hunter2"), "unsupported format"},
		{"argon2i", withHash(strings.Replace(alice, "$argon2id$", "$argon2i$", 1)), "only the argon2id variant"},
		{"argon2d", withHash(strings.Replace(alice, "$argon2id$", "$argon2d$", 1)), "only the argon2id variant"},
		{"argon2 v=16", withHash(strings.Replace(alice, "v=19", "v=16", 1)), "v=19"},
		{"argon2 no version", withHash("$argon2id$m=64,t=1,p=1$" + salt + "$" + key), "malformed"},
		{"memory over cap", argon("m=262145,t=1,p=1", salt, key), "exceeds the cap of 262144"},
		{"iterations over cap", argon("m=64,t=11,p=1", salt, key), "exceed the cap of 10"},
		{"parallelism over cap", argon("m=1024,t=1,p=17", salt, key), "exceeds the cap of 16"},
		{"parallelism over uint8", argon("m=4096,t=1,p=256", salt, key), "exceeds the cap"},
		{"memory huge", argon("m=99999999999,t=1,p=1", salt, key), "must be a positive integer"},
		{"memory below 8p", argon("m=8,t=1,p=2", salt, key), "below 8×p"},
		{"zero iterations", argon("m=64,t=0,p=1", salt, key), "positive integer"},
		{"params reordered", argon("t=1,m=64,p=1", salt, key), "positive integer"},
		{"params negative", argon("m=-64,t=1,p=1", salt, key), "positive integer"},
		{"extra param", argon("m=64,t=1,p=1,x=2", salt, key), "m=…,t=…,p=…"},
		{"bad salt base64", argon("m=64,t=1,p=1", "!!!!", key), "not valid base64"},
		{"short salt", argon("m=64,t=1,p=1", "AAAA", key), "salt is 3 bytes"},
		{"short key", argon("m=64,t=1,p=1", salt, "AAAAAAAA"), "hash is 6 bytes"},
		{"extra segment", withHash(alice + "$x"), "malformed"},
		{"bcrypt truncated", withHash(bob[:40]), "malformed bcrypt"},
		{"bcrypt cost over cap", withHash(bob[:4] + "17" + bob[6:]), "bcrypt cost 17 exceeds 16"},
		{"bcrypt $2x$", withHash("$2x$" + bob[4:]), "unsupported format"},
		{"disabled a string", user("    password_hash: '" + alice + "'\n    disabled: \"yes\"\n"), "disabled: must be true or false"},
		{"disabled a number", user("    password_hash: '" + alice + "'\n    disabled: 1\n"), "disabled: must be true or false"},
		{"duplicate user", "users:\n  alice:\n    password_hash: '" + alice + "'\n  alice:\n    password_hash: '" + alice + "'\n", "users.yaml:4: users.alice: duplicate user (first at line 2)"},
		{"duplicate key in user", user("    password_hash: '" + alice + "'\n    password_hash: '" + alice + "'\n"), "defined twice"},
		{"user not a mapping", "users:\n  alice: secret\n", "users.alice: must be a mapping"},
		{"alias as user", "users:\n  alice: &a\n    password_hash: '" + alice + "'\n  eve: *a\n", "users.eve: must be a mapping"},
		{"merge key", "users:\n  <<: {eve: {password_hash: x}}\n", "keys must be usernames"},
		{"two documents", "users:\n  alice:\n    password_hash: '" + alice + "'\n---\nusers: {}\n", "more than one YAML document"},
		{"not yaml", "users: [\n", "users.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "users.yaml", tt.content)
			s, err := Load(path, config.Argon2Limit{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, %v; want error containing %q", s, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not start with the file name", err)
			}
			for _, h := range []string{alice, bob} {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error %q quotes a password hash", err)
				}
			}
		})
	}
}

func TestLoadCaps(t *testing.T) {
	t.Parallel()
	h, err := HashArgon2id("pw", 2048, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	content := "users:\n  a:\n    password_hash: '" + h + "'\n"
	path := writeFile(t, t.TempDir(), "users.yaml", content)
	tests := []struct {
		name  string
		limit config.Argon2Limit
		ok    bool
	}{
		{"defaults", config.Argon2Limit{}, true},
		{"exactly at the caps", config.Argon2Limit{MaxMemoryKiB: 2048, MaxIterations: 3, MaxParallelism: 4}, true},
		{"memory cap", config.Argon2Limit{MaxMemoryKiB: 2047}, false},
		{"iterations cap", config.Argon2Limit{MaxIterations: 2}, false},
		{"parallelism cap", config.Argon2Limit{MaxParallelism: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(path, tt.limit)
			if (err == nil) != tt.ok {
				t.Errorf("Load(limit %+v) = %v, want ok=%v", tt.limit, err, tt.ok)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), config.Argon2Limit{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

// TestLoadSizeLimit: a users file of exactly maxFileSize bytes loads; one
// byte more is refused before it is parsed, so an oversized file (a wrong
// path, a runaway generator) cannot make the gateway hold it all.
func TestLoadSizeLimit(t *testing.T) {
	t.Parallel()
	good := goodFile(t)
	pad := func(n int) string { // good, then a comment line up to n bytes in all
		return good + "#" + strings.Repeat("x", n-len(good)-2) + "\n"
	}
	dir := t.TempDir()
	if s, err := Load(writeFile(t, dir, "max.yaml", pad(maxFileSize)), config.Argon2Limit{}); err != nil || s.Len() != 3 {
		t.Fatalf("Load(%d bytes) = %v, %v; want 3 users", maxFileSize, s, err)
	}
	_, err := Load(writeFile(t, dir, "over.yaml", pad(maxFileSize+1)), config.Argon2Limit{})
	if err == nil || !strings.Contains(err.Error(), "larger than 16777216 bytes") {
		t.Fatalf("Load(%d bytes) = %v, want larger than 16777216 bytes", maxFileSize+1, err)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	content := "users:\n  \"bad name\":\n    password_hash: x\n  bob:\n    password_hash: nope\n    roles: [\"bad role\"]\n"
	_, err := Load(writeFile(t, t.TempDir(), "users.yaml", content), config.Argon2Limit{})
	if err == nil {
		t.Fatal("Load = nil, want errors")
	}
	for _, want := range []string{"users.yaml:2:", "users.yaml:5:", "users.yaml:6:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %q, want a problem at %s", err, want)
		}
	}
}

// TestLoadErrorsAreFieldErrors: a problem in the file's content is a
// *config.FieldError naming the users file, its line and the path inside
// it; a file that cannot be read is the config's users.file.
func TestLoadErrorsAreFieldErrors(t *testing.T) {
	t.Parallel()
	alice, _, _ := hashes(t)
	dir := t.TempDir()
	tests := []struct {
		name, content string
		line          int
		path, msg     string
	}{
		{"bad role", "users:\n  alice:\n    password_hash: '" + alice + "'\n    roles: [ok, \"sta ff\"]\n",
			4, "users.alice.roles[1]", "invalid role (want [A-Za-z0-9._:-]+)"},
		{"missing hash", "users:\n  alice:\n    roles: [a]\n", 3, "users.alice.password_hash", "required"},
		{"bad username", "users:\n  \"a b\":\n    password_hash: x\n", 2, `users."a b"`, "invalid username (want [A-Za-z0-9._@+-]{1,128})"},
		{"unknown top key", "users: {}\nextra: 1\n", 2, "", `unknown key "extra" (want users)`},
		{"syntax error", "users:\n  alice: [\n", 2, "", "did not find expected node content"},
		{"two documents", "users: {}\n---\nusers: {}\n", 2, "", "more than one YAML document"},
		{"empty file", "", 0, "", "empty users file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "users.yaml", tt.content)
			_, err := Load(path, config.Argon2Limit{})
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Load = %v, want a *config.FieldError", err)
			}
			want := config.FieldError{File: path, Line: tt.line, Path: tt.path, Msg: tt.msg}
			if *fe != want {
				t.Errorf("Load = %+v, want %+v", *fe, want)
			}
		})
	}
	missing := filepath.Join(dir, "nope.yaml")
	_, err := Load(missing, config.Argon2Limit{})
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.File != "" || fe.Path != "users.file" || fe.Msg != missing+": no such file or directory" {
		t.Errorf("Load(missing) = %#v, want users.file: %s: no such file or directory", err, missing)
	}
}
