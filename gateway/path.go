package gateway

import (
	"bytes"
	"net/http"
	"strings"
)

// requestTarget returns the path of the raw request-target (r.RequestURI,
// which net/http leaves untouched) without the query, as the client sent
// it; absolute-form targets ("http://host/p") give their path. It fails
// with errBadPath for asterisk-form ("*", returned as the path so the access
// log shows it) and authority-form (CONNECT), which have no path, and with
// errBadHost for an absolute-form target whose authority is not host[:port]
// (SPEC §3; userinfo, which net/http drops from r.Host, and an empty
// authority included).
func requestTarget(r *http.Request) (path string, err error) {
	target := r.RequestURI
	if target == "" { // a request built in-process rather than read from the wire
		return r.URL.EscapedPath(), nil
	}
	if target == "*" {
		return target, errBadPath
	}
	if !strings.HasPrefix(target, "/") {
		_, rest, found := strings.Cut(target, "://")
		if !found {
			return "", errBadPath
		}
		i := strings.IndexAny(rest, "/?#")
		if i < 0 {
			i = len(rest)
		}
		if h, ok := parseHost(rest[:i]); !ok || h == "" {
			err = errBadHost
		}
		if i == len(rest) || rest[i] != '/' {
			return "/", err
		}
		target = rest[i:]
	}
	p, _, _ := strings.Cut(target, "?")
	return p, err
}

// normalizePath applies SPEC §6 step 3 to a raw (still escaped) path. It
// returns the normalised decoded path, which is forwarded (path parameters
// and letter case as received), and the same path re-escaped once; or
// errBadPath. Routes match on matchPath of the result. fold is
// server.path_matching: case_insensitive.
//
// Rejected, because an upstream could decode or split differently than we
// match: %2F %5C %2E (encoded separators and dots), raw "\", %00–%1F, %7F and
// raw control bytes, over-long UTF-8 forms, "%25" followed by the encoding
// of any of those (an upstream that decodes twice), a malformed escape, a
// ".." that climbs above the root, and a segment whose part before ";" is
// "." or ".." (Tomcat's path parameters: "..;/"); under fold also what
// segmentKind refuses. Resolved: other "." and ".." segments; runs of "/"
// collapse to one (nginx and Tomcat merge them, so "//admin" must meet the
// "/admin" rules).
func normalizePath(raw string, fold bool) (path, escaped string, err error) {
	if raw == "" || raw[0] != '/' {
		return "", "", errBadPath
	}
	if !fold && alreadyNormal(raw) {
		return raw, escapePath(raw), nil // what normalizeSegments returns for it, without allocating
	}
	return normalizeSegments(raw, fold)
}

// normalizeSegments is normalizePath without the already-normal shortcut.
func normalizeSegments(raw string, fold bool) (path, escaped string, err error) {
	dec, ok := decodePath(raw)
	if !ok {
		return "", "", errBadPath
	}
	segs := strings.Split(dec[1:], "/")
	out := segs[:0] // reuses segs: out never overtakes the segment being read
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		kind, ok := segmentKind(s, fold)
		switch {
		case !ok:
			return "", "", errBadPath
		case kind == segDotDot:
			if len(out) == 0 {
				return "", "", errBadPath // climbs above the root
			}
			out = out[:len(out)-1]
			trailing = last
		case kind == segDot:
			trailing = last
		default:
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

// alreadyNormal reports whether normalizePath (without fold) would return
// raw unchanged: nothing to decode or refuse (plainASCII), no empty segment
// but a trailing one (no "//") and no segment starting with "." (so no "."
// or ".." segment, with or without parameters). Every segment is then a
// plain name, kept as it is.
func alreadyNormal(raw string) bool {
	return plainASCII(raw) && !strings.Contains(raw, "//") && !strings.Contains(raw, "/.")
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
	if plainASCII(raw) {
		return raw, true
	}
	b, ok := unescape([]byte(raw), true)
	if !ok || overlongUTF8(b) {
		return "", false
	}
	// A "%" left after decoding came from %25: decode once more, leniently,
	// and refuse what the first pass would have refused (%252e, %2500,
	// %25C0%25AE …), so an upstream that decodes twice cannot find a
	// dot-segment, separator, control byte or over-long form we never saw.
	if bytes.IndexByte(b, '%') >= 0 {
		b2, ok := unescape(bytes.Clone(b), false)
		if !ok || overlongUTF8(b2) {
			return "", false
		}
	}
	return string(b), true
}

// unescape percent-decodes b in place, refusing raw control bytes and "\"
// and escapes of a refusedByte. strict refuses a "%" not followed by two hex
// digits; otherwise such a "%" stays as it is (the second pass of
// decodePath, over bytes that were "%25" on the wire).
func unescape(b []byte, strict bool) ([]byte, bool) {
	out := b[:0] // decoding only shrinks: out never overtakes the byte being read
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x20 || c == 0x7f || c == '\\':
			return nil, false
		case c == '%':
			hi, ok1 := unhexAt(b, i+1)
			lo, ok2 := unhexAt(b, i+2)
			if !ok1 || !ok2 {
				if strict {
					return nil, false
				}
				out = append(out, c)
				continue
			}
			d := hi<<4 | lo
			if refusedByte(d) {
				return nil, false
			}
			out = append(out, d)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, true
}

// refusedByte reports whether a decoded escape is refused: control bytes,
// and "/", "\" and "." (an encoded separator or dot is read as a literal one
// by some upstreams and as a name by others).
func refusedByte(d byte) bool {
	return d < 0x20 || d == 0x7f || d == '/' || d == '\\' || d == '.'
}

// overlongUTF8 reports whether b holds the lead of an over-long UTF-8 form:
// C0 or C1 anywhere, E0 followed by 80–9F, F0 followed by 80–8F. Lenient
// decoders map them to ASCII ("%C0%AE" is "." to some), so they could smuggle
// a dot or separator past the checks above. Other bytes pass, Latin-1 ones
// such as E9 included: legacy backends use them.
func overlongUTF8(b []byte) bool {
	for i, c := range b {
		switch {
		case c == 0xC0 || c == 0xC1:
			return true
		case c == 0xE0 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9F:
			return true
		case c == 0xF0 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x8F:
			return true
		}
	}
	return false
}

// plainASCII reports whether s needs no decoding and no checks beyond the
// segment rules: no "%", no "\", no control and no non-ASCII byte.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' || c == '\\' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func unhexAt(b []byte, i int) (byte, bool) {
	if i >= len(b) {
		return 0, false
	}
	return unhex(b[i])
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
