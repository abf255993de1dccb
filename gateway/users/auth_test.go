package users

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/portcullis-gw/portcullis/config"
)

// recorder observes which hash Authenticate verifies.
type recorder struct {
	mu   sync.Mutex
	seen []hash
}

func (r *recorder) observe(h hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, h)
}

func (r *recorder) take() []hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, goodFile(t))
	rec := &recorder{}
	s.onVerify = rec.observe
	tests := []struct {
		name, user, password string
		ok                   bool
		verified             string // the hash Authenticate must have run: a user, or "dummy"
	}{
		{"argon2id right", "alice", "alice-pw", true, "alice"},
		{"argon2id wrong", "alice", "alice-pw ", false, "alice"},
		{"bcrypt right", "bob", "bob-pw", true, "bob"},
		{"bcrypt wrong", "bob", "Bob-pw", false, "bob"},
		{"disabled, right password", "carol@example.com", "carol-pw ✓ ü", false, "carol@example.com"},
		{"disabled, wrong password", "carol@example.com", "x", false, "carol@example.com"},
		{"unknown user", "mallory", "alice-pw", false, "dummy"},
		{"case differs", "Alice", "alice-pw", false, "dummy"},
		{"empty password", "alice", "", false, "dummy"},
		{"password over 1024 bytes", "alice", strings.Repeat("a", MaxPasswordBytes+1), false, "dummy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := s.Authenticate(tt.user, tt.password)
			if ok != tt.ok {
				t.Errorf("Authenticate(%q) = %v, want %v", tt.user, ok, tt.ok)
			}
			if ok && (u.Name != tt.user || u.Fingerprint == "") {
				t.Errorf("Authenticate(%q) user = %+v", tt.user, u)
			}
			if !ok && (u.Name != "" || u.Roles != nil) {
				t.Errorf("Authenticate(%q) failed but returned %+v", tt.user, u)
			}
			seen := rec.take()
			if len(seen) != 1 {
				t.Fatalf("Authenticate ran %d verifications, want exactly 1", len(seen))
			}
			want := s.dummy
			if tt.verified != "dummy" {
				want = s.users[tt.verified].hash
			}
			if seen[0] != want {
				t.Errorf("Authenticate(%q) verified %v, want %s's hash", tt.user, seen[0].kind(), tt.verified)
			}
		})
	}
}

// TestDummyCostsLikeADefaultHash: the unknown-user path verifies a hash with
// exactly the parameters Hash produces, and its verification is a real
// argon2id derivation (no timers: the equivalence is structural).
func TestDummyCostsLikeADefaultHash(t *testing.T) {
	t.Parallel()
	enc, err := Hash("some password", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want the default argon2id parameters", enc)
	}
	h, err := parseHash(enc, config.Argon2Limit{})
	if err != nil {
		t.Fatalf("parseHash(Hash()) = %v", err)
	}
	real := h.(*argonHash)
	if real.memory != dummyHash.memory || real.iterations != dummyHash.iterations ||
		real.parallelism != dummyHash.parallelism || len(real.key) != len(dummyHash.key) || len(real.salt) != len(dummyHash.salt) {
		t.Errorf("dummy = m=%d t=%d p=%d key %d salt %d; default hash = m=%d t=%d p=%d key %d salt %d",
			dummyHash.memory, dummyHash.iterations, dummyHash.parallelism, len(dummyHash.key), len(dummyHash.salt),
			real.memory, real.iterations, real.parallelism, len(real.key), len(real.salt))
	}
	if !h.verify([]byte("some password")) {
		t.Error("default hash does not verify its own password")
	}
	if dummyHash.verify([]byte("portcullis-dummy")) {
		t.Error("the dummy hash matched a password")
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		bcrypt   bool
		wantErr  string
	}{
		{"argon2id", "correct horse", false, ""},
		{"bcrypt", "correct horse", true, ""},
		{"empty", "", false, "empty password"},
		{"over 1024 bytes", strings.Repeat("x", MaxPasswordBytes+1), false, "longer than 1024"},
		{"bcrypt over 72 bytes", strings.Repeat("x", 73), true, "72 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			enc, err := Hash(tt.password, tt.bcrypt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Hash = %q, %v; want error %q", enc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Hash = %v", err)
			}
			if tt.bcrypt {
				// One cost-12 derivation is seconds under -race: check the
				// format here; bcrypt verification is tested at cost 4.
				if cost, _ := bcrypt.Cost([]byte(enc)); cost != BcryptCost || !strings.HasPrefix(enc, "$2a$") {
					t.Errorf("bcrypt hash %q: cost %d, want $2a$ cost %d", enc, cost, BcryptCost)
				}
				if _, err := parseHash(enc, config.Argon2Limit{}); err != nil {
					t.Errorf("parseHash(Hash(bcrypt)) = %v", err)
				}
				return
			}
			s := mustLoad(t, "users:\n  u:\n    password_hash: '"+enc+"'\n")
			if _, ok := s.Authenticate("u", tt.password); !ok {
				t.Errorf("Authenticate(Hash(%q)) = false", tt.password)
			}
		})
	}
	a, _ := HashArgon2id("same", 64, 1, 1)
	b, _ := HashArgon2id("same", 64, 1, 1)
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if _, err := HashArgon2id("pw", 8, 1, 2); err == nil {
		t.Error("HashArgon2id(m < 8p) = nil error")
	}
}

// TestDummyFollowsTheFile: an unknown user costs what most known users
// cost, whatever the file was hashed with (the old default m=65536,t=3,p=2,
// bcrypt), not the current default: else a faster 401 tells that a name is
// unknown. The dummy's key matches no password.
func TestDummyFollowsTheFile(t *testing.T) {
	t.Parallel()
	argon := func(m, it uint32, p uint8) string {
		enc, err := HashArgon2id("pw", m, it, p)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	if err != nil {
		t.Fatal(err)
	}
	file := func(hs ...string) string {
		var b strings.Builder
		b.WriteString("users:\n")
		for i, h := range hs {
			fmt.Fprintf(&b, "  u%d:\n    password_hash: %q\n", i, h)
		}
		return b.String()
	}
	old, cheap := argon(65536, 3, 2), argon(64, 1, 1)
	tests := []struct {
		name    string
		content string
		want    string // kind and parameters
	}{
		{"old default", file(old, old), "argon2id m=65536 t=3 p=2"},
		{"most users win", file(cheap, old, cheap), "argon2id m=64 t=1 p=1"},
		{"a tie: the costlier", file(cheap, old), "argon2id m=65536 t=3 p=2"},
		{"bcrypt only", file(string(bc)), "bcrypt 5"},
		{"bcrypt majority", file(string(bc), string(bc), cheap), "bcrypt 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustLoad(t, tt.content)
			if got := describeHash(t, s.dummy); got != tt.want {
				t.Fatalf("dummy = %s, want %s", got, tt.want)
			}
			rec := &recorder{}
			s.onVerify = rec.observe
			for _, pw := range []string{"pw", "", "portcullis-dummy"} {
				if _, ok := s.Authenticate("nobody", pw); ok {
					t.Fatalf("unknown user authenticated with %q", pw)
				}
			}
			if seen := rec.take(); len(seen) != 3 || seen[0] != s.dummy {
				t.Fatalf("unknown user verified %d hashes, want the dummy each time", len(seen))
			}
		})
	}
}

// describeHash names h's scheme and cost.
func describeHash(t *testing.T, h hash) string {
	t.Helper()
	switch d := h.(type) {
	case *argonHash:
		return fmt.Sprintf("argon2id m=%d t=%d p=%d", d.memory, d.iterations, d.parallelism)
	case *bcryptHash:
		c, err := bcrypt.Cost(d.encoded)
		if err != nil {
			t.Fatalf("bcrypt hash malformed: %v", err)
		}
		return fmt.Sprintf("bcrypt %d", c)
	}
	return "unknown"
}

// TestLanes: the cores a check keeps busy are the parallelism of the hash
// Authenticate will verify: the user's, or the dummy's for an unknown user or
// an unacceptable password; bcrypt uses one.
func TestLanes(t *testing.T) {
	t.Parallel()
	p2, err := HashArgon2id("pw", 64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := HashArgon2id("pw", 64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, fmt.Sprintf("users:\n  a:\n    password_hash: %q\n  b:\n    password_hash: %q\n  c:\n    password_hash: %q\n  d:\n    password_hash: %q\n", p2, p2, p1, bc))
	for _, tc := range []struct {
		name, password string
		want           int
	}{
		{"a", "x", 2}, {"c", "x", 1}, {"d", "x", 1},
		{"nobody", "x", 2}, // the dummy imitates the majority (p=2)
		{"c", "", 2}, {"c", strings.Repeat("x", MaxPasswordBytes+1), 2},
	} {
		if got := s.Lanes(tc.name, tc.password); got != tc.want {
			t.Errorf("Lanes(%q, %d-byte password) = %d, want %d", tc.name, len(tc.password), got, tc.want)
		}
	}
}
