package gateway

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"
)

var sessionsTmpl = template.Must(template.ParseFS(templateFS, "templates/sessions.html"))

// confirmParam is the sessions page's query flag (?confirm_all=1) asking to
// confirm "Sign out everywhere": the second step, without JavaScript.
const confirmParam = "confirm_all"

// sessionView is one device of the sessions page.
type sessionView struct {
	sessionJSON
	IsCurrent bool
	// Name is the device in words; LastActive and SignedIn are relative
	// times ("3 minutes ago"), the exact ones being LastUsedAt and CreatedAt
	// (machine-readable, in <time datetime>) and LastUsedExact and
	// CreatedExact (for people, on hover).
	Name, LastActive, SignedIn  string
	LastUsedExact, CreatedExact string
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
	// Confirm shows the "Sign out everywhere" confirmation.
	Confirm bool
}

// renderSessionsPage is the HTML form of GET <auth_prefix>/sessions: the
// current device first, then the others most recently used first; a "Sign
// out" form per device (POST .../sessions/{id}/revoke) and "Sign out
// everywhere" (a GET to ?confirm_all=1, whose page POSTs .../logout-all).
// The forms carry no token: the cross-origin check protects them.
func (g *Gateway) renderSessionsPage(w http.ResponseWriter, snap *snapshot, user string, list sessionsJSON, back string, confirm bool) error {
	v := sessionsView{Style: snap.brand.style, Brand: snap.brand, Prefix: snap.prefix, User: user, Back: back, Confirm: confirm}
	now := g.now()
	for _, s := range list.Sessions {
		v.Sessions = append(v.Sessions, sessionView{sessionJSON: s, IsCurrent: s.Current != nil && *s.Current,
			Name: s.Device.name, LastActive: agoRFC3339(now, s.LastUsedAt), SignedIn: agoRFC3339(now, s.CreatedAt),
			LastUsedExact: exactRFC3339(s.LastUsedAt), CreatedExact: exactRFC3339(s.CreatedAt)})
	}
	// Stable: the others keep their most-recently-used order.
	slices.SortStableFunc(v.Sessions, func(a, b sessionView) int {
		switch {
		case a.IsCurrent == b.IsCurrent:
			return 0
		case a.IsCurrent:
			return -1
		}
		return 1
	})
	if err := writePage(w, snap, http.StatusOK, sessionsTmpl, v); err != nil {
		return fmt.Errorf("render sessions page: %w", err)
	}
	return nil
}

// agoRFC3339 is ago for a time as the API writes it.
func agoRFC3339(now time.Time, s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return ago(now, t)
}

// exactRFC3339 is a time as the API writes it, for people: "2 Dec 2026,
// 06:43 UTC" (the pages run no script, so they cannot know the reader's zone).
func exactRFC3339(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2 Jan 2006, 15:04 MST")
}
