package gateway

import (
	"net"
	"net/url"
	"strings"
)

// maxRedirectLen bounds the post-login rd parameter (SPEC §6).
const maxRedirectLen = 2048

// redirectPolicy validates the post-login rd parameter (SPEC §6). It is built
// once per config snapshot and is safe for concurrent use.
type redirectPolicy struct {
	allowHTTP bool // cookies.secure: false
	hosts     []redirectHost
}

// redirectHost is one login.allowed_redirect_hosts entry.
type redirectHost struct {
	name      string // lower case, no trailing dot, no leading dot
	subdomain bool   // entry was ".example.com": match subdomains only
	port      string // "" = the scheme's default port only
}

func newRedirectPolicy(allowed []string, secureCookies bool) redirectPolicy {
	p := redirectPolicy{allowHTTP: !secureCookies}
	for _, e := range allowed {
		e = strings.ToLower(strings.TrimSpace(e))
		var h redirectHost
		host, port, err := net.SplitHostPort(e)
		if err == nil {
			e, h.port = host, port
		}
		if strings.HasPrefix(e, ".") {
			h.subdomain = true
			e = e[1:]
		}
		h.name = strings.TrimSuffix(e, ".")
		if h.name == "" {
			continue
		}
		p.hosts = append(p.hosts, h)
	}
	return p
}

// target returns the Location to send a browser to after login: the
// re-serialised rd when it is safe, "/" otherwise. Never the input string:
// serialising the parsed URL means what we validated is what the browser gets.
func (p redirectPolicy) target(rd string) string {
	if rd == "" || len(rd) > maxRedirectLen {
		return "/"
	}
	decoded, err := url.PathUnescape(rd)
	if err != nil || hasUnsafeRedirectByte(rd) || hasUnsafeRedirectByte(decoded) {
		// Browsers strip tabs and newlines and treat '\' as '/', so
		// "/\tevil" and "/\evil" would become "//evil".
		return "/"
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "/"
	}
	var out string
	if u.Scheme == "" && u.Host == "" {
		// "//evil" is scheme-relative: another host. Check the decoded form
		// too, so "/%2F/evil" cannot turn into one after a decode downstream.
		if !isLocalPath(rd) || !isLocalPath(decoded) || !isLocalPath(u.Path) {
			return "/"
		}
		out = u.String()
		if !isLocalPath(out) {
			return "/"
		}
		return out
	}
	if !p.allowedAbsolute(u) {
		return "/"
	}
	return u.String()
}

func (p redirectPolicy) allowedAbsolute(u *url.URL) bool {
	var defaultPort string
	switch {
	case u.Scheme == "https":
		defaultPort = "443"
	case u.Scheme == "http" && p.allowHTTP:
		defaultPort = "80"
	default:
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return false
	}
	port := u.Port()
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return false // "https://host:/": odd enough to refuse
		}
		port = defaultPort
	}
	for _, h := range p.hosts {
		want := h.port
		if want == "" {
			want = defaultPort
		}
		if port != want {
			continue
		}
		if h.subdomain {
			if strings.HasSuffix(host, "."+h.name) {
				return true
			}
			continue
		}
		if host == h.name {
			return true
		}
	}
	return false
}

// isLocalPath reports whether s is a path on this origin: "/" followed by
// anything but a second "/" or "\".
func isLocalPath(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	return len(s) == 1 || (s[1] != '/' && s[1] != '\\')
}

func hasUnsafeRedirectByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return true
		}
	}
	return false
}
