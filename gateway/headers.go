package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis-gw/portcullis/config"
)

// Header names the gateway itself reads or writes.
const (
	headerRequestID      = "X-Request-ID"
	headerXForwardedFor  = "X-Forwarded-For"
	headerXForwardedHost = "X-Forwarded-Host"
	headerXForwardedProt = "X-Forwarded-Proto"
	headerXRealIP        = "X-Real-IP"
	headerForwarded      = "Forwarded"
)

// identityHeaders are the configured identity header names (canonical form).
type identityHeaders struct {
	user, roles, session string
	assertion            string // "" = off
}

func newIdentityHeaders(h config.Headers) identityHeaders {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return http.CanonicalHeaderKey(v)
	}
	ih := identityHeaders{
		user:    or(h.User, "X-Auth-User"),
		roles:   or(h.Roles, "X-Auth-Roles"),
		session: or(h.Session, "X-Auth-Session"),
	}
	if h.Assertion != "" {
		ih.assertion = http.CanonicalHeaderKey(h.Assertion)
	}
	return ih
}

// normHeader is the comparison form of a header name: lower case, "_" as "-".
// Many stacks (CGI, PHP, Django behind WSGI) map X_Auth_User and X-Auth-User
// to the same variable, so a spoof in any spelling must be caught.
func normHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// spoofableSet returns the normalised names dropped from every inbound
// request (SPEC §6 step 2): the identity headers, headers.strip, and
// config.AlwaysStripped.
func spoofableSet(ih identityHeaders, strip []string) map[string]struct{} {
	set := map[string]struct{}{}
	for _, n := range []string{ih.user, ih.roles, ih.session, ih.assertion} {
		if n != "" {
			set[normHeader(n)] = struct{}{}
		}
	}
	for _, n := range strip {
		set[normHeader(n)] = struct{}{}
	}
	for _, n := range config.AlwaysStripped {
		set[normHeader(n)] = struct{}{}
	}
	return set
}

// isForwardingHeader reports whether a normalised header name is one that
// only a trusted proxy may set (SPEC §6 step 1).
func isForwardingHeader(norm string) bool {
	switch norm {
	case "forwarded", "x-real-ip", "true-client-ip":
		return true
	}
	return strings.HasPrefix(norm, "x-forwarded-")
}

// isRoutingHeader reports whether a normalised header name is one that
// frameworks route on or take a client address from (SPEC §6 step 2): IIS
// URL Rewrite, Symfony and Laravel serve X-Original-URL / X-Rewrite-URL
// instead of the request line, so from a client they would bypass every
// path rule; the address headers would let a client pick its own IP.
func isRoutingHeader(norm string) bool {
	switch norm {
	case "x-original-url", "x-rewrite-url", "x-original-host", "x-host",
		"x-forwarded", "forwarded-for", "x-original-forwarded-for",
		"x-client-ip", "client-ip", "cf-connecting-ip", "fastly-client-ip", "x-cluster-client-ip":
		return true
	}
	return false
}

// stripInbound removes spoofable headers from an inbound request, before
// routing, on every route (SPEC §6 steps 1–2). Forwarding and routing
// headers are removed unless the peer is trusted; their "_" spellings always
// (a trusted proxy writes the canonical form; X_Forwarded_For would reach a
// CGI upstream as a second X-Forwarded-For that nobody vouched for).
func stripInbound(h http.Header, spoofable map[string]struct{}, trustedPeer bool) {
	var buf [64]byte
	for name := range h {
		n := appendNormHeader(buf[:0], name) // no allocation for the usual name lengths
		if _, ok := spoofable[string(n)]; ok {
			delete(h, name)
			continue
		}
		if (isForwardingHeader(string(n)) || isRoutingHeader(string(n))) && (!trustedPeer || strings.Contains(name, "_")) {
			delete(h, name)
		}
	}
}

// appendNormHeader appends normHeader(name) to b.
func appendNormHeader(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		b = append(b, c)
	}
	return b
}

// stripGatewayCookies removes the gateway's own cookies from every Cookie
// header (SPEC §6 step 7): an upstream never sees the caller's tokens. Other
// cookies pass in their original order and spelling.
func stripGatewayCookies(h http.Header, names []string) {
	values := h["Cookie"]
	if len(values) == 0 {
		return
	}
	kept := values[:0]
	for _, v := range values {
		if nv := withoutCookies(v, names); nv != "" {
			kept = append(kept, nv)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

// withoutCookies removes the pairs named in names from one Cookie header value.
func withoutCookies(v string, names []string) string {
	drop := false
	for part := range strings.SplitSeq(v, ";") {
		if isNamedCookie(part, names) {
			drop = true
			break
		}
	}
	if !drop {
		return v
	}
	var b strings.Builder
	for part := range strings.SplitSeq(v, ";") {
		if isNamedCookie(part, names) || strings.TrimSpace(part) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimSpace(part))
	}
	return b.String()
}

func isNamedCookie(pair string, names []string) bool {
	name, _, _ := strings.Cut(pair, "=")
	name = strings.TrimSpace(name)
	for _, n := range names {
		if n != "" && name == n {
			return true
		}
	}
	return false
}

// removeBearer removes Authorization values with the Bearer scheme (SPEC §6
// step 7); other schemes (Basic, Digest, ...) are the upstream's business.
func removeBearer(h http.Header) {
	values := h["Authorization"]
	if len(values) == 0 {
		return
	}
	kept := values[:0]
	for _, v := range values {
		// The same scheme test extractCredential uses, so whatever could
		// authenticate as a bearer is what gets removed ("Bearer\tX" too).
		if !isBearerScheme(strings.TrimLeft(v, " \t")) {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(h, "Authorization")
		return
	}
	h["Authorization"] = kept
}

// setIdentity writes every identity header from id, empty when there is no
// value (SPEC §6 step 6): an upstream can rely on the header being the
// gateway's, never a client's. An anonymous request (id without a user)
// carries none of them: absent, not empty, so that an upstream testing for
// presence never mistakes it for a sign-in (SPEC §6 step 4).
func setIdentity(h http.Header, ih identityHeaders, id Identity) {
	if id.User == "" {
		for _, n := range []string{ih.user, ih.roles, ih.session, ih.assertion} {
			if n != "" {
				h.Del(n)
			}
		}
		return
	}
	h.Set(ih.user, id.User)
	h.Set(ih.roles, strings.Join(id.Roles, ","))
	h.Set(ih.session, id.SessionID)
	if ih.assertion != "" {
		h.Set(ih.assertion, id.Assertion)
	}
}

// setForwarded writes the forwarding headers (SPEC §6 step 8) for a request
// from the given record: X-Forwarded-For = the believed chain plus the peer;
// X-Forwarded-Proto and -Host from a trusted peer's values, else from the
// connection; X-Real-IP = the client; Forwarded only as a trusted peer sent it.
func setForwarded(out http.Header, in *http.Request, rec *record) {
	xff := rec.chain
	if rec.peer.IsValid() {
		xff = append(slices.Clip(xff), rec.peer.String()) // Clip: a new array, rec.chain untouched
	}
	if len(xff) > 0 {
		out.Set(headerXForwardedFor, strings.Join(xff, ", "))
	} else {
		out.Del(headerXForwardedFor)
	}

	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	host := in.Host
	if rec.trusted {
		// The first (client-side) value; anything but http/https is ignored.
		v, _, _ := strings.Cut(in.Header.Get(headerXForwardedProt), ",")
		if v = strings.ToLower(strings.TrimSpace(v)); v == "http" || v == "https" {
			proto = v
		}
		if v := in.Header.Get(headerXForwardedHost); v != "" {
			host = v
		}
		if v := in.Header.Values(headerForwarded); len(v) > 0 {
			out[headerForwarded] = slices.Clone(v)
		}
	}
	out.Set(headerXForwardedProt, proto)
	out.Set(headerXForwardedHost, host)
	if rec.client.IsValid() {
		out.Set(headerXRealIP, rec.client.String())
	} else {
		out.Del(headerXRealIP)
	}
}
