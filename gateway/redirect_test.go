package gateway

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedirectTarget(t *testing.T) {
	t.Parallel()
	p := newRedirectPolicy([]string{"app.example.com", ".corp.example", "ports.example.com:8443", "Upper.Example.NET."}, true)
	insecure := newRedirectPolicy([]string{"app.example.com"}, false)
	long := "/" + strings.Repeat("a", maxRedirectLen)
	tests := []struct {
		name string
		p    redirectPolicy
		rd   string
		want string
	}{
		{"empty", p, "", "/"},
		{"root", p, "/", "/"},
		{"path", p, "/app/page", "/app/page"},
		{"path with query", p, "/app?x=1&y=2", "/app?x=1&y=2"},
		{"path with fragment", p, "/app#frag", "/app#frag"},
		{"encoded space refused", p, "/a%20b", "/"},
		{"encoded utf8 kept", p, "/caf%C3%A9", "/caf%C3%A9"},
		{"too long", p, long, "/"},
		{"exactly max", p, long[:maxRedirectLen], long[:maxRedirectLen]},
		{"scheme relative", p, "//evil.com", "/"},
		{"scheme relative path", p, "//evil.com/x", "/"},
		{"slash backslash", p, "/\\evil.com", "/"},
		{"backslash backslash", p, "\\\\evil.com", "/"},
		{"encoded backslash", p, "/%5Cevil.com", "/"},
		{"encoded slash", p, "/%2Fevil.com", "/"},
		{"encoded slash upper", p, "%2F%2Fevil.com", "/"},
		{"tab", p, "/\t/evil.com", "/"},
		{"encoded tab", p, "/%09/evil.com", "/"},
		{"newline", p, "/\n/evil.com", "/"},
		{"encoded newline", p, "/%0a/evil.com", "/"},
		{"encoded cr", p, "/%0d%0aSet-Cookie:x", "/"},
		{"space", p, "/ /evil.com", "/"},
		{"encoded space", p, "/%20/evil.com", "/"},
		{"del", p, "/\x7f/evil.com", "/"},
		{"encoded del", p, "/%7f", "/"},
		{"nul", p, "/%00", "/"},
		{"bad escape", p, "/%zz", "/"},
		{"relative no slash", p, "app", "/"},
		{"query only", p, "?x=1", "/"},
		{"https no host", p, "https:evil.com", "/"},
		{"https single slash", p, "https:/evil.com", "/"},
		{"javascript", p, "javascript:alert(1)", "/"},
		{"data", p, "data:text/html,x", "/"},
		{"allowed https", p, "https://app.example.com/x?y=1", "https://app.example.com/x?y=1"},
		{"allowed https upper", p, "https://APP.example.COM/x", "https://APP.example.COM/x"},
		{"allowed trailing dot", p, "https://app.example.com./x", "https://app.example.com./x"},
		{"allowed default port explicit", p, "https://app.example.com:443/", "https://app.example.com:443/"},
		{"allowed entry with trailing dot and case", p, "https://upper.example.net/", "https://upper.example.net/"},
		{"wrong port", p, "https://app.example.com:8443/", "/"},
		{"empty port", p, "https://app.example.com:/", "/"},
		{"entry port", p, "https://ports.example.com:8443/", "https://ports.example.com:8443/"},
		{"entry port default refused", p, "https://ports.example.com/", "/"},
		{"http refused when secure", p, "http://app.example.com/", "/"},
		{"http allowed when insecure", insecure, "http://app.example.com/", "http://app.example.com/"},
		{"http wrong port when insecure", insecure, "http://app.example.com:443/", "/"},
		{"ftp", insecure, "ftp://app.example.com/", "/"},
		{"userinfo", p, "https://user@app.example.com/", "/"},
		{"userinfo evil", p, "https://app.example.com@evil.com/", "/"},
		{"userinfo password", p, "https://a:b@app.example.com/", "/"},
		{"unlisted", p, "https://evil.com/", "/"},
		{"suffix not at dot", p, "https://evilapp.example.com/", "/"},
		{"suffix attack", p, "https://app.example.com.evil.com/", "/"},
		{"subdomain", p, "https://a.corp.example/", "https://a.corp.example/"},
		{"deep subdomain", p, "https://a.b.corp.example/", "https://a.b.corp.example/"},
		{"subdomain entry excludes apex", p, "https://corp.example/", "/"},
		{"subdomain not at dot", p, "https://evilcorp.example/", "/"},
		{"encoded host", p, "https://app%2eexample.com/", "/"},
		{"backslash in absolute", p, "https://app.example.com\\@evil.com/", "/"},
		{"ipv6", p, "https://[::1]/", "/"},
		{"scheme case", p, "HTTPS://app.example.com/", "https://app.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.target(tt.rd); got != tt.want {
				t.Errorf("target(%q) = %q, want %q", tt.rd, got, tt.want)
			}
		})
	}
}

// FuzzRedirect: whatever rd is, the result is "/", a path on this origin
// without unsafe bytes, or an absolute URL on an allowed host.
func FuzzRedirect(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "//evil", "/\\evil", "https:evil", "https://app.example.com/",
		"https://u@app.example.com/", "https://x.corp.example:443/", "/%2F/evil", "%09//evil", "https://app.example.com:8443"} {
		f.Add(s)
	}
	p := newRedirectPolicy([]string{"app.example.com", ".corp.example"}, true)
	f.Fuzz(func(t *testing.T, rd string) {
		got := p.target(rd)
		if got == "/" {
			return
		}
		if hasUnsafeRedirectByte(got) {
			t.Fatalf("target(%q) = %q: unsafe byte", rd, got)
		}
		if strings.HasPrefix(got, "/") {
			if !isLocalPath(got) {
				t.Fatalf("target(%q) = %q: not a local path", rd, got)
			}
			dec, err := url.PathUnescape(got)
			if err != nil || !isLocalPath(dec) || hasUnsafeRedirectByte(dec) {
				t.Fatalf("target(%q) = %q: decodes to %q", rd, got, dec)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("target(%q) = %q: unparseable: %v", rd, got, err)
		}
		if u.Scheme != "https" || u.User != nil || u.Opaque != "" {
			t.Fatalf("target(%q) = %q: bad scheme/userinfo", rd, got)
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if host != "app.example.com" && !strings.HasSuffix(host, ".corp.example") {
			t.Fatalf("target(%q) = %q: host %q not allowed", rd, got, host)
		}
		if port := u.Port(); port != "" && port != "443" {
			t.Fatalf("target(%q) = %q: port %q not allowed", rd, got, port)
		}
	})
}
