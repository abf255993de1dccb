package gateway

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
)

var errorPageTmpl = template.Must(template.ParseFS(templateFS, "templates/error.html"))

// hasErrorPage reports whether a browser navigation answered with status
// gets the HTML error page instead of JSON (SPEC §5).
func hasErrorPage(status int) bool {
	switch status {
	case http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return false
}

// deniedRole is a missing role: errForbidden, and who was refused, so that
// the error page can say whom the browser is signed in as.
type deniedRole struct{ user string }

func (e *deniedRole) Error() string {
	return errForbidden.Error() + " (user " + strconv.Quote(e.user) + ")"
}
func (e *deniedRole) Unwrap() error { return errForbidden }

// errorView is the error page's data. The page offers its actions as forms
// (POST <auth_prefix>/logout): a link to the login page would come straight
// back here, since the login page signs a browser with a working refresh
// cookie in silently.
type errorView struct {
	Style          template.CSS
	Brand          *branding
	Title, Message string
	// User is the signed-in user refused for a missing role ("" = none).
	User string
	// Logout is the form action signing out; SwitchRD its rd for "sign in
	// as someone else" (the login page, back to this page), SignedOutRD the
	// rd for "sign out" (the login page saying so).
	Logout, SwitchRD, SignedOutRD string
	Back, BackLabel               string
}

// writeErrorPage writes ae as the styled HTML error page with the status and
// Retry-After the JSON answer would have had. err names the refused user of
// a missing role.
func (g *Gateway) writeErrorPage(w http.ResponseWriter, r *http.Request, snap *snapshot, ae *apiError, err error) {
	ae.setRetryAfter(w.Header())
	v := errorView{Style: snap.brand.style, Brand: snap.brand, Title: http.StatusText(ae.status), Message: errorMessage(ae, err),
		Back: "/", BackLabel: "Go to the home page"}
	if isFormPost(r) {
		v.Back, v.BackLabel = snap.prefix+pathSessions, "Back to your sessions"
	}
	var pf *providerFailed
	if errors.As(err, &pf) && pf.restart != "" {
		v.Back, v.BackLabel = pf.restart, "Start again"
	}
	var dr *deniedRole
	if errors.As(err, &dr) && dr.user != "" {
		v.User = dr.user
		v.Logout = snap.prefix + pathLogout
		here := loginURLFor(snap, "/")
		if rec := recordFrom(r.Context()); rec != nil && rec.route != nil {
			here = g.loginURL(rec, r)
		}
		v.SwitchRD, v.SignedOutRD = here, signedOutURL(snap)
	}
	if err := writePage(w, snap, ae.status, errorPageTmpl, v); err != nil {
		g.log.Error("render error page", "error", err)
		writeErrorJSON(w, errInternal)
	}
}

// errorMessage is the error page's sentence for ae: fixed texts, never the
// error's own (which may carry internals).
func errorMessage(ae *apiError, err error) string {
	retry := ""
	if ae.retryAfter > 0 {
		retry = " Please try again in " + plural(ae.retryAfter, "second") + "."
	}
	if msg := providerMessage(err); msg != "" {
		return msg + retry
	}
	switch {
	case ae.code == errCrossOrigin.code:
		return "This request came from another site and was refused."
	case errors.Is(err, errSessionNotFound):
		return "That session no longer exists."
	case errors.Is(err, errForbidden):
		return "Your account does not have access to this page."
	case ae.status == http.StatusForbidden:
		return "This request was refused."
	case ae.status == http.StatusNotFound:
		return "There is no page at this address."
	case ae.status == http.StatusMethodNotAllowed:
		return "This address cannot be opened like this: it is used by forms and programs, not as a page."
	case ae.status == http.StatusTooManyRequests:
		if retry == "" {
			retry = " Please wait a few minutes and try again."
		}
		return "Too many requests." + retry
	case ae.status == http.StatusServiceUnavailable:
		if retry == "" {
			retry = " Please try again in a moment."
		}
		return "The service is temporarily unavailable." + retry
	}
	return "The request could not be completed."
}

// plural is "1 second", "5 seconds".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
