package gateway

import (
	"fmt"
	"html/template"
	"net/http"
)

var sessionsTmpl = template.Must(template.ParseFS(templateFS, "templates/sessions.html"))

// sessionView is one row of the sessions page.
type sessionView struct {
	sessionJSON
	IsCurrent bool
}

type sessionsView struct {
	Style    template.CSS
	Brand    *branding
	Prefix   string
	User     string
	Sessions []sessionView
	// Back is where the user came from: the page's rd, validated like the
	// login page's, else "/".
	Back string
}

// renderSessionsPage is the HTML form of GET <auth_prefix>/sessions: one
// "sign out this device" form per session (POST .../sessions/{id}/revoke) and
// one "sign out everywhere" (POST .../logout-all). The forms carry no token:
// the cross-origin check protects them.
func (g *Gateway) renderSessionsPage(w http.ResponseWriter, snap *snapshot, user string, list sessionsJSON, back string) error {
	v := sessionsView{Style: snap.brand.style, Brand: snap.brand, Prefix: snap.prefix, User: user, Back: back}
	for _, s := range list.Sessions {
		v.Sessions = append(v.Sessions, sessionView{sessionJSON: s, IsCurrent: s.Current != nil && *s.Current})
	}
	if err := writePage(w, snap, http.StatusOK, sessionsTmpl, v); err != nil {
		return fmt.Errorf("render sessions page: %w", err)
	}
	return nil
}
