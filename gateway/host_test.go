package gateway

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"example.com":           "example.com",
		"Example.COM":           "example.com",
		"example.com:8080":      "example.com",
		"example.com.":          "example.com",
		"EXAMPLE.com.:443":      "example.com",
		"[::1]:8080":            "::1",
		"[2001:DB8::1]":         "2001:db8::1",
		"[::ffff:1.2.3.4]":      "::ffff:1.2.3.4",
		"127.0.0.1:80":          "127.0.0.1",
		"":                      "",
		"api.example.com:":      "api.example.com",
		"[::1]:":                "::1",
		"a.b.example.com.:9000": "a.b.example.com",
		"under_score-x.test":    "under_score-x.test",
		"localhost:1":           "localhost",
		"x:65535":               "x",
		"x:08080":               "x", // decimal, leading zero
		strings.Repeat("a", 63): strings.Repeat("a", 63),
	}
	for in, want := range good {
		if got, ok := parseHost(in); !ok || got != want {
			t.Errorf("parseHost(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
	bad := []string{
		"secure.example.com:80:90", "host::", "host:x", "host:0", "host:65536", "host:123456",
		"host:+80", "host:-1", "host: 80", "host :80", "a..b", ".a", "a..", ".", "..", ":80", ":",
		"a/b", "a@b", "user@host", "a%2eb", "a;b", `a\b`, "a b", "a\tb", "a\x00b", "caf\xc3\xa9.test",
		strings.Repeat("a", 64), "a." + strings.Repeat("b", 64) + ".c",
		"[::1", "[::1]x", "[::1]:80:90", "[::1]:x", "[host]", "[1.2.3.4]", "[fe80::1%eth0]",
		"[fe80::1%25eth0]", "::1", "[]", "[[::1]]", "]", "a]", "a[b]",
	}
	for _, in := range bad {
		if got, ok := parseHost(in); ok {
			t.Errorf("parseHost(%q) = %q, true; want refused", in, got)
		}
	}
}

// FuzzParseHost: never panic; an accepted host is lower case, without port
// or trailing dot, accepted again as itself, and is what a parser reading
// the Host up to its first ":" (nginx) would see: no host confusion.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "Example.COM.:8443", "[::1]:80", "[2001:db8::1]", "1.2.3.4:80", "secure.example.com:80:90",
		"host::", "a..b", "host:", "host:0", "host:65536", "[fe80::1%25eth0]", "user@host", "", ".", "x:+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, ok := parseHost(in)
		if !ok {
			if h != "" {
				t.Fatalf("parseHost(%q) = %q with ok false", in, h)
			}
			return
		}
		if h != strings.ToLower(h) || strings.HasSuffix(h, ".") {
			t.Fatalf("parseHost(%q) = %q: not lower case without trailing dot", in, h)
		}
		if strings.HasPrefix(in, "[") {
			a, err := netip.ParseAddr(h)
			if err != nil || !a.Is6() {
				t.Fatalf("parseHost(%q) = %q: not an IPv6 address", in, h)
			}
			if h2, ok := parseHost("[" + h + "]"); !ok || h2 != h {
				t.Fatalf("parseHost([%q]) = %q, %v; want %q", h, h2, ok, h)
			}
			return
		}
		if strings.ContainsAny(h, ":[]@/\\% ") {
			t.Fatalf("parseHost(%q) = %q: holds a byte outside the grammar", in, h)
		}
		// nginx's reading: up to the first ":", trailing dot removed.
		first, _, _ := strings.Cut(in, ":")
		if nginx := strings.ToLower(strings.TrimSuffix(first, ".")); nginx != h {
			t.Fatalf("parseHost(%q) = %q, but a first-colon reader sees %q", in, h, nginx)
		}
		if h2, ok := parseHost(h); !ok || h2 != h {
			t.Fatalf("parseHost(%q) = %q, %v; not idempotent", h, h2, ok)
		}
	})
}
