package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/portcullis-gw/portcullis/sessions"
)

// sessionJSON is one entry of GET <auth_prefix>/sessions and of the admin
// listing (which leaves out current).
type sessionJSON struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	// Device is UserAgent parsed (additive to SPEC §5's fields).
	Device  deviceJSON `json:"device"`
	Current *bool      `json:"current,omitempty"`
	// Provider is the identity provider the session signed in with
	// (SPEC §9), absent for a local sign-in.
	Provider string `json:"provider,omitempty"`
}

type sessionsJSON struct {
	Sessions []sessionJSON `json:"sessions"`
}

// rfc3339 formats times in responses (SPEC §5: RFC 3339, UTC).
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sortByLastUsed orders sessions most recently used first.
func sortByLastUsed(ss []sessions.Session) {
	slices.SortStableFunc(ss, func(a, b sessions.Session) int { return b.LastUsedAt.Compare(a.LastUsedAt) })
}

// sessionList renders ss; current is the caller's session id ("" = admin
// view, no "current" field).
func sessionList(ss []sessions.Session, current string) sessionsJSON {
	sortByLastUsed(ss)
	out := sessionsJSON{Sessions: make([]sessionJSON, 0, len(ss))}
	for _, s := range ss {
		j := sessionJSON{ID: s.ID, CreatedAt: rfc3339(s.CreatedAt), LastUsedAt: rfc3339(s.LastUsedAt), IP: s.IP, UserAgent: s.UserAgent, Device: parseDevice(s.UserAgent), Provider: s.Provider.Name}
		if current != "" {
			c := s.ID == current
			j.Current = &c
		}
		out.Sessions = append(out.Sessions, j)
	}
	return out
}

// listSessions is GET <auth_prefix>/sessions: JSON, or the HTML page for browsers.
func (g *Gateway) listSessions(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	v, err := g.authenticateCaller(r, snap)
	if err != nil {
		return err
	}
	ss, err := g.store.List(r.Context(), v.session.User)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	list := sessionList(ss, v.session.ID)
	if wantsHTML(r) {
		q := r.URL.Query()
		return g.renderSessionsPage(w, snap, v.user.Name, list, snap.redirect.target(q.Get("rd")), q.Has(confirmParam))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// meJSON is GET <auth_prefix>/me.
type meJSON struct {
	User             string   `json:"user"`
	Roles            []string `json:"roles"`
	SessionID        string   `json:"session_id"`
	ExpiresAt        string   `json:"expires_at"`
	SessionExpiresAt string   `json:"session_expires_at"`
}

func (g *Gateway) me(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
	v, err := g.authenticateCaller(r, snap)
	if err != nil {
		return err
	}
	roles := v.user.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, meJSON{
		User: v.user.Name, Roles: roles, SessionID: v.session.ID,
		ExpiresAt: rfc3339(v.claims.ExpiresAt), SessionExpiresAt: rfc3339(v.session.ExpiresAt),
	})
	return nil
}

// deleteSession is DELETE <auth_prefix>/sessions/{id}.
func (g *Gateway) deleteSession(id string) authHandler {
	return func(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
		v, err := g.authenticateCaller(r, snap)
		if err != nil {
			return err
		}
		if err := g.revokeOwnSession(w, r, snap, v, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// revokeSessionForm is POST <auth_prefix>/sessions/{id}/revoke, the sessions
// page's "Sign out": 303 back to the page, keeping its validated rd (to the
// login page saying "signed out" when it was the current session).
func (g *Gateway) revokeSessionForm(id string) authHandler {
	return func(w http.ResponseWriter, r *http.Request, snap *snapshot) error {
		v, err := g.authenticateCaller(r, snap)
		if err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return bodyError(err)
		}
		if err := g.revokeOwnSession(w, r, snap, v, id); err != nil {
			return err
		}
		target := snap.prefix + pathSessions
		if rd := snap.redirect.target(r.PostForm.Get("rd")); rd != "/" {
			target += "?rd=" + url.QueryEscape(rd)
		}
		if id == v.session.ID {
			target = signedOutURL(snap)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
}

// revokeOwnSession revokes one of the caller's sessions: 404 when id is not
// theirs. The current session is a logout: cookies cleared.
func (g *Gateway) revokeOwnSession(w http.ResponseWriter, r *http.Request, snap *snapshot, v verified, id string) error {
	err := g.store.Revoke(r.Context(), v.session.User, id)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return fmt.Errorf("%w: %w", errSessionNotFound, err)
	case err != nil:
		return fmt.Errorf("revoke: %w", err)
	}
	if id == v.session.ID {
		g.metrics.revoke(revokedLogout, 1)
		snap.cookies.clear(w)
	} else {
		g.metrics.revoke(revokedUser, 1)
	}
	return nil
}
