package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// AdminHandler serves the admin listener: /admin/* behind
// "Authorization: Bearer <admin.token>". main starts the listener only when
// admin.token is set; with no token every request is refused anyway.
func (g *Gateway) AdminHandler() http.Handler { return g.adminHandler }

func (g *Gateway) newAdminHandler() http.Handler {
	endpoints := g.adminAPI()
	return chain(g.gatewayEndpoint(func(w http.ResponseWriter, r *http.Request, snap *snapshot) {
		if !g.adminAuthorized(r, snap) {
			g.writeAPIError(w, r, errAdminUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		endpoints.ServeHTTP(w, r)
	}), g.recover, g.requestID, g.observe)
}

// adminAuthorized compares the presented bearer token with admin.token in
// constant time (both sides hashed first, so not even the length leaks).
func (g *Gateway) adminAuthorized(r *http.Request, snap *snapshot) bool {
	want := snap.cfg.Admin.Token.Reveal()
	if want == "" {
		return false
	}
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	a := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
