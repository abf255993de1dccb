package config

import (
	"regexp"
	"strings"
	"testing"
)

// The grammars as SPEC §3 and the error messages write them: the oracle
// the byte loops are held to.
var (
	usernameOracle = regexp.MustCompile("^" + UsernameGrammar + "$")
	roleOracle     = regexp.MustCompile("^" + RoleGrammar + "$")
)

// TestGrammarText pins the text against SPEC §3.
func TestGrammarText(t *testing.T) {
	if UsernameGrammar != `[A-Za-z0-9._@+-]{1,128}` || RoleGrammar != `[A-Za-z0-9._:-]+` {
		t.Fatalf("grammars %q and %q differ from SPEC §3", UsernameGrammar, RoleGrammar)
	}
}

func TestGrammars(t *testing.T) {
	for _, tc := range []struct {
		s              string
		username, role bool
	}{
		{"alice", true, true},
		{"alice@example.com", true, false},
		{"a+b", true, false},
		{"team:admin", false, true},
		{"A.Z_0-9", true, true},
		{"", false, false},
		{strings.Repeat("a", 128), true, true},
		{strings.Repeat("a", 129), false, true},
		{"al ice", false, false},
		{"alice\n", false, false},
		{"alice\x00", false, false},
		{"ålice", false, false},
		{"a/b", false, false},
		{"a,b", false, false},
	} {
		if got := ValidUsername(tc.s); got != tc.username {
			t.Errorf("ValidUsername(%q) = %v, want %v", tc.s, got, tc.username)
		}
		if got := ValidRole(tc.s); got != tc.role {
			t.Errorf("ValidRole(%q) = %v, want %v", tc.s, got, tc.role)
		}
	}
}

// TestGrammarsEveryByte holds both grammars to the oracle for every byte at
// the start, middle and end of a name.
func TestGrammarsEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := string([]byte{byte(c)})
		for _, s := range []string{b, b + "a", "a" + b, "a" + b + "a"} {
			if got, want := ValidUsername(s), usernameOracle.MatchString(s); got != want {
				t.Errorf("ValidUsername(%q) = %v, oracle %v", s, got, want)
			}
			if got, want := ValidRole(s), roleOracle.MatchString(s); got != want {
				t.Errorf("ValidRole(%q) = %v, oracle %v", s, got, want)
			}
		}
	}
}

func FuzzGrammars(f *testing.F) {
	for _, s := range []string{"alice", "team:admin", "a@b+c", "", strings.Repeat("z", 129), "é", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidUsername(s), usernameOracle.MatchString(s); got != want {
			t.Fatalf("ValidUsername(%q) = %v, oracle %v", s, got, want)
		}
		if got, want := ValidRole(s), roleOracle.MatchString(s); got != want {
			t.Fatalf("ValidRole(%q) = %v, oracle %v", s, got, want)
		}
	})
}
