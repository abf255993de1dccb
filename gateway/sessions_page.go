package gateway

import (
	"bytes"
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
	Prefix   string
	User     string
	Sessions []sessionView
}

// renderSessionsPage is the HTML form of GET <auth_prefix>/sessions: one
// "sign out this device" form per session (POST .../sessions/{id}/revoke) and
// one "sign out everywhere" (POST .../logout-all). The forms carry no token:
// the cross-origin check protects them.
func (g *Gateway) renderSessionsPage(w http.ResponseWriter, a *authSnapshot, user string, list sessionsJSON) error {
	v := sessionsView{Style: pageStyle, Prefix: a.prefix, User: user}
	for _, s := range list.Sessions {
		v.Sessions = append(v.Sessions, sessionView{sessionJSON: s, IsCurrent: s.Current != nil && *s.Current})
	}
	var buf bytes.Buffer
	if err := sessionsTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("render sessions page: %w", err)
	}
	writePage(w, http.StatusOK, buf.Bytes())
	return nil
}
