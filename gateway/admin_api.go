package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis-gw/portcullis/sessions"
)

// adminAPI serves the admin listener's endpoints (SPEC §5), behind the
// admin-token check:
//
//	GET    /admin/users/{user}/sessions       200 {"sessions":[...]} (no "current")
//	DELETE /admin/users/{user}/sessions       204 (also when there were none)
//	DELETE /admin/users/{user}/sessions/{id}  204, 404 when not that user's
func (g *Gateway) adminAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/users/{user}/sessions", g.adminHandle(g.adminList))
	mux.HandleFunc("DELETE /admin/users/{user}/sessions", g.adminHandle(g.adminRevokeAll))
	mux.HandleFunc("DELETE /admin/users/{user}/sessions/{id}", g.adminHandle(g.adminRevokeOne))
	notAllowed := func(allow string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			g.writeAPIError(w, r, errMethodNotAllowed)
		}
	}
	mux.HandleFunc("/admin/users/{user}/sessions", notAllowed("GET, HEAD, DELETE"))
	mux.HandleFunc("/admin/users/{user}/sessions/{id}", notAllowed("DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { g.writeAPIError(w, r, errEndpointNotFound) })
	return mux
}

func (g *Gateway) adminHandle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			g.writeAPIError(w, r, err)
		}
	}
}

// adminUser is the store user the admin API's {user} names: a users-file
// name as is, else the provider account (sessions.ProviderUser) that holds
// that username, else the path value as is (a provider account's store
// user can be given directly too).
func (g *Gateway) adminUser(r *http.Request) (string, error) {
	name := r.PathValue("user")
	if _, local := g.lookupUser(name); local || sessions.IsProviderUser(name) {
		return name, nil
	}
	owner, err := g.store.UsernameOwner(r.Context(), name)
	if err != nil || owner == "" {
		return name, err
	}
	return owner, nil
}

func (g *Gateway) adminList(w http.ResponseWriter, r *http.Request) error {
	user, err := g.adminUser(r)
	if err != nil {
		return fmt.Errorf("admin list: %w", err)
	}
	ss, err := g.store.List(r.Context(), user)
	if err != nil {
		return fmt.Errorf("admin list: %w", err)
	}
	writeJSON(w, http.StatusOK, sessionList(ss, ""))
	return nil
}

func (g *Gateway) adminRevokeAll(w http.ResponseWriter, r *http.Request) error {
	user, err := g.adminUser(r)
	if err != nil {
		return fmt.Errorf("admin revoke user: %w", err)
	}
	ids, err := g.store.RevokeUser(r.Context(), user)
	if err != nil {
		return fmt.Errorf("admin revoke user: %w", err)
	}
	g.metrics.revoke(revokedAdmin, len(ids))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) adminRevokeOne(w http.ResponseWriter, r *http.Request) error {
	user, err := g.adminUser(r)
	if err != nil {
		return fmt.Errorf("admin revoke: %w", err)
	}
	err = g.store.Revoke(r.Context(), user, r.PathValue("id"))
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return fmt.Errorf("%w: %w", errSessionNotFound, err)
	case err != nil:
		return fmt.Errorf("admin revoke: %w", err)
	}
	g.metrics.revoke(revokedAdmin, 1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
