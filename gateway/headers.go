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
	setIdentityInto(h, ih, id, nil)
}

// setIdentityInto is setIdentity with the header values stored in store
// (4 slots: user, roles, session, assertion) when it is not nil, so the
// proxy's hot path allocates no value slices.
func setIdentityInto(h http.Header, ih identityHeaders, id Identity, store []string) {
	if id.User == "" {
		for _, n := range [...]string{ih.user, ih.roles, ih.session, ih.assertion} {
			if n != "" {
				delete(h, n) // canonical names (newIdentityHeaders)
			}
		}
		return
	}
	setHeader(h, ih.user, id.User, store, 0)
	setHeader(h, ih.roles, strings.Join(id.Roles, ","), store, 1)
	setHeader(h, ih.session, id.SessionID, store, 2)
	if ih.assertion != "" {
		setHeader(h, ih.assertion, id.Assertion, store, 3)
	}
}

// setHeader is h.Set(key, v) for a key already in canonical form, without
// canonicalising it again; the value slice is store[i:i+1] when store is not
// nil (no allocation: the caller owns store for the life of h), else a new
// one. The slice's capacity is 1, so an Add appends to a copy.
func setHeader(h http.Header, key, v string, store []string, i int) {
	if store == nil {
		h[key] = []string{v}
		return
	}
	store[i] = v
	h[key] = store[i : i+1 : i+1]
}

// realIPKey is headerXRealIP in canonical form ("X-Real-Ip").
var realIPKey = http.CanonicalHeaderKey(headerXRealIP)

// setForwarded writes the forwarding headers (SPEC §6 step 8) for a request
// from the given record: X-Forwarded-For = the believed chain plus the peer;
// X-Forwarded-Proto and -Host from a trusted peer's values, else from the
// connection; X-Real-IP = the client; Forwarded only as a trusted peer sent it.
// The values are kept in the record (rec.fwValues).
func setForwarded(out http.Header, in *http.Request, rec *record) {
	store := rec.fwValues[:]
	peer := ""
	if rec.peer.IsValid() {
		peer = rec.peer.String()
	}
	switch {
	case len(rec.chain) > 0 && peer != "":
		xff := append(slices.Clip(rec.chain), peer) // Clip: a new array, rec.chain untouched
		setHeader(out, headerXForwardedFor, strings.Join(xff, ", "), store, fwXFF)
	case len(rec.chain) > 0:
		setHeader(out, headerXForwardedFor, strings.Join(rec.chain, ", "), store, fwXFF)
	case peer != "":
		setHeader(out, headerXForwardedFor, peer, store, fwXFF)
	default:
		delete(out, headerXForwardedFor)
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
	setHeader(out, headerXForwardedProt, proto, store, fwProto)
	setHeader(out, headerXForwardedHost, host, store, fwHost)
	switch {
	case rec.client.IsValid() && rec.client == rec.peer:
		setHeader(out, realIPKey, peer, store, fwRealIP) // the usual case: one String for both
	case rec.client.IsValid():
		setHeader(out, realIPKey, rec.client.String(), store, fwRealIP)
	default:
		delete(out, realIPKey)
	}
}
