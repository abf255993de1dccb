package gateway

import (
	"net/http"
	"strings"
	"time"
)

// Forward-auth request headers (nginx auth_request, Traefik ForwardAuth,
// Caddy forward_auth).
const (
	headerForwardedURI    = "X-Forwarded-Uri"
	headerOriginalURI     = "X-Original-Uri"
	headerForwardedMethod = "X-Forwarded-Method"
)

// verify is GET <auth_prefix>/verify (SPEC §5): the fronting proxy asks
// whether the original request may pass; 200 carries every identity header.
func (g *Gateway) verify(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	start := g.now()
	// Only a trusted proxy may describe the original request; anyone else
	// could claim any URI and probe the route table.
	if !trustedAddr(snap.trusted, peerAddr(r.RemoteAddr)) {
		return g.verifyDeny(start, errVerifyRefused)
	}
	orig, ok := forwardedRequest(r, snap.routes.fold)
	if !ok {
		return g.verifyDeny(start, errVerifyRefused)
	}
	noteForwarded(r, orig)
	rt := snap.routes.match(orig.Host, orig.URL.Path, orig.Method)
	if rt == nil {
		return g.verifyDeny(start, errVerifyRefused)
	}
	// Every match needs a valid session whatever its auth: public paths
	// belong in the fronting proxy's config.
	v, err := g.checkAccess(r, orig, snap, rt)
	if err != nil {
		if publicError(err).status == http.StatusUnauthorized {
			setVerifyLogin(w.Header(), r, orig, snap)
		}
		return g.verifyDeny(start, err)
	}
	id, err := g.identityFor(snap, rt.name, v)
	if err != nil {
		// The credential passed; only signing the assertion failed.
		g.metrics.decide(decisionDeny, reasonOK, start, g.now())
		return err
	}
	setIdentity(w.Header(), snap.identity, id) // the same headers a proxied request carries
	g.metrics.decide(decisionAllow, reasonOK, start, g.now())
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) verifyDeny(start time.Time, err error) error {
	g.metrics.decide(decisionDeny, reasonOf(err), start, g.now())
	return err
}

// forwardedRequest rebuilds the original request from the forward-auth
// headers: exactly one of X-Forwarded-Uri / X-Original-URI, normalised like
// a proxied path (SPEC §6 step 3); host from X-Forwarded-Host, which must
// obey the Host grammar (SPEC §3: a malformed one is refused, like an
// unparseable URI, rather than matched as no host at all); method from
// X-Forwarded-Method. The clone keeps the inbound headers (Cookie, Origin,
// Sec-Fetch-Site) for the cross-origin check.
func forwardedRequest(r *http.Request, fold bool) (*http.Request, bool) {
	fu, ou := r.Header.Values(headerForwardedURI), r.Header.Values(headerOriginalURI)
	var uri string
	switch {
	case len(fu) == 1 && len(ou) == 0:
		uri = fu[0]
	case len(ou) == 1 && len(fu) == 0:
		uri = ou[0]
	default:
		return nil, false
	}
	raw, query, _ := strings.Cut(uri, "?")
	if !strings.HasPrefix(raw, "/") || hasControl(uri) {
		return nil, false
	}
	path, _, err := normalizePath(raw, fold)
	if err != nil {
		return nil, false
	}
	host := r.Host
	if hs := r.Header.Values(headerXForwardedHost); len(hs) == 1 && hs[0] != "" {
		host = hs[0]
	} else if len(hs) > 1 {
		return nil, false
	}
	if _, ok := parseHost(host); !ok {
		return nil, false
	}
	method := http.MethodGet
	if ms := r.Header.Values(headerForwardedMethod); len(ms) == 1 && ms[0] != "" {
		method = strings.ToUpper(ms[0])
	} else if len(ms) > 1 {
		return nil, false
	}
	orig := r.Clone(r.Context())
	orig.Method = method
	orig.Host = host
	orig.URL.Path, orig.URL.RawPath = path, ""
	// Kept for the login URL only: matching uses Path, never the query.
	orig.URL.RawQuery = query
	return orig, true
}

// setVerifyLogin adds Location to a 401 for a browser navigation (SPEC §5):
// the login page on the forwarded host and scheme, returning to the original
// path and query, so nginx and Caddy can redirect with it. The status stays
// 401. No Location when the scheme or host cannot be named safely.
func setVerifyLogin(h http.Header, r, orig *http.Request, snap *snapshot) {
	if orig.Method != http.MethodGet && orig.Method != http.MethodHead || !wantsHTML(orig) {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if ps := r.Header.Values(headerXForwardedProt); len(ps) > 1 {
		return
	} else if len(ps) == 1 {
		// Only http or https: any other value would send the browser to
		// a scheme of the client's choosing (javascript:, a custom app).
		scheme = strings.ToLower(strings.TrimSpace(ps[0]))
	}
	if scheme != "http" && scheme != "https" || orig.Host == "" {
		return
	}
	// The normalised path, re-escaped once (never "//x": runs of "/" are
	// collapsed), so rd is relative and the login page needs no allow-list.
	rd := escapePath(orig.URL.Path)
	if orig.URL.RawQuery != "" {
		rd += "?" + orig.URL.RawQuery
	}
	h.Set("Location", scheme+"://"+orig.Host+loginURLFor(snap, rd))
}
