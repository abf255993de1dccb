package users

import (
	"testing"

	"github.com/portcullis-gw/portcullis/config"
)

// FuzzParse: the users-file parser never panics, and a Set it returns is
// non-empty with only valid names and roles.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile(f)))
	f.Add([]byte(""))
	f.Add([]byte("users: {}\n"))
	f.Add([]byte("users:\n  a: &x {password_hash: '$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'}\n  b: *x\n"))
	f.Add([]byte("users:\n  a:\n    password_hash: '$2a$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'\n    roles: [a, b]\n"))
	f.Add([]byte("users:\n  <<: *a\n"))
	// Caps low enough that a fuzzed hash can never cost real time.
	limit := config.Argon2Limit{MaxMemoryKiB: 1024, MaxIterations: 2, MaxParallelism: 2}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parse("fuzz.yaml", data, limit)
		if err != nil {
			if s != nil {
				t.Fatal("parse returned a Set with an error")
			}
			return
		}
		if s.Len() == 0 {
			t.Fatal("parse accepted a file without users")
		}
		for name, e := range s.users {
			if !config.ValidUsername(name) || e.hash == nil || len(e.user.Fingerprint) != 32 {
				t.Fatalf("parse accepted user %q = %+v", name, e.user)
			}
			for _, r := range e.user.Roles {
				if !config.ValidRole(r) {
					t.Fatalf("parse accepted role %q", r)
				}
			}
		}
	})
}
