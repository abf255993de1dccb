package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// presentation is how a gateway endpoint shows its errors. Each endpoint
// declares it once, in the dispatch table (authHandlerFor); handlers only say
// what went wrong by returning an error, and respond decides how it is shown.
type presentation int

const (
	// presentJSON: the JSON error body of SPEC §5 (writeError).
	presentJSON presentation = iota
	// presentLoginForm: the login page and form posts get the login form
	// again, with a message; JSON bodies get JSON.
	presentLoginForm
	// presentBrowser: browser requests (form posts, GETs that accept HTML)
	// go to the login page on a 401 and get an HTML error page otherwise;
	// API clients get JSON.
	presentBrowser
	// presentForm: like presentBrowser, for an endpoint only forms use.
	presentForm
	// presentAPI: always the JSON error, never a page (forward-auth: its
	// caller is a proxy, which decides what the browser sees).
	presentAPI
)

// respond writes the error a gateway endpoint's handler returned, in the
// endpoint's presentation.
func (g *Gateway) respond(w http.ResponseWriter, r *http.Request, snap *snapshot, p presentation, err error) {
	switch {
	case p == presentLoginForm && (isPageLoad(r) || isFormPost(r)):
		g.writeLoginForm(w, r, snap, err)
	case p == presentForm, p == presentBrowser && isBrowserRequest(r):
		g.writeBrowserError(w, r, snap, err)
	case p == presentAPI:
		g.writeAPIError(w, r, err)
	default:
		g.writeError(w, r, err)
	}
}

// isPageLoad reports whether r is a GET or HEAD.
func isPageLoad(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// isBrowserRequest reports whether r comes from a browser page: a page load
// that accepts HTML, or a form post.
func isBrowserRequest(r *http.Request) bool {
	if isPageLoad(r) {
		return wantsHTML(r)
	}
	return isFormPost(r)
}

// writeLoginForm shows a failed login as the login form again, with a
// message for err (never its text), the username kept, the password not.
// Failed logins are routine: only 5xx are logged.
func (g *Gateway) writeLoginForm(w http.ResponseWriter, r *http.Request, snap *snapshot, err error) {
	ae := publicError(err)
	if ae.status >= 500 {
		g.logError(r, recordFrom(r.Context()), ae, err)
	}
	ae.setRetryAfter(w.Header())
	v := loginView{RD: snap.redirect.target(r.URL.Query().Get("rd")), Error: loginMessage(ae)}
	var lf *loginFailed
	if errors.As(err, &lf) {
		v.RD, v.Username = snap.redirect.target(lf.rd), lf.username
	}
	g.renderLogin(w, snap, ae.status, v)
}

// writeBrowserError answers a browser page or form: a 401 goes to the login
// page (which refreshes silently and comes back to the sessions page), the
// rest is an HTML error page with the status and Retry-After the JSON answer
// would have had.
func (g *Gateway) writeBrowserError(w http.ResponseWriter, r *http.Request, snap *snapshot, err error) {
	ae := publicError(err)
	if ae.status == http.StatusUnauthorized {
		code := http.StatusSeeOther // after a form post
		if isPageLoad(r) {
			code = http.StatusFound
		}
		http.Redirect(w, r, loginURLFor(snap, snap.prefix+pathSessions), code)
		return
	}
	g.logError(r, recordFrom(r.Context()), ae, err)
	g.writeErrorPage(w, r, snap, ae, err)
}

// errorBody is the JSON error shape of SPEC §5.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeError is the one function that turns an error into a response; it is
// also the ReverseProxy ErrorHandler (via proxyError). A 401 to a browser
// navigation on a proxied route becomes a 302 to the login page; gateway
// endpoints (rec.route == nil, e.g. /auth/verify) never redirect. A browser
// navigation answered with one of the statuses of hasErrorPage gets the HTML
// error page (SPEC §5), on gateway endpoints and proxied routes alike.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := publicError(err)
	rec := recordFrom(r.Context())
	g.logError(r, rec, ae, err)

	w.Header().Set("Cache-Control", "no-store")
	switch {
	case ae.status == http.StatusUnauthorized && rec != nil && rec.route != nil && isNavigation(r):
		http.Redirect(w, r, g.loginURL(rec, r), http.StatusFound)
	case rec != nil && rec.snap != nil && hasErrorPage(ae.status) && isNavigation(r):
		g.writeErrorPage(w, r, rec.snap, ae, err)
	default:
		writeErrorJSON(w, ae)
	}
}

// writeAPIError answers err as JSON whatever the client accepts: for the
// admin listener and forward-auth, whose callers are programs (a fronting
// proxy decides what the browser sees).
func (g *Gateway) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	ae := publicError(err)
	g.logError(r, recordFrom(r.Context()), ae, err)
	w.Header().Set("Cache-Control", "no-store")
	writeErrorJSON(w, ae)
}

// writeErrorJSON writes ae as the JSON error body of SPEC §5.
func writeErrorJSON(w http.ResponseWriter, ae *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if ae.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", ae.authenticate())
	}
	ae.setRetryAfter(h)
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: ae.code, Description: ae.description})
}

// logError logs an error once, where it is handled: 5xx at Error, 4xx at Debug.
func (g *Gateway) logError(r *http.Request, rec *record, ae *apiError, err error) {
	level := slog.LevelDebug
	if ae.status >= 500 {
		level = slog.LevelError
	}
	if !g.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{slog.Int("status", ae.status), slog.String("error", err.Error())}
	if rec != nil {
		attrs = append(attrs, slog.String("request_id", rec.id), slog.String("route", rec.routeLabel))
	}
	g.log.LogAttrs(r.Context(), level, "request failed", attrs...)
}

// isNavigation reports whether r looks like a browser page load (SPEC §6).
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.Header.Get("Sec-Fetch-Mode") == "navigate" || wantsHTML(r)
}

// loginURL is <auth_prefix>/login?rd=<path+query>, with the normalised path
// the request was matched on (the login page validates rd again).
func (g *Gateway) loginURL(rec *record, r *http.Request) string {
	rd := rec.escaped
	if rd == "" {
		rd = "/"
	}
	if r.URL.RawQuery != "" {
		rd += "?" + r.URL.RawQuery
	}
	return loginURLFor(rec.snap, rd)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Request content types the auth endpoints accept.
const (
	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
)

// isFormPost reports whether r carries an HTML form body.
func isFormPost(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == mediaForm
}

// wantsHTML reports whether the client asked for HTML (a browser).
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/html") {
			return true
		}
	}
	return false
}

// loginURLFor is the login page that returns to rd after signing in.
func loginURLFor(snap *snapshot, rd string) string {
	return snap.prefix + pathLogin + "?rd=" + url.QueryEscape(rd)
}
