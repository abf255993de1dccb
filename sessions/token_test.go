package sessions

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRefreshTokenRoundTrip(t *testing.T) {
	id := newSessionID("alice")
	secret := newSecret()
	tok := formatRefreshToken(id, secret)
	gotID, gotSecret, ok := parseRefreshToken(tok)
	if !ok || gotID != id || !bytes.Equal(gotSecret, secret) {
		t.Fatalf("parseRefreshToken(%q) = %q, %x, %v, want %q, %x, true", tok, gotID, gotSecret, ok, id, secret)
	}
	if SessionIDOf(tok) != id || SessionIDOf("junk") != "" {
		t.Fatalf("SessionIDOf() wrong")
	}
	if !ownedBy(id, "alice") || ownedBy(id, "bob") {
		t.Fatalf("ownedBy(%q) wrong", id)
	}
}

func TestDeriveSecret(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	old, nonce := newSecret(), newNonce()
	a := deriveSecret(key, old, nonce)
	if !bytes.Equal(a, deriveSecret(key, old, nonce)) {
		t.Fatal("deriveSecret() is not deterministic")
	}
	for name, b := range map[string][]byte{
		"other key":   deriveSecret(bytes.Repeat([]byte{2}, 32), old, nonce),
		"other nonce": deriveSecret(key, old, newNonce()),
		"other old":   deriveSecret(key, newSecret(), nonce),
	} {
		if bytes.Equal(a, b) {
			t.Errorf("deriveSecret() with %s = same secret", name)
		}
	}
	if len(a) != secretLen {
		t.Errorf("derived secret has %d bytes, want %d", len(a), secretLen)
	}
}

func TestClip(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is 2 bytes: never split
		{"a€", 3, "a"}, // € is 3 bytes
		{"a€", 4, "a€"},
		{"😀😀", 5, "😀"},        // 4-byte runes
		{"ab\xffcd", 3, "ab"}, // a trailing invalid byte is dropped like a cut sequence
	}
	for _, tc := range cases {
		got := clip(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		if len(got) > tc.n {
			t.Errorf("clip(%q, %d) = %d bytes", tc.in, tc.n, len(got))
		}
		if utf8.ValidString(tc.in) && !utf8.ValidString(got) {
			t.Errorf("clip(%q, %d) = %q: not valid UTF-8", tc.in, tc.n, got)
		}
	}
}

func TestFailureKeys(t *testing.T) {
	k := keyspace{prefix: "p:"}
	cases := []struct{ in, want string }{
		{"user:alice", "p:f:user:alice"},
		{"ip:2001:db8::1", "p:f:ip:2001:db8::1"},
		{"ip:[2001:db8::1]", "p:f:ip:[2001:db8::1]"},
	}
	for _, tc := range cases {
		if got := k.failures(tc.in); got != tc.want {
			t.Errorf("failures(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, hostile := range []string{"user:{x}", "user:a b", "user:\r\n", strings.Repeat("a", 161), "user:ǎ"} {
		got := k.failures(hostile)
		if !strings.HasPrefix(got, "p:f:sha256:") || len(got) != len("p:f:sha256:")+64 {
			t.Errorf("failures(%.20q) = %q, want a hashed key", hostile, got)
		}
	}
}

func TestSecretsNotFormatted(t *testing.T) {
	tok := formatRefreshToken(newSessionID("alice"), newSecret())
	secret := tok[sessionIDLen+1:]
	values := []any{
		Created{Session: Session{ID: tok[:sessionIDLen], User: "alice"}, RefreshToken: tok},
		Refreshed{Session: Session{ID: tok[:sessionIDLen], User: "alice"}, RefreshToken: tok},
	}
	for _, v := range values {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		out := buf.String() + fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
		if strings.Contains(out, secret) {
			t.Errorf("%T formats with its refresh secret: %s", v, out)
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, tok[:sessionIDLen]) {
			t.Errorf("%T formats without redaction marker or session id: %s", v, out)
		}
	}
}

func FuzzParseRefreshToken(f *testing.F) {
	f.Add(formatRefreshToken(newSessionID("alice"), newSecret()))
	f.Add("")
	f.Add(strings.Repeat("a", 40) + ".")
	f.Add(strings.Repeat("a", 40) + "." + strings.Repeat("A", 43))
	f.Add(strings.Repeat("a", 40) + "." + strings.Repeat("_", 42) + "B")
	f.Fuzz(func(t *testing.T, tok string) {
		id, secret, ok := parseRefreshToken(tok)
		if !ok {
			if id != "" || secret != nil {
				t.Fatalf("rejected token returned parts")
			}
			return
		}
		if !validSessionID(id) || len(secret) != secretLen || formatRefreshToken(id, secret) != tok {
			t.Fatalf("parseRefreshToken(%q) accepted a non-canonical token", tok)
		}
	})
}

// TestEqualHash: hashes match only when every byte does (the memory store
// and the grace check rely on it; the compare is constant-time).
func TestEqualHash(t *testing.T) {
	a := hashSecret([]byte("secret"))
	cases := []struct {
		name string
		b    []byte
		want bool
	}{
		{"same", a[:], true},
		{"last byte differs", append(append([]byte(nil), a[:31]...), a[31]^1), false},
		{"first byte differs", append([]byte{a[0] ^ 0x80}, a[1:]...), false},
		{"prefix", a[:16], false},
		{"empty", nil, false},
	}
	for _, tc := range cases {
		if got := equalHash(a[:], tc.b); got != tc.want {
			t.Errorf("equalHash(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
