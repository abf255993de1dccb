package gateway

import "strings"

// How a path segment is read when normalising (SPEC §6 step 3).
type segKind int

const (
	segName   segKind = iota // kept (and forwarded as received)
	segDot                   // "." or empty: dropped
	segDotDot                // "..": drops the segment before it
)

// segmentKind classifies one decoded segment; ok is false when the path
// must be refused. A segment whose part before ";" is "." or ".." is
// refused: Tomcat strips the parameters and reads "..;" as "..". A segment
// that is only parameters (";x") is a name: it is forwarded as received and
// ignored when matching (matchPath).
//
// Under fold (server.path_matching: case_insensitive) the segment is read
// as IIS and Windows read it: trailing dots and spaces are ignored, so
// "..%20" and "..." are "..", and a segment of spaces is empty; a segment
// holding ":" (NTFS streams, "::$DATA") or "~" and a digit (8.3 short names)
// is refused, because it names a file we cannot tell from its path.
func segmentKind(s string, fold bool) (segKind, bool) {
	base, _, params := strings.Cut(s, ";")
	if fold {
		if iisAlias(s) {
			return 0, false
		}
		var ok bool
		if base, ok = iisTrim(base); !ok {
			return 0, false
		}
	}
	switch base {
	case ".", "..":
		if params {
			return 0, false // "..;/" is ".." to Tomcat
		}
		if base == "." {
			return segDot, true
		}
		return segDotDot, true
	case "":
		if params {
			return segName, true
		}
		return segDot, true
	}
	return segName, true
}

// iisAlias reports whether s holds ":" or "~" followed by a digit: another
// name for a file on an NTFS volume (an alternate data stream, an 8.3
// short name), so the path alone cannot say which route's rules apply.
func iisAlias(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	for i := strings.IndexByte(s, '~'); i >= 0 && i+1 < len(s); {
		if c := s[i+1]; '0' <= c && c <= '9' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '~')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// iisTrim removes the trailing dots and spaces Windows ignores in a name.
// A segment made only of dots then spaces becomes "." (one dot), ".." (two
// or more: "..." is ".." to IIS) or "" (spaces only). ok is false for a
// segment of dots and spaces in another order (". ." or " ."): no rule
// says what a server makes of it, so it is refused.
func iisTrim(s string) (string, bool) {
	if t := strings.TrimRight(s, ". "); t != "" {
		return t, true
	}
	dots := strings.TrimRight(s, " ")
	switch {
	case strings.Trim(dots, ".") != "":
		return "", false
	case dots == "":
		return "", true
	case dots == ".":
		return ".", true
	}
	return "..", true
}

// segKey is a normalised segment as routes match it: its path parameters
// removed and, under fold, its trailing dots and spaces removed and its
// ASCII letters lower-cased. "" means the segment is ignored (";x").
func segKey(seg string, fold bool) string {
	key, _, _ := strings.Cut(seg, ";")
	if fold {
		key = lowerASCII(strings.TrimRight(key, ". "))
	}
	return key
}

// matchPath returns the path routes match on for a path normalizePath
// returned (or one matchPath already returned: it is idempotent): every
// segment's key (segKey), segments whose key is empty dropped, so
// "/;x/admin;y/panel" is "/admin/panel" (Tomcat, Spring and Shiro strip
// path parameters: CVE-2020-11989). A trailing "/" is kept.
func matchPath(path string, fold bool) string {
	if isMatchForm(path, fold) {
		return path // the common case: nothing to remove
	}
	var b strings.Builder
	b.Grow(len(path))
	trailing := false
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		k := segKey(seg, fold)
		if trailing = k == ""; trailing {
			continue
		}
		b.WriteByte('/')
		b.WriteString(k)
	}
	if b.Len() == 0 {
		return "/"
	}
	if trailing {
		b.WriteByte('/')
	}
	return b.String()
}

// isMatchForm reports whether matchPath would return path unchanged: no
// ";" and, under fold, no upper-case ASCII letter and no segment ending in
// a dot or space.
func isMatchForm(path string, fold bool) bool {
	if !fold {
		return strings.IndexByte(path, ';') < 0
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == ';', 'A' <= c && c <= 'Z':
			return false
		case c == '.' || c == ' ':
			if i+1 == len(path) || path[i+1] == '/' {
				return false
			}
		}
	}
	return true
}

// withinPrefix reports whether a match path (matchPath) is prefix or below
// it, segment-aware: "/api" matches "/api" and "/api/x", not "/apix".
// prefix is in match form too (buildRoute folds it).
func withinPrefix(match, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(match, prefix) && (len(match) == len(prefix) || match[len(prefix)] == '/')
}

// prefixEnd returns the length of the part of a normalised (forwarded) path
// that prefix matched, ending at a segment boundary, or -1 when the path's
// match path is not within prefix: "/;x/api;v=1/y" has "/;x/api;v=1" within
// "/api". Segments are compared by segKey, those with an empty key skipped.
func prefixEnd(path, prefix string, fold bool) int {
	if prefix == "/" {
		return 0
	}
	if !fold && strings.IndexByte(path, ';') < 0 {
		if withinPrefix(path, prefix) {
			return len(prefix)
		}
		return -1
	}
	i := 0
	for pseg := range strings.SplitSeq(prefix[1:], "/") {
		for {
			if i >= len(path) || path[i] != '/' {
				return -1
			}
			i++
			end := len(path)
			if j := strings.IndexByte(path[i:], '/'); j >= 0 {
				end = i + j
			}
			k := segKey(path[i:end], fold)
			i = end
			if k == "" {
				continue
			}
			if k != pseg {
				return -1
			}
			break
		}
	}
	return i
}

// forwardPath is the decoded path sent upstream: path minus the route's
// prefix when strip_prefix is set ("" becomes "/"), joined onto the
// upstream URL's own path as a base.
func forwardPath(path string, rt *route) string {
	if rt.stripPrefix && rt.prefix != "/" {
		if n := prefixEnd(path, rt.prefix, rt.fold); n >= 0 {
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
