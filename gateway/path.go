package gateway

import (
	"net/http"
	"strings"
)

// requestPath returns the path of the raw request-target (no query), as the
// client sent it: r.RequestURI for server requests, which net/http leaves
// untouched. Absolute-form targets ("http://host/p") give their path;
// asterisk-form ("*") and authority-form (CONNECT) have none.
func requestPath(r *http.Request) (string, bool) {
	raw := r.RequestURI
	if raw == "" { // a request built in-process rather than read from the wire
		return r.URL.EscapedPath(), true
	}
	if !strings.HasPrefix(raw, "/") {
		_, rest, ok := strings.Cut(raw, "://")
		if !ok {
			return "", false
		}
		i := strings.IndexAny(rest, "/?")
		if i < 0 || rest[i] == '?' {
			return "/", true
		}
		raw = rest[i:]
	}
	p, _, _ := strings.Cut(raw, "?")
	return p, true
}

// normalizePath applies SPEC §6 step 3 to a raw (still escaped) path. It
// returns the decoded path that routes match on and the same path re-escaped
// once, which is what is forwarded; or errBadPath.
//
// Rejected, because an upstream could decode or split differently than we
// match: %2F %5C %2E (encoded separators and dots), raw "\", %00–%1F, %7F and
// raw control bytes, a double-encoded dot, slash or backslash ("%252e"), a
// malformed escape, a ".." that climbs above the root, and a segment whose
// part before ";" is "." or ".." (Tomcat's path parameters: "..;/").
// Resolved: other "." and ".." segments; runs of "/" collapse to one (nginx
// and Tomcat merge them, so "//admin" must meet the "/admin" rules).
func normalizePath(raw string) (path, escaped string, err error) {
	if raw == "" || raw[0] != '/' {
		return "", "", errBadPath
	}
	dec, ok := decodePath(raw)
	if !ok {
		return "", "", errBadPath
	}
	segs := strings.Split(dec[1:], "/")
	out := segs[:0] // reuses segs: out never overtakes the segment being read
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			trailing = last
		case "..":
			if len(out) == 0 {
				return "", "", errBadPath // climbs above the root
			}
			out = out[:len(out)-1]
			trailing = last
		default:
			if base, _, ok := strings.Cut(s, ";"); ok && (base == "." || base == "..") {
				return "", "", errBadPath // "..;/" is ".." to Tomcat
			}
			out = append(out, s)
			trailing = false
		}
	}
	if len(out) == 0 {
		path = "/"
	} else {
		path = "/" + strings.Join(out, "/")
		if trailing {
			path += "/"
		}
	}
	return path, escapePath(path), nil
}

// escapePath escapes a decoded path once, minimally: unreserved characters,
// sub-delims, ":", "@" and "/" stay as they are (url.URL would also escape
// "!*'()", changing what the client wrote); everything else — "%", "?", "#",
// space, non-ASCII, and the characters RFC 3986 forbids in a path — becomes
// %XX. The result is a valid url.URL.RawPath for p.
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !pathSafe(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if pathSafe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

// pathSafe reports whether c may appear unescaped in a path (RFC 3986 pchar
// or "/").
func pathSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	}
	return false
}

// decodePath percent-decodes raw, refusing the escapes and bytes listed at
// normalizePath. After decoding, every "/" and "." is one the client wrote
// literally, so segment handling sees what any upstream will see.
func decodePath(raw string) (string, bool) {
	if !strings.ContainsAny(raw, "%\\") && !hasControl(raw) {
		return raw, true
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '\\':
			return "", false
		case c == '%':
			if i+2 >= len(raw) {
				return "", false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			d := hi<<4 | lo
			if d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '.' {
				return "", false
			}
			b = append(b, d)
			i += 2
		default:
			b = append(b, c)
		}
	}
	// A "%" left after decoding came from %25: refuse %252e, %252f, %255c (and
	// %25%32%65, which decodes to the same), so an upstream that decodes twice
	// cannot find a dot-segment or separator we never saw.
	for i := 0; i+2 < len(b); i++ {
		if b[i] != '%' {
			continue
		}
		x, y := b[i+1], b[i+2]|0x20
		if (x == '2' && (y == 'e' || y == 'f')) || (x == '5' && y == 'c') {
			return "", false
		}
	}
	return string(b), true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// withinPrefix reports whether path is prefix or below it, segment-aware:
// "/api" matches "/api" and "/api/x", not "/apix". A segment's path
// parameters are ignored ("/api;jsessionid=1/x" is under "/api"): Tomcat and
// other servlet containers drop them, so they must not carry a request
// around a route's rules.
func withinPrefix(path, prefix string) bool {
	return prefixEnd(path, prefix) >= 0
}

// prefixEnd returns the length of the part of path that prefix matched (a
// segment boundary), or -1 when path is not within prefix.
func prefixEnd(path, prefix string) int {
	if prefix == "/" {
		return 0
	}
	if !strings.Contains(path, ";") {
		if strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/') {
			return len(prefix)
		}
		return -1
	}
	i := 0
	for pseg := range strings.SplitSeq(prefix[1:], "/") {
		if i >= len(path) || path[i] != '/' {
			return -1
		}
		i++
		end := len(path)
		if j := strings.IndexByte(path[i:], '/'); j >= 0 {
			end = i + j
		}
		if seg := path[i:end]; seg != pseg {
			if base, _, _ := strings.Cut(seg, ";"); base != pseg {
				return -1
			}
		}
		i = end
	}
	return i
}

// forwardPath is the decoded path sent upstream: path minus the route's
// prefix when strip_prefix is set ("" becomes "/"), joined onto the
// upstream URL's own path as a base.
func forwardPath(path string, rt *route) string {
	if rt.stripPrefix && rt.prefix != "/" {
		if n := prefixEnd(path, rt.prefix); n >= 0 {
			path = path[n:]
		}
		if path == "" {
			path = "/"
		}
	}
	base := rt.basePath
	if base == "" || base == "/" {
		return path
	}
	return strings.TrimSuffix(base, "/") + path
}
