package gateway

import (
	"net/http"
	"strings"
)

// authHandler is one gateway endpoint. It returns an error for writeError
// (JSON, fixed public code) or writes the response itself.
type authHandler func(w http.ResponseWriter, r *http.Request, a *authSnapshot) error

// Endpoint paths under server.auth_prefix (SPEC §5).
const (
	pathLogin     = "/login"
	pathRefresh   = "/refresh"
	pathLogout    = "/logout"
	pathLogoutAll = "/logout-all"
	pathSessions  = "/sessions"
	pathMe        = "/me"
	pathVerify    = "/verify"
	// pathRevokeSuffix: POST <auth_prefix>/sessions/{id}/revoke is the HTML
	// form equivalent of DELETE <auth_prefix>/sessions/{id} (forms cannot DELETE).
	pathRevokeSuffix = "/revoke"
)

// serveAuthEndpoint serves <auth_prefix>/* and /.well-known/jwks.json. The
// prefix is read from the request's snapshot, so it follows reloads.
func (g *Gateway) serveAuthEndpoint(w http.ResponseWriter, r *http.Request) {
	a := &recordFrom(r.Context()).snap.auth
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == jwksPath {
		g.serveJWKS(w, r, a)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	rest := strings.TrimPrefix(r.URL.Path, a.prefix)
	h, allow := g.authHandlerFor(rest, r.Method)
	if h == nil {
		if allow != "" {
			w.Header().Set("Allow", allow)
			g.writeError(w, r, errMethodNotAllowed)
			return
		}
		g.writeError(w, r, errEndpointNotFound)
		return
	}
	// Every unsafe request to a gateway endpoint, login included, passes the
	// cross-origin check; bearer requests are exempt (a browser never attaches
	// an Authorization header on its own). /verify changes nothing and runs
	// the check itself on the forwarded method and host: the subrequest's own
	// method and Host are the fronting proxy's, not the browser's.
	if !hasBearer(r) && rest != pathVerify {
		if err := checkOrigin(a.origins, r); err != nil {
			g.writeError(w, r, err)
			return
		}
	}
	if err := h(w, r, a); err != nil {
		g.writeError(w, r, err)
	}
}

// authHandlerFor returns the handler for path (relative to auth_prefix) and
// method, or nil and the Allow header value ("" = no such endpoint).
func (g *Gateway) authHandlerFor(path, method string) (authHandler, string) {
	byMethod := func(allow string, hs map[string]authHandler) (authHandler, string) {
		if h, ok := hs[method]; ok {
			return h, ""
		}
		return nil, allow
	}
	switch path {
	case pathLogin:
		return byMethod("GET, HEAD, POST", map[string]authHandler{
			http.MethodGet: g.loginPage, http.MethodHead: g.loginPage, http.MethodPost: g.login})
	case pathRefresh:
		return byMethod("POST", map[string]authHandler{http.MethodPost: g.refresh})
	case pathLogout:
		return byMethod("POST", map[string]authHandler{http.MethodPost: g.logout})
	case pathLogoutAll:
		return byMethod("POST", map[string]authHandler{http.MethodPost: g.logoutAll})
	case pathSessions:
		return byMethod("GET, HEAD", map[string]authHandler{http.MethodGet: g.listSessions, http.MethodHead: g.listSessions})
	case pathMe:
		return byMethod("GET, HEAD", map[string]authHandler{http.MethodGet: g.me, http.MethodHead: g.me})
	case pathVerify:
		// Proxies send their subrequest with various methods; the method that
		// counts is X-Forwarded-Method.
		return g.verify, ""
	}
	if id, ok := strings.CutPrefix(path, pathSessions+"/"); ok && id != "" {
		if id, ok := strings.CutSuffix(id, pathRevokeSuffix); ok && id != "" && !strings.Contains(id, "/") {
			return byMethod("POST", map[string]authHandler{http.MethodPost: g.revokeSessionForm(id)})
		}
		if !strings.Contains(id, "/") {
			return byMethod("DELETE", map[string]authHandler{http.MethodDelete: g.deleteSession(id)})
		}
	}
	return nil, ""
}

// hasBearer reports whether the request carries an Authorization: Bearer header.
func hasBearer(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if isBearerScheme(v) {
			return true
		}
	}
	return false
}

// serveJWKS serves the public verification keys. Not under auth_prefix, and
// cacheable for a short while: relying parties poll it.
func (g *Gateway) serveJWKS(w http.ResponseWriter, r *http.Request, a *authSnapshot) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.writeError(w, r, errMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(a.keys.JWKS())
	}
}
