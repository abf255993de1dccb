package gateway

import (
	"net/http"
	"strings"

	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

// credSource says where a request's access token came from.
type credSource int

const (
	credNone   credSource = iota
	credBearer            // Authorization: Bearer
	credCookie            // the access cookie
)

// credential is what a request presents (SPEC §6 step 5).
type credential struct {
	source credSource
	token  string
	// bad: a credential was presented but cannot be used (malformed or
	// duplicated bearer, duplicated cookie). Never falls back to another one.
	bad bool
}

// presented reports whether the request carried any credential.
func (c credential) presented() bool { return c.source != credNone }

// extractCredential applies SPEC §6 step 5: Authorization: Bearer, when
// present, is the only credential (an invalid bearer is not rescued by a good
// cookie); otherwise the access cookie, refused when duplicated.
func extractCredential(r *http.Request, accessCookie string) credential {
	var bearers []string
	for _, v := range r.Header.Values("Authorization") {
		if isBearerScheme(v) {
			bearers = append(bearers, v)
		}
	}
	switch len(bearers) {
	case 0:
	case 1:
		tok, ok := parseBearer(bearers[0])
		return credential{source: credBearer, token: tok, bad: !ok}
	default:
		return credential{source: credBearer, bad: true}
	}
	v, present, ambiguous := cookieValue(r, accessCookie)
	switch {
	case ambiguous:
		return credential{source: credCookie, bad: true}
	case present:
		return credential{source: credCookie, token: v, bad: !validTokenSyntax(v)}
	}
	return credential{}
}

// isBearerScheme reports whether an Authorization value uses the Bearer
// scheme (case-insensitive, RFC 9110 §11.1), well-formed or not.
func isBearerScheme(v string) bool {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return len(v) == len(scheme) || v[len(scheme)] == ' ' || v[len(scheme)] == '\t'
}

// parseBearer returns the token of a Bearer Authorization value (RFC 6750
// §2.1: "Bearer" 1*SP b64token).
func parseBearer(v string) (string, bool) {
	if !isBearerScheme(v) || len(v) <= len("bearer") {
		return "", false
	}
	tok := strings.Trim(v[len("bearer"):], " \t")
	if !validTokenSyntax(tok) {
		return "", false
	}
	return tok, true
}

// b64tokenChar: the characters of RFC 6750's b64token before its trailing
// '='s (one table lookup per byte: a bearer token is checked on every
// request, byte by byte, ~300 bytes).
var b64tokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// validTokenSyntax: non-empty, at most tokens.MaxTokenSize bytes (checked
// before anything else looks at it), b64token characters only.
func validTokenSyntax(tok string) bool {
	if tok == "" || len(tok) > tokens.MaxTokenSize {
		return false
	}
	i := 0
	for ; i < len(tok) && b64tokenChar[tok[i]]; i++ {
	}
	if i == 0 {
		return false
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return false
		}
	}
	return true
}
