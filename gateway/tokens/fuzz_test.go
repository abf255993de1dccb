package tokens

import (
	"errors"
	"testing"
)

// FuzzVerify: Verify never panics, and garbage never verifies. A mutated
// valid token may only verify if it is byte-for-byte the original.
func FuzzVerify(f *testing.F) {
	ks := fullKeyset(f)
	good, _, err := ks.Issue("alice", "sid-1", testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImhzIn0.e30.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.Verify(tok, testNow)
		if tok == good {
			if err != nil {
				t.Fatalf("Verify(good) = %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Verify(%q) = %+v, nil; want an error", tok, c)
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify error %v is neither ErrInvalid nor ErrExpired", err)
		}
		if errors.Is(err, ErrInvalid) && c != (Claims{}) {
			t.Fatalf("claims %+v returned with ErrInvalid", c)
		}
	})
}
