package gateway

import (
	"net/netip"
	"strings"
)

// parseHost checks a Host header value, an absolute-form authority or an
// X-Forwarded-Host against the SPEC §3 host grammar and returns the host
// routes match on: lower-cased, port and trailing dot removed, an IPv6
// address without its brackets ("API.Example.com.:8443" → "api.example.com";
// "[::1]:80" → "::1"). ok is false for anything else.
//
// Grammar: "[" IPv6 "]", or labels of [A-Za-z0-9_-] (1–63 bytes) joined by
// "." with one trailing "." allowed (an IPv4 address is such labels); then
// optionally ":" and a port of 1–65535 in decimal, or nothing after ":".
// Why so strict: a Host that is not host[:port] ("secure.example.com:80:90")
// is read differently by every parser; nginx reads it up to its first ":"
// and would serve the protected vhost while we matched a host-less route.
// An empty value (HTTP/1.0 without Host) is allowed and names no host: it
// can only match routes without host.
func parseHost(h string) (string, bool) {
	if h == "" {
		return "", true
	}
	host, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		host, port = h[1:end], h[end+1:]
		if port != "" && port[0] != ':' {
			return "", false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
	} else {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			host, port = h[:i], h[i:]
		}
		if !validLabels(host) {
			return "", false
		}
		host = strings.TrimSuffix(host, ".")
	}
	if port != "" && !validPort(port[1:]) {
		return "", false
	}
	return lowerASCII(host), true
}

// validLabels reports whether h is labels of [A-Za-z0-9_-], each 1–63 bytes,
// joined by "." with at most one trailing ".".
func validLabels(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return false
	}
	n := 0 // length of the current label
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if n == 0 {
				return false // empty label
			}
			n = 0
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		if n++; n > 63 {
			return false
		}
	}
	return n > 0
}

// validPort reports whether p is empty (nothing after ":") or a decimal
// port 1–65535 ("+80", " 80" and "0" are not).
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// lowerASCII lower-cases ASCII letters only (strings.ToLower would also fold
// non-ASCII, e.g. the Kelvin sign to "k"), allocating only when there is
// one to change.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
